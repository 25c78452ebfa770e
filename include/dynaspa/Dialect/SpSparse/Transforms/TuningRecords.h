//===- TuningRecords.h - tuning results a compile can reuse -----*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A tuning-record file (docs/tuning/records.md) holds, per operator
// signature, the measurements a tuner made (candidates x masks, resumable)
// and the PolyKernel variants it chose. spsparse-outline-polykernels reads
// the chosen variants from it; a tuner computes signatures with the same
// getOpSignature so that records and ops match exactly.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_TUNINGRECORDS_H
#define DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_TUNINGRECORDS_H

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

#include "llvm/Support/JSON.h"

namespace mlir::spsparse {

/// The identity of a masked op for tuning: its name, operand and result
/// types (MLIR syntax) and, for a convolution, strides, dilations, padding
/// and layout. Two ops with equal signatures compile to the same kernels.
llvm::json::Object getOpSignature(Operation *op);

/// One chosen variant as the file gives it; checked against an op only when
/// one matches (toVariant).
struct RecordedVariant {
  SmallVector<int64_t> granularity;
  /// The schedule knobs as `#spsparse.schedule` parameter text
  /// ("channel_block = 64, double_buffer = true"), built from the JSON object.
  std::string schedule;
  std::optional<std::pair<int64_t, int64_t>> tiles;
  /// `"cover": {"of": [..], "over": [..], "percent": [lo, hi]}`, the fields
  /// of a #spsparse.cover.
  struct Cover {
    SmallVector<int64_t, 2> of, over;
    int64_t minPercent, maxPercent;
  };
  std::optional<Cover> cover;
  std::string where; ///< JSON path, for diagnostics.
};

struct OperatorRecord {
  llvm::json::Value signature = nullptr;
  std::vector<RecordedVariant> variants;
  std::string where;
};

/// The operators of one file that have chosen variants.
class TuningRecords {
public:
  /// Reads and checks `path`'s structure; the error names the file and the
  /// JSON path of the first problem.
  static FailureOr<TuningRecords> load(StringRef path, std::string &error);

  /// The record whose signature equals `op`'s, if any.
  const OperatorRecord *lookup(Operation *op) const;

  StringRef getPath() const { return path; }

private:
  std::string path;
  std::vector<OperatorRecord> records;
};

/// The attributes of one polykernel variant (spsparse.polykernel.variant);
/// `tiles` and `cover` may be null.
struct VariantAttrs {
  GranularityAttr granularity;
  ScheduleAttr schedule;
  DenseI64ArrayAttr tiles;
  CoverAttr cover;
};

/// `v` as the attributes of a polykernel variant of `op`, or failure with an
/// error on `op` (and a note naming the record) when it does not fit the op:
/// a granularity of the wrong rank, a schedule that does not parse, an
/// invalid cover.
FailureOr<VariantAttrs> toVariant(Operation *op, const TuningRecords &file,
                                  const RecordedVariant &v);

} // namespace mlir::spsparse

#endif // DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_TUNINGRECORDS_H
