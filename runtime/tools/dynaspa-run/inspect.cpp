//===- inspect.cpp - describe a bundle without a device -------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Relies on verifyBundle having accepted the bundle: indices are in range
// and enums known, so names can be looked up without checks.
//
//===----------------------------------------------------------------------===//

#include "inspect.h"

#include <set>

namespace dynaspa::run {

namespace fb = ::dynaspa::bundle;
using nlohmann::json;

const char *dtypeName(fb::DType dtype) {
  switch (dtype) {
  case fb::DType::F32:
    return "f32";
  case fb::DType::F16:
    return "f16";
  case fb::DType::F64:
    return "f64";
  case fb::DType::I32:
    return "i32";
  case fb::DType::U8:
    return "u8";
  case fb::DType::I1:
    return "i1";
  }
  return "?";
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

template <typename T> json list(const flatbuffers::Vector<T> *v) {
  json out = json::array();
  if (v)
    for (T x : *v)
      out.push_back(x);
  return out;
}

std::string str(const flatbuffers::String *s) {
  return s ? s->str() : std::string();
}

json describeLaunch(const fb::Launch &l) {
  json args = json::array();
  if (l.args()) {
    for (const fb::Arg *a : *l.args()) {
      if (a->kind() == fb::ArgKind::Buffer)
        args.push_back({{"buffer", a->buffer()}});
      else
        args.push_back(
            {{a->kind() == fb::ArgKind::I32 ? "i32" : "i64", a->value()}});
    }
  }
  return {{"kernel", str(l.kernel())},        {"module", l.module_()},
          {"grid", list(l.grid())},           {"block", list(l.block())},
          {"shared_bytes", l.shared_bytes()}, {"args", args}};
}

json describeOperator(const fb::Operator &op) {
  std::set<uint32_t> fills;
  if (op.zero_fill())
    fills.insert(op.zero_fill()->begin(), op.zero_fill()->end());
  // What the executor does: outputs are cleared unless the kernels write
  // their zeros.
  if (!op.writes_zeros())
    fills.insert(op.outputs()->begin(), op.outputs()->end());
  json buffers = json::array();
  for (uint32_t i = 0; i < op.buffers()->size(); ++i) {
    const fb::Tensor &t = *op.buffers()->Get(i);
    std::string role = "scratch";
    for (uint32_t j = 0; op.inputs() && j < op.inputs()->size(); ++j)
      if (op.inputs()->Get(j) == i)
        role = "input " + std::to_string(j) + (j == 2 ? " (mask)" : "");
    for (uint32_t j = 0; j < op.outputs()->size(); ++j)
      if (op.outputs()->Get(j) == i)
        role = "output " + std::to_string(j);
    buffers.push_back({{"index", i},
                       {"name", str(t.name())},
                       {"dtype", dtypeName(t.dtype())},
                       {"shape", list(t.shape())},
                       {"role", role},
                       {"zero_fill", fills.count(i) > 0}});
  }
  auto describeLaunches =
      [](const flatbuffers::Vector<flatbuffers::Offset<fb::Launch>> *list) {
        json out = json::array();
        for (uint32_t i = 0; list && i < list->size(); ++i)
          out.push_back(describeLaunch(*list->Get(i)));
        return out;
      };
  json variants = json::array();
  for (const fb::Variant *v : *op.variants()) {
    json launches = json::array();
    if (v->launches())
      for (const fb::Launch *l : *v->launches())
        launches.push_back(describeLaunch(*l));
    json cover = nullptr;
    if (const fb::Cover *c = v->cover())
      cover = {{"of_buffer", c->of_buffer()},
               {"over_buffer", c->over_buffer()},
               {"of_positions", c->of_positions()},
               {"over_positions", c->over_positions()},
               {"min_percent", c->min_percent()},
               {"max_percent", c->max_percent()}};
    variants.push_back(
        {{"name", str(v->name())},
         {"granularity", list(v->granularity())},
         {"count_buffer",
          v->count_buffer() ? json(*v->count_buffer()) : json(nullptr)},
         {"min_tiles", v->min_tiles()},
         {"max_tiles", v->max_tiles()},
         {"cover", cover},
         {"math", fb::EnumNameMath(v->math())},
         {"launches", launches}});
  }
  json out = {{"name", str(op.name())},
              {"kind", fb::EnumNameOpKind(op.kind())},
              {"self_dispatch", op.self_dispatch()},
              {"writes_zeros", op.writes_zeros()},
              {"inputs", list(op.inputs())},
              {"outputs", list(op.outputs())},
              {"buffers", buffers},
              {"prologue", describeLaunches(op.prologue())},
              {"fills_before", describeLaunches(op.fills_before())},
              {"fills_alongside", describeLaunches(op.fills_alongside())},
              {"variants", variants}};
  if (op.kind() == fb::OpKind::Conv2D) {
    out["layout"] = fb::EnumNameLayout(op.layout());
    out["strides"] = list(op.strides());
    out["dilations"] = list(op.dilations());
    out["padding"] = list(op.padding());
  }
  return out;
}

std::string dims(const json &v) {
  std::vector<int64_t> d;
  for (const json &x : v)
    d.push_back(x.get<int64_t>());
  return shapeString(d);
}

void printLaunch(const json &l, const std::string &indent, std::ostream &os) {
  os << indent << l["kernel"].get<std::string>() << " (module "
     << l["module"].get<uint32_t>() << "): grid " << dims(l["grid"])
     << " block " << dims(l["block"]) << " shared "
     << l["shared_bytes"].get<uint32_t>() << " B; args (";
  bool firstArg = true;
  for (const json &a : l["args"]) {
    os << (firstArg ? "" : ", ");
    firstArg = false;
    if (a.contains("buffer"))
      os << "buffer " << a["buffer"].get<uint32_t>();
    else if (a.contains("i32"))
      os << "i32 " << a["i32"].get<int64_t>();
    else
      os << "i64 " << a["i64"].get<int64_t>();
  }
  os << ")\n";
}

} // namespace

json describeBundle(const fb::Bundle &bundle, size_t bytes,
                    std::optional<uint32_t> op) {
  json modules = json::array();
  if (bundle.modules()) {
    for (const fb::Module *m : *bundle.modules()) {
      json binaries = json::array();
      for (const fb::Binary *b : *m->binaries())
        binaries.push_back({{"format", fb::EnumNameFormat(b->format())},
                            {"chip", str(b->chip())},
                            {"bytes", b->data()->size()}});
      modules.push_back({{"name", str(m->name())}, {"binaries", binaries}});
    }
  }
  json operators = json::array();
  uint32_t numOps = bundle.operators() ? bundle.operators()->size() : 0;
  for (uint32_t i = 0; i < numOps; ++i) {
    if (op && *op != i)
      continue;
    json d = describeOperator(*bundle.operators()->Get(i));
    d["index"] = i;
    operators.push_back(d);
  }
  json probes = json::array();
  if (bundle.probes())
    for (const fb::Probe *p : *bundle.probes())
      probes.push_back({{"kind", fb::EnumNameProbeKind(p->kind())},
                        {"module", p->module_()},
                        {"kernel", str(p->kernel())},
                        {"block", p->block()},
                        {"elements", p->elements()},
                        {"work", p->work()}});
  return {{"version", bundle.version()},
          {"producer", str(bundle.producer())},
          {"bytes", bytes},
          {"modules", modules},
          {"operators", operators},
          {"probes", probes}};
}

void printDescription(const json &d, std::ostream &os) {
  os << "bundle version " << d["version"].get<uint32_t>() << ", "
     << d["bytes"].get<size_t>() << " bytes, producer '"
     << d["producer"].get<std::string>() << "'\n";
  os << "modules:\n";
  size_t index = 0;
  for (const json &m : d["modules"]) {
    os << "  [" << index++ << "] " << m["name"].get<std::string>() << "\n";
    for (const json &b : m["binaries"])
      os << "      " << b["format"].get<std::string>() << " "
         << b["chip"].get<std::string>() << " " << b["bytes"].get<size_t>()
         << " B\n";
  }
  if (!d["probes"].empty()) {
    os << "calibration probes (dynaspa-calibrate):\n";
    for (const json &p : d["probes"])
      os << "  " << p["kind"].get<std::string>() << ": module "
         << p["module"].get<uint32_t>() << " kernel "
         << p["kernel"].get<std::string>() << ", block "
         << p["block"].get<uint32_t>() << ", buffers of "
         << p["elements"].get<int64_t>() << " f32, work "
         << p["work"].get<uint32_t>() << "\n";
  }
  os << "operators:" << (d["operators"].empty() ? " (none)" : "") << "\n";
  for (const json &op : d["operators"]) {
    os << "  [" << op["index"].get<uint32_t>() << "] "
       << op["name"].get<std::string>() << ": "
       << op["kind"].get<std::string>();
    if (op.contains("layout"))
      os << " " << op["layout"].get<std::string>() << " strides "
         << dims(op["strides"]) << " dilations " << dims(op["dilations"])
         << " padding " << dims(op["padding"]);
    os << (op["self_dispatch"].get<bool>() ? ", self-dispatching"
                                           : ", host-selected variants")
       << (op["writes_zeros"].get<bool>() ? ", kernels write the zeros" : "")
       << "\n    buffers:\n";
    for (const json &b : op["buffers"])
      os << "      [" << b["index"].get<uint32_t>() << "] "
         << b["name"].get<std::string>() << " " << b["dtype"].get<std::string>()
         << " " << dims(b["shape"]) << "  " << b["role"].get<std::string>()
         << (b["zero_fill"].get<bool>() ? ", zero-filled" : "") << "\n";
    os << "    prologue:" << (op["prologue"].empty() ? " (none)" : "") << "\n";
    for (const json &l : op["prologue"])
      printLaunch(l, "      ", os);
    // The zeros' kernels run on a second queue (bundle.fbs).
    for (auto [part, when] : {std::pair("fills_before", "before"),
                              std::pair("fills_alongside", "alongside")}) {
      if (op[part].empty())
        continue;
      os << "    " << part << " (second queue, " << when << " the variants):\n";
      for (const json &l : op[part])
        printLaunch(l, "      ", os);
    }
    os << "    variants (first whose tile range and cover hold wins):\n";
    size_t v = 0;
    for (const json &var : op["variants"]) {
      int64_t max = var["max_tiles"].get<int64_t>();
      os << "      [" << v++ << "] " << var["name"].get<std::string>()
         << ": tiles [" << var["min_tiles"].get<int64_t>() << ", "
         << (max < 0 ? std::string("inf)") : std::to_string(max) + "]")
         << (var["count_buffer"].is_null()
                 ? std::string(" (lists its own tiles: no count)")
                 : " counted in buffer " +
                       std::to_string(var["count_buffer"].get<uint32_t>()))
         << ", granularity " << dims(var["granularity"])
         << (var["math"] == "TF32" ? ", tensor cores (TF32)" : "") << "\n";
      if (const json &c = var["cover"]; !c.is_null()) {
        int64_t hi = c["max_percent"].get<int64_t>();
        os << "          cover: buffer " << c["of_buffer"].get<uint32_t>()
           << " x " << c["of_positions"].get<int64_t>() << " positions in ["
           << c["min_percent"].get<int64_t>() << "%, "
           << (hi < 0 ? std::string("inf)") : std::to_string(hi) + "%]")
           << " of buffer " << c["over_buffer"].get<uint32_t>() << " x "
           << c["over_positions"].get<int64_t>() << "\n";
      }
      for (const json &l : var["launches"])
        printLaunch(l, "          ", os);
    }
  }
}

} // namespace dynaspa::run
