//===- TuningRecords.cpp - reading tuning-record files --------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Only what compiling needs is read and checked here: each operator's
// signature and chosen variants. The measurement sections ("masks",
// "candidates") belong to the tuner; their keys are allowed and skipped, so
// a file can grow while a tuner resumes.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/Transforms/TuningRecords.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace mlir::spsparse;
namespace json = llvm::json;

/// The format this reader understands (docs/tuning/records.md).
static constexpr StringLiteral kFormat = "dynaspa-tuning-records";
static constexpr int64_t kVersion = 1;

static std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

json::Object mlir::spsparse::getOpSignature(Operation *op) {
  json::Array operands, results;
  for (Type t : op->getOperandTypes())
    operands.push_back(typeString(t));
  for (Type t : op->getResultTypes())
    results.push_back(typeString(t));
  json::Object sig{{"op", op->getName().getStringRef()},
                   {"operands", std::move(operands)},
                   {"results", std::move(results)}};
  if (auto conv = dyn_cast<MaskedConv2DOp>(op)) {
    auto ints = [](ArrayRef<int64_t> v) { return json::Array(v); };
    sig["strides"] = ints(conv.getStrides());
    sig["dilations"] = ints(conv.getDilations());
    sig["padding"] = ints(conv.getPadding());
    sig["layout"] = stringifyLayout(conv.getLayout());
  }
  return sig;
}

namespace {
/// Reads one file; `fail` keeps the first problem with its JSON path.
class Reader {
public:
  bool fail(const std::string &where, const Twine &message) {
    if (error.empty())
      error = (where.empty() ? "" : where + ": ") + message.str();
    return false;
  }

  bool readVariant(const json::Value &value, const std::string &where,
                   RecordedVariant &v) {
    v.where = where;
    const json::Object *o = value.getAsObject();
    if (!o)
      return fail(where, "expected an object");
    for (const auto &[key, _] : *o)
      if (key != "granularity" && key != "schedule" && key != "tiles" &&
          key != "cover" && key != "candidate")
        return fail(where, "unknown key '" + key.str() +
                               "' (expected granularity, schedule, tiles, "
                               "cover, candidate)");
    const json::Array *g = o->getArray("granularity");
    if (!g || g->empty())
      return fail(where, "'granularity' must be a non-empty array of "
                         "positive integers");
    for (const json::Value &s : *g) {
      std::optional<int64_t> i = s.getAsInteger();
      if (!i || *i <= 0)
        return fail(where, "'granularity' must be a non-empty array of "
                           "positive integers");
      v.granularity.push_back(*i);
    }
    if (const json::Value *s = o->get("schedule")) {
      const json::Object *knobs = s->getAsObject();
      if (!knobs)
        return fail(where, "'schedule' must be an object of knobs");
      // Sorted, so that equal schedules give equal text.
      SmallVector<std::string> items;
      for (const auto &[key, knob] : *knobs) {
        if (std::optional<int64_t> i = knob.getAsInteger())
          items.push_back(key.str() + " = " + std::to_string(*i));
        else if (std::optional<bool> b = knob.getAsBoolean())
          items.push_back(key.str() + " = " + (*b ? "true" : "false"));
        else
          return fail(where, "schedule knob '" + key.str() +
                                 "' must be an integer or a boolean");
      }
      llvm::sort(items);
      v.schedule = llvm::join(items, ", ");
    }
    if (const json::Value *t = o->get("tiles")) {
      const json::Array *a = t->getAsArray();
      std::optional<int64_t> lo, hi;
      if (a && a->size() == 2) {
        lo = (*a)[0].getAsInteger();
        hi = (*a)[1].getAsInteger();
      }
      if (!lo || !hi || *lo < 0 || *hi < *lo)
        return fail(where, "'tiles' must be [lo, hi] with 0 <= lo <= hi");
      v.tiles = {*lo, *hi};
    }
    if (const json::Value *c = o->get("cover")) {
      // The ranges are checked where the #spsparse.cover is built
      // (toVariant); here only the JSON's shape.
      const json::Object *co = c->getAsObject();
      RecordedVariant::Cover cover;
      auto ints = [&](StringRef key, SmallVectorImpl<int64_t> &out) {
        const json::Array *a = co ? co->getArray(key) : nullptr;
        if (!a)
          return false;
        for (const json::Value &e : *a) {
          std::optional<int64_t> i = e.getAsInteger();
          if (!i)
            return false;
          out.push_back(*i);
        }
        return true;
      };
      SmallVector<int64_t> percent;
      if (!ints("of", cover.of) || !ints("over", cover.over) ||
          !ints("percent", percent) || percent.size() != 2 || co->size() != 3)
        return fail(where, "'cover' must be {\"of\": [sizes], \"over\": "
                           "[sizes], \"percent\": [lo, hi]}");
      cover.minPercent = percent[0];
      cover.maxPercent = percent[1];
      v.cover = std::move(cover);
    }
    return true;
  }

  bool readOperator(const json::Value &value, const std::string &where,
                    std::vector<OperatorRecord> &out) {
    const json::Object *o = value.getAsObject();
    if (!o)
      return fail(where, "expected an object");
    const json::Object *sig = o->getObject("signature");
    if (!sig || !sig->getString("op") || !sig->getArray("operands") ||
        !sig->getArray("results"))
      return fail(where + ".signature",
                  "expected an object with 'op', 'operands' and 'results'");
    const json::Value *variants = o->get("variants");
    // An operator still being tuned has measurements but no choice yet.
    if (!variants)
      return true;
    const json::Array *a = variants->getAsArray();
    if (!a || a->empty())
      return fail(where + ".variants", "expected a non-empty array");
    OperatorRecord rec;
    rec.signature = json::Object(*sig);
    rec.where = where;
    for (auto [i, v] : llvm::enumerate(*a)) {
      std::string at = where + ".variants[" + std::to_string(i) + "]";
      if (!readVariant(v, at, rec.variants.emplace_back()))
        return false;
      bool last = i + 1 == a->size();
      const RecordedVariant &rv = rec.variants.back();
      if (!last && !rv.tiles && !rv.cover)
        return fail(at, "every variant but the last needs a 'tiles' range "
                        "or a 'cover'");
      if (last && (rv.tiles || rv.cover))
        return fail(at, "the last variant is the fallback and takes no "
                        "'tiles' or 'cover'");
    }
    for (const OperatorRecord &other : out)
      if (other.signature == rec.signature)
        return fail(where, "has the same signature as " + other.where);
    out.push_back(std::move(rec));
    return true;
  }

  std::string error;
};
} // namespace

FailureOr<TuningRecords> TuningRecords::load(StringRef path,
                                             std::string &error) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) {
    error = ("cannot read tuning records '" + path +
             "': " + buffer.getError().message())
                .str();
    return failure();
  }
  llvm::Expected<json::Value> root = json::parse((*buffer)->getBuffer());
  if (!root) {
    error = (path + ": " + llvm::toString(root.takeError())).str();
    return failure();
  }
  Reader r;
  TuningRecords file;
  file.path = path.str();
  const json::Object *o = root->getAsObject();
  if (!o) {
    r.fail("", "expected an object");
  } else if (o->getString("format") != kFormat) {
    r.fail("format", "expected \"" + kFormat + "\"");
  } else if (o->getInteger("version") != kVersion) {
    r.fail("version", "expected " + Twine(kVersion));
  } else if (const json::Array *ops = o->getArray("operators")) {
    for (auto [i, op] : llvm::enumerate(*ops))
      if (!r.readOperator(op, "operators[" + std::to_string(i) + "]",
                          file.records))
        break;
  } else {
    r.fail("operators", "expected an array");
  }
  if (!r.error.empty()) {
    error = (path + ": " + r.error).str();
    return failure();
  }
  return file;
}

const OperatorRecord *TuningRecords::lookup(Operation *op) const {
  json::Value sig = getOpSignature(op);
  for (const OperatorRecord &r : records)
    if (r.signature == sig)
      return &r;
  return nullptr;
}

FailureOr<VariantAttrs> mlir::spsparse::toVariant(Operation *op,
                                                  const TuningRecords &file,
                                                  const RecordedVariant &v) {
  MLIRContext *ctx = op->getContext();
  auto fail = [&](const Twine &message) {
    InFlightDiagnostic d = op->emitOpError() << message;
    d.attachNote() << "in tuning record " << file.getPath() << ", " << v.where;
    return d;
  };
  size_t axes = isa<MaskedConv2DOp>(op) ? 2 : 1;
  if (v.granularity.size() != axes)
    return fail("tiles " + Twine(axes) +
                " axes, but the recorded "
                "granularity has " +
                Twine(v.granularity.size()) + " sizes");
  VariantAttrs attrs;
  attrs.granularity = GranularityAttr::get(ctx, v.granularity);
  // The attributes' parsers and verifiers check the knobs (names, values)
  // and the cover's ranges.
  std::string diagnostic;
  {
    ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &d) {
      if (diagnostic.empty())
        diagnostic = d.str();
      return success();
    });
    attrs.schedule = dyn_cast_if_present<ScheduleAttr>(
        parseAttribute("#spsparse.schedule<" + v.schedule + ">", ctx));
    if (attrs.schedule && v.cover)
      attrs.cover = CoverAttr::getChecked(
          [&] { return emitError(op->getLoc()); }, ctx,
          ArrayRef<int64_t>(v.cover->of), ArrayRef<int64_t>(v.cover->over),
          v.cover->minPercent, v.cover->maxPercent);
  }
  if (!attrs.schedule)
    return fail("has an invalid recorded schedule <" + v.schedule +
                ">: " + diagnostic);
  if (v.cover && !attrs.cover)
    return fail("has an invalid recorded cover: " + diagnostic);
  if (attrs.cover && attrs.cover.getOf().size() != axes)
    return fail("tiles " + Twine(axes) +
                " axes, but the recorded cover compares granularities of " +
                Twine(attrs.cover.getOf().size()) + " sizes");
  if (v.tiles)
    attrs.tiles =
        DenseI64ArrayAttr::get(ctx, {v.tiles->first, v.tiles->second});
  return attrs;
}
