#include "kiln/frontend/tensorboard/summary_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "event.pb.h"
#include "event_file_writer.h"
#include "graph.pb.h"
#include "hparams_plugin_data.pb.h"
#include "kiln/runtime/error.h"
#include "kiln/runtime/tensor_ops.h"
#include "png.h"
#include "text_plugin_data.pb.h"

namespace kiln::tensorboard {
namespace {

tb::Event make_event(int64_t step, std::optional<double> wall_time) {
  tb::Event event;
  event.set_wall_time(wall_time ? *wall_time : now_seconds());
  event.set_step(step);
  return event;
}

/// Elements of t in row-major order as doubles (copied to the host when needed).
std::vector<double> to_doubles(const Tensor& tensor, const std::string& what) {
  if (!tensor.defined()) raise(ErrorCode::kInvalidArgument, "{}: the tensor is undefined", what);
  Tensor t = tensor.detach();
  if (!t.device().host_accessible()) t = t.to(Device::host());
  if (t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) t = cast(t, DType::kF32);
  auto convert = [](const auto& v) { return std::vector<double>(v.begin(), v.end()); };
  switch (t.dtype()) {
    case DType::kF32:
      return convert(t.to_vector<float>());
    case DType::kF64:
      return t.to_vector<double>();
    case DType::kI64:
      return convert(t.to_vector<int64_t>());
    case DType::kI32:
      return convert(t.to_vector<int32_t>());
    case DType::kI8:
      return convert(t.to_vector<int8_t>());
    case DType::kU8:
      return convert(t.to_vector<uint8_t>());
    case DType::kBool:
      return convert(t.to_vector<bool>());
    default:
      raise(ErrorCode::kInvalidArgument, "{}: tensors of dtype {} are not supported", what,
            to_string(t.dtype()));
  }
}

tb::DataType tb_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return tb::DT_FLOAT;
    case DType::kF64:
      return tb::DT_DOUBLE;
    case DType::kF16:
      return tb::DT_HALF;
    case DType::kBF16:
      return tb::DT_BFLOAT16;
    case DType::kI64:
      return tb::DT_INT64;
    case DType::kI32:
      return tb::DT_INT32;
    case DType::kI8:
      return tb::DT_INT8;
    case DType::kU8:
      return tb::DT_UINT8;
    case DType::kBool:
      return tb::DT_BOOL;
    default:
      return tb::DT_INVALID;
  }
}

void set_shape(tb::TensorShapeProto* out, const Shape& shape) {
  if (!shape.has_rank()) {
    out->set_unknown_rank(true);
    return;
  }
  for (const Dim& d : shape.dims()) {
    auto* dim = out->add_dim();
    dim->set_size(d.is_static() ? d.value() : -1);
    if (d.is_symbolic()) dim->set_name(d.symbol());
  }
}

void set_tensor(tb::TensorProto* out, const Tensor& t) {
  out->set_dtype(tb_dtype(t.dtype()));
  set_shape(out->mutable_tensor_shape(), Shape::of(t.shape()));
  // Small constants carry their values (raw little-endian bytes); big ones only dtype and shape.
  if (t.numel() <= 64 && t.device().host_accessible()) {
    Tensor c = t.contiguous();
    out->set_tensor_content(std::string(static_cast<const char*>(c.raw_data()), c.nbytes()));
  }
}

void set_attr(tb::AttrValue* out, const Attribute& attr) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>)
          out->set_i(v);
        else if constexpr (std::is_same_v<T, float>)
          out->set_f(v);
        else if constexpr (std::is_same_v<T, std::string>)
          out->set_s(v);
        else if constexpr (std::is_same_v<T, Tensor>)
          set_tensor(out->mutable_tensor(), v);
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
          for (auto x : v) out->mutable_list()->add_i(x);
        else if constexpr (std::is_same_v<T, std::vector<float>>)
          for (auto x : v) out->mutable_list()->add_f(x);
        else if constexpr (std::is_same_v<T, std::vector<std::string>>)
          for (const auto& x : v) out->mutable_list()->add_s(x);
        else
          for (const auto& x : v) set_tensor(out->mutable_list()->add_tensor(), x);
      },
      attr);
}

/// "fc.weight" -> "fc/weight"; a leading '/' (PyTorch's ONNX node names) is dropped.
std::string scope_name(std::string name, bool dots_are_scopes) {
  while (!name.empty() && name.front() == '/') name.erase(name.begin());
  if (dots_are_scopes) std::replace(name.begin(), name.end(), '.', '/');
  return name.empty() ? "unnamed" : name;
}

std::string unique_name(std::string name, std::set<std::string>& used) {
  std::string candidate = name;
  for (int i = 1; used.count(candidate); ++i) candidate = fmt::format("{}_{}", name, i);
  used.insert(candidate);
  return candidate;
}

void set_output_shapes(tb::NodeDef* node, const std::vector<const Value*>& values) {
  auto* list = (*node->mutable_attr())["_output_shapes"].mutable_list();
  for (const Value* v : values) set_shape(list->add_shape(), v ? v->shape() : Shape::unknown_rank());
}

std::string graph_def_bytes(const Graph& graph) {
  tb::GraphDef def;
  def.mutable_versions()->set_producer(22);
  std::set<std::string> used;
  std::map<const Value*, std::string> ref;  // value -> "node" or "node:k"

  auto leaf = [&](const Value* v, const char* op) {
    auto* node = def.add_node();
    node->set_name(unique_name(scope_name(v->name(), true), used));
    node->set_op(op);
    (*node->mutable_attr())["dtype"].set_type(tb_dtype(v->dtype()));
    set_output_shapes(node, {v});
    ref[v] = node->name();
  };
  for (const Value* v : graph.inputs())
    if (!v->initializer()) leaf(v, "Placeholder");
  for (const Value* v : graph.initializers()) leaf(v, "Const");

  for (const Node* n : graph.topological_order()) {
    auto* node = def.add_node();
    node->set_name(unique_name(scope_name(n->name(), false), used));
    node->set_op(n->domain().empty() || n->domain() == "ai.onnx" ? n->op_type()
                                                                 : n->domain() + "." + n->op_type());
    for (const Value* in : n->inputs()) {
      if (!in) continue;
      auto it = ref.find(in);
      node->add_input(it != ref.end() ? it->second : scope_name(in->name(), true));
    }
    for (const auto& [name, attr] : n->attrs().all()) set_attr(&(*node->mutable_attr())[name], attr);
    std::vector<const Value*> outs(n->outputs().begin(), n->outputs().end());
    set_output_shapes(node, outs);
    if (!outs.empty() && outs[0]) (*node->mutable_attr())["T"].set_type(tb_dtype(outs[0]->dtype()));
    for (size_t k = 0; k < outs.size(); ++k)
      if (outs[k]) ref[outs[k]] = k == 0 ? node->name() : fmt::format("{}:{}", node->name(), k);
  }
  for (const Value* v : graph.outputs()) {
    auto* node = def.add_node();
    node->set_name(unique_name("output/" + scope_name(v->name(), false), used));
    node->set_op("Identity");
    auto it = ref.find(v);
    node->add_input(it != ref.end() ? it->second : scope_name(v->name(), true));
    (*node->mutable_attr())["T"].set_type(tb_dtype(v->dtype()));
    set_output_shapes(node, {v});
  }
  return def.SerializeAsString();
}

std::string hparams_value(const std::string& tag, const tb::hparams::HParamsPluginData& data) {
  tb::Summary summary;
  auto* value = summary.add_value();
  value->set_tag(tag);
  auto* plugin = value->mutable_metadata()->mutable_plugin_data();
  plugin->set_plugin_name("hparams");
  plugin->set_content(data.SerializeAsString());
  tb::Event event = make_event(0, {});
  *event.mutable_summary() = summary;
  return event.SerializeAsString();
}

std::string scalar_event(const std::string& tag, double value, int64_t step,
                         std::optional<double> wall_time) {
  tb::Event event = make_event(step, wall_time);
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  return event.SerializeAsString();
}

}  // namespace

SummaryWriter::SummaryWriter(std::string logdir, SummaryWriterOptions options)
    : logdir_(std::move(logdir)), options_(std::move(options)) {
  writer_ = std::make_unique<EventFileWriter>(logdir_, options_);
}

SummaryWriter::~SummaryWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: warning: %s\n", e.what());
  }
}

const std::string& SummaryWriter::file_path() const { return writer_->path(); }

EventFileWriter& SummaryWriter::child(const std::string& dir) {
  auto& slot = children_[dir];
  if (!slot) slot = std::make_unique<EventFileWriter>(dir, options_);
  return *slot;
}

void SummaryWriter::add_scalar(const std::string& tag, double value, int64_t step,
                               std::optional<double> wall_time) {
  writer_->add(scalar_event(tag, value, step, wall_time));
}

void SummaryWriter::add_scalars(const std::string& main_tag, const std::map<std::string, double>& values,
                                int64_t step, std::optional<double> wall_time) {
  std::string stem = main_tag;
  std::replace(stem.begin(), stem.end(), '/', '_');
  const double when = wall_time ? *wall_time : now_seconds();
  for (const auto& [key, value] : values) {
    const std::string dir = (std::filesystem::path(logdir_) / (stem + "_" + key)).string();
    child(dir).add(scalar_event(main_tag, value, step, when));
  }
}

void SummaryWriter::add_histogram(const std::string& tag, const Tensor& values, int64_t step,
                                  std::optional<double> wall_time) {
  add_histogram(tag, to_doubles(values, fmt::format("add_histogram '{}'", tag)), step, wall_time);
}

void SummaryWriter::add_histogram(const std::string& tag, const std::vector<double>& values, int64_t step,
                                  std::optional<double> wall_time) {
  Histogram h;
  try {
    h = make_histogram(values);
  } catch (const Error& e) {
    raise(e.code(), "add_histogram '{}': {}", tag, e.what());
  }
  tb::Event event = make_event(step, wall_time);
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* histo = v->mutable_histo();
  histo->set_min(h.min);
  histo->set_max(h.max);
  histo->set_num(h.num);
  histo->set_sum(h.sum);
  histo->set_sum_squares(h.sum_squares);
  for (double x : h.bucket_limit) histo->add_bucket_limit(x);
  for (double x : h.bucket) histo->add_bucket(x);
  writer_->add(event.SerializeAsString());
}

void SummaryWriter::add_text(const std::string& tag, const std::string& text, int64_t step,
                             std::optional<double> wall_time) {
  tb::Event event = make_event(step, wall_time);
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* plugin = v->mutable_metadata()->mutable_plugin_data();
  plugin->set_plugin_name("text");
  plugin->set_content(tb::text::TextPluginData().SerializeAsString());
  auto* tensor = v->mutable_tensor();
  tensor->set_dtype(tb::DT_STRING);
  tensor->mutable_tensor_shape()->add_dim()->set_size(1);
  tensor->add_string_val(text);
  writer_->add(event.SerializeAsString());
}

void SummaryWriter::add_image(const std::string& tag, const Tensor& image, int64_t step, ImageFormat format,
                              std::optional<double> wall_time) {
  const std::string what = fmt::format("add_image '{}'", tag);
  if (!image.defined()) raise(ErrorCode::kInvalidArgument, "{}: the tensor is undefined", what);
  const size_t rank = format == ImageFormat::kHW ? 2 : 3;
  if (image.rank() != rank)
    raise(ErrorCode::kInvalidArgument, "{}: image of shape {} has rank {}, expected {} for {}", what,
          to_string(image.shape()), image.rank(), rank,
          format == ImageFormat::kCHW   ? "CHW"
          : format == ImageFormat::kHWC ? "HWC"
                                        : "HW");
  int64_t h = 0, w = 0, c = 1;
  Dims shape = image.shape();
  if (format == ImageFormat::kCHW) c = shape[0], h = shape[1], w = shape[2];
  if (format == ImageFormat::kHWC) h = shape[0], w = shape[1], c = shape[2];
  if (format == ImageFormat::kHW) h = shape[0], w = shape[1];
  if (c != 1 && c != 3 && c != 4)
    raise(ErrorCode::kInvalidArgument, "{}: image of shape {} has {} channels; expected 1, 3 or 4", what,
          to_string(shape), c);
  if (h <= 0 || w <= 0)
    raise(ErrorCode::kInvalidArgument, "{}: image of shape {} is empty", what, to_string(shape));
  if (!is_floating(image.dtype()) && image.dtype() != DType::kU8)
    raise(ErrorCode::kInvalidArgument, "{}: images are floating [0, 1] or u8, not {}", what,
          to_string(image.dtype()));
  const bool scale = is_floating(image.dtype());
  const std::vector<double> values = to_doubles(image, what);
  std::vector<uint8_t> pixels(static_cast<size_t>(h * w * c));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) {
        const size_t src = format == ImageFormat::kCHW ? static_cast<size_t>((k * h + y) * w + x)
                                                       : static_cast<size_t>((y * w + x) * c + k);
        double v = values[src];
        if (scale) v *= 255.0;
        v = std::isnan(v) ? 0.0 : std::clamp(v, 0.0, 255.0);
        pixels[static_cast<size_t>((y * w + x) * c + k)] = static_cast<uint8_t>(v);  // truncates, like numpy
      }
  tb::Event event = make_event(step, wall_time);
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* img = v->mutable_image();
  img->set_height(static_cast<int32_t>(h));
  img->set_width(static_cast<int32_t>(w));
  img->set_colorspace(static_cast<int32_t>(c));
  img->set_encoded_image_string(
      encode_png(pixels, static_cast<int>(h), static_cast<int>(w), static_cast<int>(c)));
  writer_->add(event.SerializeAsString());
}

void SummaryWriter::add_graph(const Graph& graph) {
  tb::Event event = make_event(0, {});
  event.set_graph_def(graph_def_bytes(graph));
  writer_->add(event.SerializeAsString());
}

void SummaryWriter::add_hparams(const std::map<std::string, HParam>& hparams_map,
                                const std::map<std::string, double>& metrics, const std::string& run_name) {
  tb::hparams::Experiment experiment;
  tb::hparams::SessionStartInfo start;
  for (const auto& [name, value] : hparams_map) {
    auto* info = experiment.add_hparam_infos();
    info->set_name(name);
    google::protobuf::Value& v = (*start.mutable_hparams())[name];
    switch (value.kind()) {
      case HParam::kNumber:
        v.set_number_value(value.number());
        info->set_type(tb::hparams::DATA_TYPE_FLOAT64);
        break;
      case HParam::kString:
        v.set_string_value(value.string());
        info->set_type(tb::hparams::DATA_TYPE_STRING);
        break;
      case HParam::kBool:
        v.set_bool_value(value.boolean());
        info->set_type(tb::hparams::DATA_TYPE_BOOL);
        break;
    }
  }
  for (const auto& [name, value] : metrics) experiment.add_metric_infos()->mutable_name()->set_tag(name);

  tb::hparams::HParamsPluginData exp_data, start_data, end_data;
  exp_data.set_version(0);
  *exp_data.mutable_experiment() = experiment;
  start_data.set_version(0);
  *start_data.mutable_session_start_info() = start;
  end_data.set_version(0);
  end_data.mutable_session_end_info()->set_status(tb::hparams::STATUS_SUCCESS);

  auto write = [&](EventFileWriter& w) {
    w.add(hparams_value("_hparams_/experiment", exp_data));
    w.add(hparams_value("_hparams_/session_start_info", start_data));
    w.add(hparams_value("_hparams_/session_end_info", end_data));
    for (const auto& [name, value] : metrics) w.add(scalar_event(name, value, 0, {}));
    w.flush();
  };
  if (run_name == ".") {
    write(*writer_);
    return;
  }
  const std::string run = run_name.empty() ? fmt::format("{:.6f}", now_seconds()) : run_name;
  EventFileWriter w((std::filesystem::path(logdir_) / run).string(), options_);
  write(w);
  w.close();
}

void SummaryWriter::flush() {
  writer_->flush();
  for (auto& [dir, w] : children_) w->flush();
}

void SummaryWriter::close() {
  std::string first_error;
  auto close_one = [&](EventFileWriter& w) {
    try {
      w.close();
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
    }
  };
  close_one(*writer_);
  for (auto& [dir, w] : children_) close_one(*w);
  if (!first_error.empty()) throw Error(ErrorCode::kIo, first_error);
}

}  // namespace kiln::tensorboard
