#include "kiln/frontend/tensorboard/event_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "event.pb.h"
#include "graph.pb.h"
#include "kiln/frontend/tensorboard/record.h"
#include "kiln/runtime/error.h"

namespace kiln::tensorboard {
namespace {

std::string dtype_name(tb::DataType dtype) {
  switch (dtype) {
    case tb::DT_FLOAT:
      return "float";
    case tb::DT_DOUBLE:
      return "double";
    case tb::DT_INT32:
      return "int32";
    case tb::DT_UINT8:
      return "uint8";
    case tb::DT_INT16:
      return "int16";
    case tb::DT_INT8:
      return "int8";
    case tb::DT_STRING:
      return "string";
    case tb::DT_INT64:
      return "int64";
    case tb::DT_BOOL:
      return "bool";
    case tb::DT_HALF:
      return "half";
    case tb::DT_BFLOAT16:
      return "bfloat16";
    case tb::DT_UINT16:
      return "uint16";
    case tb::DT_UINT32:
      return "uint32";
    case tb::DT_UINT64:
      return "uint64";
    default:
      return fmt::format("dtype{}", static_cast<int>(dtype));
  }
}

template <class T>
void append_raw(std::vector<double>& out, const std::string& bytes) {
  const size_t n = bytes.size() / sizeof(T);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    out.push_back(static_cast<double>(v));
  }
}

TensorValue decode_tensor(const tb::TensorProto& t) {
  TensorValue out;
  out.dtype = dtype_name(t.dtype());
  for (const auto& d : t.tensor_shape().dim()) out.shape.push_back(d.size());
  for (float v : t.float_val()) out.numbers.push_back(v);
  for (double v : t.double_val()) out.numbers.push_back(v);
  for (int32_t v : t.int_val()) out.numbers.push_back(v);
  for (int64_t v : t.int64_val()) out.numbers.push_back(static_cast<double>(v));
  for (bool v : t.bool_val()) out.numbers.push_back(v ? 1.0 : 0.0);
  for (uint32_t v : t.uint32_val()) out.numbers.push_back(v);
  for (uint64_t v : t.uint64_val()) out.numbers.push_back(static_cast<double>(v));
  for (const auto& s : t.string_val()) out.strings.push_back(s);
  if (!t.tensor_content().empty()) {
    const std::string& raw = t.tensor_content();
    switch (t.dtype()) {
      case tb::DT_FLOAT:
        append_raw<float>(out.numbers, raw);
        break;
      case tb::DT_DOUBLE:
        append_raw<double>(out.numbers, raw);
        break;
      case tb::DT_INT32:
        append_raw<int32_t>(out.numbers, raw);
        break;
      case tb::DT_INT64:
        append_raw<int64_t>(out.numbers, raw);
        break;
      case tb::DT_UINT8:
        append_raw<uint8_t>(out.numbers, raw);
        break;
      case tb::DT_INT8:
        append_raw<int8_t>(out.numbers, raw);
        break;
      case tb::DT_BOOL:
        append_raw<uint8_t>(out.numbers, raw);
        break;
      default:
        break;  // half, bfloat16...: not decoded
    }
  }
  return out;
}

SummaryValue decode_value(const tb::Summary::Value& v) {
  SummaryValue out;
  out.tag = v.tag().empty() ? v.node_name() : v.tag();
  if (v.has_metadata()) {
    out.plugin_name = v.metadata().plugin_data().plugin_name();
    out.plugin_content = v.metadata().plugin_data().content();
  }
  switch (v.value_case()) {
    case tb::Summary::Value::kSimpleValue:
      out.kind = SummaryValue::Kind::kScalar;
      out.scalar = v.simple_value();
      break;
    case tb::Summary::Value::kHisto: {
      out.kind = SummaryValue::Kind::kHistogram;
      const auto& h = v.histo();
      out.histogram = Histogram{h.min(),
                                h.max(),
                                h.num(),
                                h.sum(),
                                h.sum_squares(),
                                {h.bucket_limit().begin(), h.bucket_limit().end()},
                                {h.bucket().begin(), h.bucket().end()}};
      break;
    }
    case tb::Summary::Value::kImage:
      out.kind = SummaryValue::Kind::kImage;
      out.image = ImageValue{v.image().height(), v.image().width(), v.image().colorspace(),
                             v.image().encoded_image_string()};
      break;
    case tb::Summary::Value::kTensor:
      out.kind = SummaryValue::Kind::kTensor;
      out.tensor = decode_tensor(v.tensor());
      break;
    case tb::Summary::Value::VALUE_NOT_SET:
      out.kind = SummaryValue::Kind::kNone;
      break;
    default:
      out.kind = SummaryValue::Kind::kOther;
      break;
  }
  return out;
}

std::string shape_string(const tb::TensorShapeProto& s) {
  if (s.unknown_rank()) return "?";
  std::string out = "[";
  for (int i = 0; i < s.dim_size(); ++i) {
    if (i) out += ",";
    const auto& d = s.dim(i);
    out += d.size() >= 0 ? std::to_string(d.size()) : (d.name().empty() ? "?" : d.name());
  }
  return out + "]";
}

std::string attr_string(const tb::AttrValue& a) {
  auto join = [](const auto& items, auto fmt_one) {
    std::string out = "[";
    bool first = true;
    for (const auto& x : items) {
      if (!first) out += ",";
      first = false;
      out += fmt_one(x);
    }
    return out + "]";
  };
  switch (a.value_case()) {
    case tb::AttrValue::kS:
      return fmt::format("\"{}\"", a.s());
    case tb::AttrValue::kI:
      return std::to_string(a.i());
    case tb::AttrValue::kF:
      return fmt::format("{}", a.f());
    case tb::AttrValue::kB:
      return a.b() ? "true" : "false";
    case tb::AttrValue::kType:
      return dtype_name(a.type());
    case tb::AttrValue::kShape:
      return shape_string(a.shape());
    case tb::AttrValue::kTensor:
      return fmt::format("tensor<{}>{}", dtype_name(a.tensor().dtype()),
                         shape_string(a.tensor().tensor_shape()));
    case tb::AttrValue::kList: {
      const auto& l = a.list();
      if (l.i_size()) return join(l.i(), [](int64_t x) { return std::to_string(x); });
      if (l.f_size()) return join(l.f(), [](float x) { return fmt::format("{}", x); });
      if (l.s_size()) return join(l.s(), [](const std::string& x) { return fmt::format("\"{}\"", x); });
      if (l.shape_size())
        return join(l.shape(), [](const tb::TensorShapeProto& x) { return shape_string(x); });
      if (l.tensor_size())
        return join(l.tensor(), [](const tb::TensorProto& x) {
          return fmt::format("tensor<{}>", dtype_name(x.dtype()));
        });
      return "[]";
    }
    default:
      return "?";
  }
}

}  // namespace

EventFile read_event_file(const std::string& path) {
  RecordReadResult records = read_records(path);
  EventFile file;
  file.path = path;
  file.errors = std::move(records.errors);
  file.truncated_tail = records.truncated_tail;
  for (size_t i = 0; i < records.records.size(); ++i) {
    tb::Event e;
    if (!e.ParseFromString(records.records[i])) {
      file.errors.push_back(
          fmt::format("{}: a record with valid CRCs ({} of the readable ones) is not an Event", path, i));
      continue;
    }
    Event out;
    out.wall_time = e.wall_time();
    out.step = e.step();
    if (e.has_file_version()) out.file_version = e.file_version();
    if (e.has_graph_def()) out.graph_def = e.graph_def();
    if (e.has_summary())
      for (const auto& v : e.summary().value()) out.values.push_back(decode_value(v));
    file.events.push_back(std::move(out));
  }
  return file;
}

std::map<std::string, std::vector<ScalarPoint>> scalars_of(const EventFile& file) {
  std::map<std::string, std::vector<ScalarPoint>> out;
  std::map<std::string, std::string> plugin_of;  // a tag's metadata comes with its first value
  for (const Event& e : file.events)
    for (const SummaryValue& v : e.values) {
      if (!v.plugin_name.empty()) plugin_of.emplace(v.tag, v.plugin_name);
      if (v.kind == SummaryValue::Kind::kScalar) {
        out[v.tag].push_back({e.step, e.wall_time, v.scalar});
      } else if (v.kind == SummaryValue::Kind::kTensor && v.tensor.numbers.size() == 1) {
        auto it = plugin_of.find(v.tag);
        if (it != plugin_of.end() && it->second == "scalars")
          out[v.tag].push_back({e.step, e.wall_time, v.tensor.numbers[0]});
      }
    }
  return out;
}

std::vector<std::string> find_event_files(const std::string& logdir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(logdir, ec)) raise(ErrorCode::kNotFound, "{}: not a folder", logdir);
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(logdir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().filename().string().find("tfevents") != std::string::npos)
      files.push_back(it->path().string());
  }
  if (ec) raise(ErrorCode::kIo, "{}: cannot list: {}", logdir, ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<GraphNodeInfo> decode_graph_def(std::string_view bytes) {
  tb::GraphDef def;
  if (!def.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    raise(ErrorCode::kInvalidArgument, "graph_def: {} bytes that are not a GraphDef", bytes.size());
  std::vector<GraphNodeInfo> nodes;
  for (const auto& n : def.node()) {
    GraphNodeInfo info;
    info.name = n.name();
    info.op = n.op();
    info.inputs.assign(n.input().begin(), n.input().end());
    for (const auto& [name, attr] : n.attr()) {
      if (name == "_output_shapes") {
        for (const auto& s : attr.list().shape()) info.output_shapes.push_back(shape_string(s));
      } else {
        info.attrs[name] = attr_string(attr);
      }
    }
    nodes.push_back(std::move(info));
  }
  return nodes;
}

}  // namespace kiln::tensorboard
