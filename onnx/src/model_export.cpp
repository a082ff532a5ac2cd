// kiln::Model -> ModelProto bytes, checked by onnx's checker, and written atomically.
#include "kiln/onnx/model.h"

// Then protobuf, the standard library, kiln and onnx/ private headers.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <set>

#include "checker.h"
#include "kiln/runtime/error.h"
#include "kiln/runtime/op_registry.h"
#include "opset_convert.h"
#include "tensor_proto.h"

#ifndef KILN_VERSION
#define KILN_VERSION "0"
#endif

namespace kiln::onnx {

namespace fs = std::filesystem;

namespace {


void attribute_to_proto(const std::string& name, const Attribute& value, ::onnx::AttributeProto* a,
                        const std::string& what) {
  using A = ::onnx::AttributeProto;
  a->set_name(name);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          a->set_type(A::INT);
          a->set_i(v);
        } else if constexpr (std::is_same_v<T, float>) {
          a->set_type(A::FLOAT);
          a->set_f(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          a->set_type(A::STRING);
          a->set_s(v);
        } else if constexpr (std::is_same_v<T, Tensor>) {
          a->set_type(A::TENSOR);
          if (!v.defined())
            raise(ErrorCode::kInvalidArgument, "{}: attribute '{}' holds no tensor", what, name);
          detail::tensor_to_proto(v, "", a->mutable_t());
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          a->set_type(A::INTS);
          for (int64_t x : v) a->add_ints(x);
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          a->set_type(A::FLOATS);
          for (float x : v) a->add_floats(x);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          a->set_type(A::STRINGS);
          for (const std::string& x : v) a->add_strings(x);
        } else {
          a->set_type(A::TENSORS);
          for (const Tensor& t : v) detail::tensor_to_proto(t, "", a->add_tensors());
        }
      },
      value);
}

void metadata_to_proto(const Metadata& metadata,
                       google::protobuf::RepeatedPtrField<::onnx::StringStringEntryProto>* out) {
  for (const auto& [key, value] : metadata) {
    auto* entry = out->Add();
    entry->set_key(key);
    entry->set_value(value);
  }
}

void value_info(const Value& v, ::onnx::ValueInfoProto* info, const std::string& what) {
  info->set_name(v.name());
  detail::type_to_proto(v.dtype(), v.shape(), info->mutable_type(), what);
}

::onnx::ModelProto to_proto(const Model& model, const Graph& graph) {
  const std::string& label = graph.label();
  ::onnx::ModelProto proto;
  int max_opset = 0;
  for (const auto& [domain, version] : graph.opsets()) {
    auto* imp = proto.add_opset_import();
    imp->set_domain(domain);
    imp->set_version(version);
    if (domain.empty()) max_opset = version;
  }
  int64_t ir = detail::ir_version_for_opset(max_opset);
  proto.set_ir_version(model.ir_version >= ir && model.ir_version <= ::onnx::IR_VERSION ? model.ir_version : ir);
  proto.set_producer_name("kiln");
  proto.set_producer_version(KILN_VERSION);
  if (!model.domain.empty()) proto.set_domain(model.domain);
  if (model.model_version) proto.set_model_version(model.model_version);
  if (!model.doc_string.empty()) proto.set_doc_string(model.doc_string);
  metadata_to_proto(model.metadata, proto.mutable_metadata_props());

  auto* g = proto.mutable_graph();
  metadata_to_proto(graph.metadata(), g->mutable_metadata_props());
  std::string name = fs::path(label).stem().string();
  g->set_name(name.empty() ? "kiln" : name);
  for (const Value* in : graph.inputs())
    value_info(*in, g->add_input(), fmt::format("{}: input '{}'", label, in->name()));
  for (const Value* init : graph.initializers())
    detail::tensor_to_proto(*init->initializer(), init->name(), g->add_initializer());
  std::set<const Value*> outputs(graph.outputs().begin(), graph.outputs().end());
  for (const Node* node : graph.topological_order()) {
    auto* n = g->add_node();
    n->set_name(node->name());
    n->set_op_type(node->op_type());
    if (!node->domain().empty()) n->set_domain(node->domain());
    metadata_to_proto(node->metadata(), n->mutable_metadata_props());
    for (const Value* in : node->inputs()) n->add_input(in ? in->name() : "");
    for (const Value* out : node->outputs()) n->add_output(out ? out->name() : "");
    for (const auto& [key, value] : node->attrs().all())
      attribute_to_proto(key, value, n->add_attribute(), fmt::format("{}: {}", label, node->describe()));
    for (const Value* out : node->outputs())
      if (out && !outputs.count(out) && out->dtype() != DType::kUndefined)
        value_info(*out, g->add_value_info(), fmt::format("{}: value '{}'", label, out->name()));
  }
  for (const Value* out : graph.outputs())
    value_info(*out, g->add_output(), fmt::format("{}: output '{}'", label, out->name()));
  return proto;
}

void write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) raise(ErrorCode::kIo, "{}: write failed: {}", path, std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string serialize_model(const Model& model, const SaveOptions& options) {
  const Graph* graph = &model.graph;
  for (const Value* in : graph->inputs())
    if (in->dtype() == DType::kUndefined)
      raise(ErrorCode::kInvalidArgument, "{}: input '{}' has no dtype, so it cannot be written to ONNX",
            graph->label(), in->name());
  // Graph outputs need a type in ONNX; infer types on a copy when some are missing.
  Graph typed;
  bool untyped = false;
  for (const Value* out : model.graph.outputs()) untyped = untyped || out->dtype() == DType::kUndefined;
  if (untyped) {
    typed = model.graph.clone();
    validate(typed);
    graph = &typed;
  }
  ::onnx::ModelProto proto = to_proto(model, *graph);
  if (options.opset) detail::convert_opset(proto, options.opset, graph->label());
  if (options.run_checker) detail::run_onnx_checker(proto, "", graph->label());
  if (proto.ByteSizeLong() > static_cast<size_t>(INT_MAX))
    raise(ErrorCode::kUnsupported, "{}: the model is {} bytes, over protobuf's 2 GiB limit", graph->label(),
          proto.ByteSizeLong());
  std::string bytes;
  if (!proto.SerializeToString(&bytes))
    raise(ErrorCode::kInternal, "{}: protobuf could not serialize the model", graph->label());
  return bytes;
}

void save_model(const Model& model, const std::string& path, const SaveOptions& options) {
  std::string bytes = serialize_model(model, options);
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  // A fresh name opened with O_EXCL and mode 0666, so the umask applies as for any new file
  // (mkstemp would make it 0600) without touching the process-wide umask.
  static std::atomic<uint64_t> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    tmp = (dir / fmt::format(".{}.{}.{}.tmp", target.filename().string(), ::getpid(), counter++)).string();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0)
    raise(ErrorCode::kIo, "{}: cannot create a temporary file in '{}': {}", path, dir.string(),
          std::strerror(errno));
  try {
    write_all(fd, bytes, path);
    if (::fsync(fd) != 0) raise(ErrorCode::kIo, "{}: fsync failed: {}", path, std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    raise(ErrorCode::kIo, "{}: close failed: {}", path, std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    raise(ErrorCode::kIo, "{}: cannot rename the temporary file into place: {}", path, std::strerror(err));
  }
  // The rename itself is durable only once the folder is synced.
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace kiln::onnx
