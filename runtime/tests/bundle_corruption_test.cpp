//===- bundle_corruption_test.cpp - damaged bundles never crash -----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The runtime must reject a truncated or corrupted bundle with an error and
// never crash (DESIGN.md §3). These tests damage a valid bundle at every
// byte offset -- the header (root offset, identifier), the vtables and
// tables, and the kernel blob -- and at every truncation length, then run
// the verifier and, for damage it lets through, the C API's queries over the
// bundle. Run them under -DDYNASPA_RUNTIME_SANITIZE=ON: "no crash" includes
// "no silent out-of-bounds read".
//
//===----------------------------------------------------------------------===//

#include "test_bundles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace dynaspa::runtime::testing {
namespace {

/// Verifies `bytes` from fresh 8-byte aligned storage of exactly their size
/// (so ASan sees any read past the end) and, when the verifier accepts them,
/// walks everything the executor would read.
Status verifyAndWalk(const std::vector<uint8_t> &bytes) {
  // operator new[] returns memory aligned for any scalar (16 bytes with
  // glibc and ASan), and exactly sized, so the sanitizer sees overreads.
  std::unique_ptr<uint8_t[]> storage(new uint8_t[bytes.size() + !bytes.size()]);
  if (!bytes.empty())
    std::memcpy(storage.get(), bytes.data(), bytes.size());
  const fb::Bundle *root = nullptr;
  Status s = verifyBundle(storage.get(), bytes.size(), &root);
  if (!s)
    return s;
  // Touch what the executor relies on (null-checked exactly where the
  // executor checks); ASan flags any bad access.
  size_t touched = 0;
  if (root->modules())
    for (const fb::Module *m : *root->modules())
      for (const fb::Binary *b : *m->binaries())
        touched += b->data()->size() + (b->chip() ? b->chip()->size() : 0);
  auto walkLaunch = [&](const fb::Launch *l, const fb::Operator *op) {
    touched += root->modules()->Get(l->module_())->binaries()->size() +
               l->kernel()->size() + l->grid()->size() + l->block()->size();
    if (l->args())
      for (const fb::Arg *a : *l->args())
        if (a->kind() == fb::ArgKind::Buffer)
          touched += op->buffers()->Get(a->buffer())->shape()->size();
  };
  for (const fb::Operator *op : *root->operators()) {
    touched += op->name()->size();
    for (const fb::Tensor *t : *op->buffers())
      for (int64_t d : *t->shape())
        touched += static_cast<size_t>(d != 0);
    for (uint32_t i : *op->inputs())
      touched += op->buffers()->Get(i)->shape()->size();
    for (uint32_t i : *op->outputs())
      touched += op->buffers()->Get(i)->shape()->size();
    if (op->zero_fill())
      for (uint32_t i : *op->zero_fill())
        touched += op->buffers()->Get(i)->shape()->size();
    if (op->prologue())
      for (const fb::Launch *l : *op->prologue())
        walkLaunch(l, op);
    for (const fb::Variant *v : *op->variants()) {
      if (v->count_buffer())
        touched += op->buffers()->Get(*v->count_buffer())->shape()->size();
      if (v->launches())
        for (const fb::Launch *l : *v->launches())
          walkLaunch(l, op);
    }
  }
  EXPECT_GT(touched, 0u);
  return s;
}

class Corruption : public ::testing::Test {
protected:
  void SetUp() override {
    bytes_ = serializeBundle(makeDefaultBundle());
    ASSERT_TRUE(verifyAndWalk(bytes_));
    // Where the OpenCL C source sits in the buffer, to tell blob damage
    // (harmless to the verifier) from structural damage.
    std::vector<uint8_t> source = maskedBmmSource();
    ASSERT_FALSE(source.empty());
    auto it =
        std::search(bytes_.begin(), bytes_.end(), source.begin(), source.end());
    ASSERT_NE(it, bytes_.end());
    blobBegin_ = static_cast<size_t>(it - bytes_.begin());
    blobEnd_ = blobBegin_ + source.size();
  }

  std::vector<uint8_t> bytes_;
  size_t blobBegin_ = 0, blobEnd_ = 0;
};

TEST_F(Corruption, TruncationAtEveryLengthIsRejected) {
  // FlatBuffers cannot tell a buffer from one that lost only its trailing
  // alignment padding: nothing references those bytes, so such a bundle is
  // complete and may be accepted. Any other truncation must be rejected.
  size_t padding = 0;
  while (padding < bytes_.size() && bytes_[bytes_.size() - 1 - padding] == 0)
    ++padding;
  for (size_t len = 0; len < bytes_.size(); ++len) {
    std::vector<uint8_t> cut(bytes_.begin(), bytes_.begin() + len);
    Status s = verifyAndWalk(cut);
    if (s) {
      EXPECT_GE(len, bytes_.size() - std::min<size_t>(padding, 7))
          << "accepted a bundle truncated to " << len << " of " << bytes_.size()
          << " bytes";
    } else {
      EXPECT_EQ(s.code(), DYNASPA_BAD_BUNDLE) << len;
    }
  }
}

TEST_F(Corruption, HeaderDamageIsRejected) {
  // Bytes 0-3: root offset; 4-7: the "DSPB" identifier.
  for (size_t i = 0; i < 8; ++i) {
    for (uint8_t mask : {0x01, 0x10, 0x80, 0xff}) {
      std::vector<uint8_t> bad = bytes_;
      bad[i] ^= mask;
      Status s = verifyAndWalk(bad);
      // A root offset still pointing at a verifiable table is vanishingly
      // unlikely here; everything else must fail.
      EXPECT_FALSE(s) << "byte " << i << " ^ " << int(mask);
    }
  }
}

TEST_F(Corruption, BitFlipsAtEveryOffsetNeverCrash) {
  size_t rejected = 0, accepted = 0;
  for (size_t i = 0; i < bytes_.size(); ++i) {
    for (uint8_t mask : {0x01, 0x04, 0x20, 0x80, 0xff}) {
      std::vector<uint8_t> bad = bytes_;
      bad[i] ^= mask;
      Status s = verifyAndWalk(bad);
      if (s) {
        ++accepted;
      } else {
        ++rejected;
        EXPECT_TRUE(s.code() == DYNASPA_BAD_BUNDLE ||
                    s.code() == DYNASPA_VERSION_MISMATCH)
            << "offset " << i << ": " << s.message();
      }
    }
  }
  // Most damage outside the kernel blob is structural and must be caught
  // (flips inside it are accepted, so the blob's size is left out).
  EXPECT_GT(rejected, bytes_.size() - (blobEnd_ - blobBegin_));
  RecordProperty("accepted", static_cast<int>(accepted));
}

TEST_F(Corruption, KernelBlobDamageIsStructurallyHarmless) {
  // Damage inside the blob changes the kernel, not the bundle's structure:
  // the verifier accepts it and the device compiler will report the error.
  for (size_t i = blobBegin_; i < blobEnd_; i += 7) {
    std::vector<uint8_t> bad = bytes_;
    bad[i] ^= 0xff;
    EXPECT_TRUE(verifyAndWalk(bad)) << "offset " << i;
  }
}

TEST_F(Corruption, ExtremeValuesAtEveryWordNeverCrash) {
  // Overwrite each aligned 32-bit word (offsets, lengths, indices) with
  // values chosen to overflow or point outside the buffer.
  for (size_t i = 0; i + 4 <= bytes_.size(); i += 4) {
    for (uint32_t v : {0u, 1u, 0x7fffffffu, 0x80000000u, 0xffffffffu,
                       static_cast<uint32_t>(bytes_.size())}) {
      std::vector<uint8_t> bad = bytes_;
      std::memcpy(&bad[i], &v, 4);
      Status s = verifyAndWalk(bad);
      if (!s) {
        EXPECT_TRUE(s.code() == DYNASPA_BAD_BUNDLE ||
                    s.code() == DYNASPA_VERSION_MISMATCH)
            << s.message();
      }
    }
  }
}

TEST_F(Corruption, GarbageIsRejected) {
  // A deterministic xorshift stream, with and without a valid identifier.
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> garbage(8 + round % 512);
    for (uint8_t &byte : garbage) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      byte = static_cast<uint8_t>(state);
    }
    if (round % 2)
      std::memcpy(&garbage[4], "DSPB", 4);
    EXPECT_FALSE(verifyAndWalk(garbage)) << "round " << round;
  }
}

} // namespace
} // namespace dynaspa::runtime::testing
