// ModelProto -> kiln::Model: parse, onnx's checker, kiln's own checks, then kiln::validate.
#include "kiln/onnx/model.h"

// Then protobuf, the standard library, kiln and onnx/ private headers.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "checker.h"
#include "external_data.h"
#include "functions.h"
#include "kiln/runtime/error.h"
#include "kiln/runtime/op_registry.h"
#include "tensor_proto.h"

namespace kiln::onnx {

namespace fs = std::filesystem;
using detail::TensorSource;

namespace {

// Opsets before 7 load too, as far as each op's definition covers them (the onnx test data has
// opset-1 models); PyTorch 1.13+ emits 7 and later.
constexpr int kMinOpset = 1;
constexpr int64_t kMinIrVersion = 3, kMaxIrVersion = ::onnx::IR_VERSION;  // what the linked onnx knows

using detail::is_default_domain;

::onnx::ModelProto parse(std::string_view bytes, const std::string& label, const LoadLimits& limits) {
  if (bytes.size() > limits.max_file_bytes || bytes.size() > static_cast<size_t>(INT_MAX))
    raise(ErrorCode::kInvalidArgument,
          "{}: the model is {} bytes, over the {} byte limit (protobuf holds at most 2 GiB; store large "
          "weights as "
          "external data)",
          label, bytes.size(), std::min<uint64_t>(limits.max_file_bytes, INT_MAX));
  ::onnx::ModelProto proto;
  google::protobuf::io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(INT_MAX);
  if (!proto.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    raise(ErrorCode::kInvalidArgument,
          "{}: not an ONNX model (the protobuf does not parse; truncated or corrupt?)", label);
  // Random bytes sometimes parse as a protobuf of unknown fields; a model has these two.
  if (!proto.has_ir_version() || !proto.has_graph())
    raise(ErrorCode::kInvalidArgument, "{}: not an ONNX model (no {})", label,
          proto.has_ir_version() ? "graph" : "ir_version");
  return proto;
}

void check_header(const ::onnx::ModelProto& proto, const std::string& label) {
  if (proto.ir_version() < kMinIrVersion || proto.ir_version() > kMaxIrVersion)
    raise(ErrorCode::kUnsupported,
          "{}: ir_version {} is not supported; kiln reads ONNX IR versions {} to {}", label,
          proto.ir_version(), kMinIrVersion, kMaxIrVersion);
  if (proto.opset_import_size() == 0)
    raise(ErrorCode::kInvalidArgument, "{}: the model declares no opset_import", label);
  for (const auto& imp : proto.opset_import()) {
    if (!is_default_domain(imp.domain())) continue;
    if (imp.version() < kMinOpset || imp.version() > kLatestOpset)
      raise(ErrorCode::kUnsupported,
            "{}: opset {} of the default domain is not supported; kiln supports opsets {} to {}", label,
            imp.version(), kMinOpset, kLatestOpset);
  }
}

// Caps that must hold before anything walks or allocates from the model.
void check_limits(const ::onnx::ModelProto& proto, const std::string& label, const LoadLimits& limits) {
  const auto& g = proto.graph();
  if (static_cast<size_t>(g.node_size()) > limits.max_nodes)
    raise(ErrorCode::kInvalidArgument, "{}: {} nodes is over the limit of {}", label, g.node_size(),
          limits.max_nodes);
  if (g.sparse_initializer_size() > 0)
    raise(ErrorCode::kUnsupported, "{}: sparse initializer '{}' is not supported", label,
          g.sparse_initializer(0).values().name());
}

std::string node_name(const ::onnx::NodeProto& node, int index) {
  return node.name().empty() ? fmt::format("{}_{}", node.op_type(), index) : node.name();
}

// Every node kiln cannot run, reported at once: unknown ops, unknown domains and opsets outside
// an op's range.
void check_supported_ops(const ::onnx::ModelProto& proto, const std::map<std::string, int>& opsets,
                         const std::string& label) {
  const OpRegistry& registry = OpRegistry::builtin();
  std::map<std::string, std::vector<std::string>> unsupported;  // description -> node names
  std::vector<std::string> order;
  for (int i = 0; i < proto.graph().node_size(); ++i) {
    const auto& node = proto.graph().node(i);
    std::string domain = is_default_domain(node.domain()) ? "" : node.domain();
    std::string what;
    if (const OpDef* def = registry.find(node.op_type(), domain)) {
      auto it = opsets.find(domain);
      int opset = it == opsets.end() ? 0 : it->second;
      if (opset < def->since() || opset > def->until())
        what = fmt::format("{} at opset {} (kiln has it for opsets {} to {})", node.op_type(), opset,
                           def->since(), def->until());
    } else {
      what = domain.empty() ? node.op_type() : fmt::format("{} from domain '{}'", node.op_type(), domain);
    }
    if (what.empty()) continue;
    if (!unsupported.count(what)) order.push_back(what);
    unsupported[what].push_back(fmt::format("'{}'", node_name(node, i)));
  }
  if (unsupported.empty()) return;
  std::vector<std::string> parts;
  for (const std::string& what : order) {
    const auto& nodes = unsupported[what];
    parts.push_back(
        fmt::format("{} ({} {})", what, nodes.size() == 1 ? "node" : "nodes", fmt::join(nodes, ", ")));
  }
  raise(ErrorCode::kUnsupported, "{}: {} unsupported op{}: {}", label, order.size(),
        order.size() == 1 ? "" : "s", fmt::join(parts, "; "));
}

Attribute attribute_from_proto(const ::onnx::AttributeProto& a, const TensorSource& source,
                               const std::string& what) {
  const std::string where = fmt::format("{}: attribute '{}'", what, a.name());
  if (!a.ref_attr_name().empty())
    raise(ErrorCode::kUnsupported, "{} refers to a function attribute, which kiln does not support", where);
  using A = ::onnx::AttributeProto;
  switch (a.type()) {
    case A::INT:
      return a.i();
    case A::FLOAT:
      return a.f();
    case A::STRING:
      return a.s();
    case A::TENSOR:
      return detail::tensor_from_proto(a.t(), source, where);
    case A::INTS:
      return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case A::FLOATS:
      return std::vector<float>(a.floats().begin(), a.floats().end());
    case A::STRINGS:
      return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case A::TENSORS: {
      std::vector<Tensor> tensors;
      for (int i = 0; i < a.tensors_size(); ++i)
        tensors.push_back(detail::tensor_from_proto(a.tensors(i), source, fmt::format("{}[{}]", where, i)));
      return tensors;
    }
    case A::GRAPH:
    case A::GRAPHS:
      raise(ErrorCode::kUnsupported, "{} is a subgraph (GRAPH), which kiln does not support", where);
    case A::SPARSE_TENSOR:
    case A::SPARSE_TENSORS:
      raise(ErrorCode::kUnsupported, "{} is a SPARSE_TENSOR, which kiln does not support", where);
    case A::TYPE_PROTO:
    case A::TYPE_PROTOS:
      raise(ErrorCode::kUnsupported, "{} is a TYPE_PROTO, which kiln does not support", where);
    default:
      break;
  }
  raise(ErrorCode::kInvalidArgument, "{} has no valid type ({})", where, static_cast<int>(a.type()));
}

// ONNX requires nodes in topological order; a cycle is reported as such, anything else as the
// first use before definition.
void check_topological(const Graph& graph, const std::string& label) {
  graph.topological_order();  // throws naming a node on a cycle
  std::set<const Node*> seen;
  for (const Node* node : graph.nodes()) {
    for (const Value* in : node->inputs())
      if (in && in->producer() && !seen.count(in->producer()))
        raise(ErrorCode::kInvalidArgument,
              "{}: {} uses '{}' before {} produces it; ONNX requires nodes in topological order", label,
              node->describe(), in->name(), in->producer()->describe());
    seen.insert(node);
  }
}

// The first of a repeated key wins, as in onnx's checker (which rejects repeats on the model).
Metadata metadata_from_proto(const google::protobuf::RepeatedPtrField<::onnx::StringStringEntryProto>& props) {
  Metadata out;
  for (const auto& entry : props) out.emplace(entry.key(), entry.value());
  return out;
}

// A declared type refines an inferred one: inferred static dims win, declared ones fill gaps.
Shape merge_shapes(const Shape& inferred, const Shape& declared) {
  if (!inferred.has_rank()) return declared;
  if (!declared.has_rank() || declared.rank() != inferred.rank()) return inferred;
  std::vector<Dim> dims = inferred.dims();
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i].is_unknown() || (dims[i].is_symbolic() && declared[i].is_static())) dims[i] = declared[i];
  return Shape(std::move(dims));
}

// Each initializer's bytes are released from the proto once converted, so a large model's
// weights are not held twice.
Graph build_graph(::onnx::ModelProto& proto, const TensorSource& source) {
  const std::string& label = source.label;
  const auto& g = proto.graph();
  Graph graph;
  graph.set_label(label);
  graph.set_metadata(metadata_from_proto(g.metadata_props()));
  for (const auto& imp : proto.opset_import())
    graph.set_opset(is_default_domain(imp.domain()) ? "" : imp.domain(), static_cast<int>(imp.version()));

  std::set<std::string> initializer_names;
  for (auto& init : *proto.mutable_graph()->mutable_initializer()) {
    std::string what = fmt::format("{}: initializer '{}'", label, init.name());
    if (init.name().empty()) raise(ErrorCode::kInvalidArgument, "{}: an initializer has no name", label);
    graph.add_initializer(init.name(), detail::tensor_from_proto(init, source, what));
    initializer_names.insert(init.name());
    std::string().swap(*init.mutable_raw_data());
    init.clear_float_data();
    init.clear_int32_data();
    init.clear_int64_data();
    init.clear_double_data();
  }
  for (const auto& in : g.input()) {
    if (initializer_names.count(in.name())) continue;  // older exporters list initializers as inputs
    auto type =
        detail::type_from_proto(in.type(), source.limits, fmt::format("{}: input '{}'", label, in.name()));
    if (type.dtype == DType::kUndefined)
      raise(ErrorCode::kInvalidArgument, "{}: input '{}' has no element type", label, in.name());
    graph.add_input(in.name(), type.dtype, type.shape);
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    NodeSpec spec{n.op_type(), {n.input().begin(), n.input().end()}, {n.output().begin(), n.output().end()}};
    spec.name = node_name(n, i);
    spec.domain = is_default_domain(n.domain()) ? "" : n.domain();
    spec.metadata = metadata_from_proto(n.metadata_props());
    const std::string what = fmt::format("{}: node '{}' ({})", label, spec.name, spec.op_type);
    for (const auto& a : n.attribute()) {
      if (spec.attrs.has(a.name()))
        raise(ErrorCode::kInvalidArgument, "{}: attribute '{}' is repeated", what, a.name());
      spec.attrs.set(a.name(), attribute_from_proto(a, source, what));
    }
    graph.add_node(std::move(spec));
  }
  for (const auto& out : g.output()) graph.add_output(out.name());
  return graph;
}

// Declared types of outputs and value_info, applied after inference so they only fill gaps.
void apply_declared_types(const ::onnx::ModelProto& proto, Graph& graph, const TensorSource& source) {
  auto apply = [&](const ::onnx::ValueInfoProto& info, const char* kind) {
    Value* v = graph.find_value(info.name());
    if (!v || v->is_graph_input() || v->initializer()) return;
    auto type = detail::type_from_proto(info.type(), source.limits,
                                        fmt::format("{}: {} '{}'", source.label, kind, info.name()));
    if (v->dtype() != DType::kUndefined && type.dtype != DType::kUndefined && v->dtype() != type.dtype)
      raise(ErrorCode::kInvalidArgument, "{}: {} '{}' is declared {} but computes {}", source.label, kind,
            info.name(), to_string(type.dtype), to_string(v->dtype()));
    v->set_type(v->dtype() == DType::kUndefined ? type.dtype : v->dtype(),
                merge_shapes(v->shape(), type.shape));
  };
  for (const auto& out : proto.graph().output()) apply(out, "output");
  for (const auto& info : proto.graph().value_info()) apply(info, "value_info");
}

void precheck_tensor(const ::onnx::TensorProto& t, const TensorSource& source, const std::string& what) {
  detail::checked_tensor_numel(Dims(t.dims().begin(), t.dims().end()), source.limits, what);
  if (t.data_location() != ::onnx::TensorProto::EXTERNAL) return;
  for (const auto& entry : t.external_data())
    if (entry.key() == "location") detail::resolve_external_path(source.base_dir, entry.value(), what);
}

// "... (read by node 'n' (Op))": an unsupported dtype (float8, int4...) is reported with the node
// that needs it.
std::string with_reader(const ::onnx::GraphProto& g, const std::string& name, const std::string& what) {
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto& in : g.node(i).input())
      if (in == name)
        return fmt::format("{} (read by node '{}' ({}))", what, node_name(g.node(i), i), g.node(i).op_type());
  return what;
}

void precheck_tensors(const ::onnx::ModelProto& proto, const TensorSource& source) {
  const auto& g = proto.graph();
  for (const auto& init : g.initializer()) {
    std::string what = fmt::format("{}: initializer '{}'", source.label, init.name());
    try {
      if (init.has_data_type()) detail::dtype_from_onnx(init.data_type(), what);
    } catch (const Error&) {
      detail::dtype_from_onnx(init.data_type(), with_reader(g, init.name(), what));  // throws again
    }
    precheck_tensor(init, source, what);
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    for (const auto& a : n.attribute()) {
      std::string what = fmt::format("{}: node '{}' ({}): attribute '{}'", source.label, node_name(n, i),
                                     n.op_type(), a.name());
      if (a.has_t()) precheck_tensor(a.t(), source, what);
      for (const auto& t : a.tensors()) precheck_tensor(t, source, what);
    }
  }
}

Model load_proto(::onnx::ModelProto& proto, const std::string& label, const std::string& base_dir,
                 const LoadOptions& options) {
  check_header(proto, label);
  check_limits(proto, label, options.limits);
  TensorSource source{label, base_dir, options.limits};
  // The checker is not a safety boundary: it multiplies dims without overflow checks and opens
  // external data paths as given. kiln's checks of tensor dims and external data locations run
  // before it, so those cases get kiln's precise message.
  precheck_tensors(proto, source);
  if (options.run_checker) detail::run_onnx_checker(proto, base_dir, label);
  detail::inline_functions(proto, label);
  std::map<std::string, int> opsets;
  for (const auto& imp : proto.opset_import())
    opsets[is_default_domain(imp.domain()) ? "" : imp.domain()] = static_cast<int>(imp.version());
  check_supported_ops(proto, opsets, label);

  Model model;
  model.graph = build_graph(proto, source);
  check_topological(model.graph, label);
  validate(model.graph);
  apply_declared_types(proto, model.graph, source);
  model.ir_version = proto.ir_version();
  model.producer_name = proto.producer_name();
  model.producer_version = proto.producer_version();
  model.domain = proto.domain();
  model.doc_string = proto.doc_string();
  model.model_version = proto.model_version();
  model.metadata = metadata_from_proto(proto.metadata_props());
  return model;
}

}  // namespace

Model load_model(const std::string& path, const LoadOptions& options) {
  fs::path p(path);
  std::string label = p.filename().string();
  std::error_code ec;
  auto status = fs::status(p, ec);
  if (ec || !fs::exists(status)) raise(ErrorCode::kNotFound, "{}: no such file", path);
  if (!fs::is_regular_file(status)) raise(ErrorCode::kInvalidArgument, "{}: not a regular file", path);
  uint64_t size = fs::file_size(p, ec);
  if (ec) raise(ErrorCode::kIo, "{}: cannot read its size: {}", path, ec.message());
  if (size > options.limits.max_file_bytes || size > static_cast<uint64_t>(INT_MAX))
    raise(ErrorCode::kInvalidArgument,
          "{}: the file is {} bytes, over the {} byte limit (protobuf holds at most 2 GiB; store large "
          "weights as "
          "external data)",
          label, size, std::min<uint64_t>(options.limits.max_file_bytes, INT_MAX));
  std::string bytes(size, '\0');
  std::ifstream in(p, std::ios::binary);
  if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(size)))
    raise(ErrorCode::kIo, "{}: cannot read the file", path);
  ::onnx::ModelProto proto = parse(bytes, label, options.limits);
  std::string().swap(bytes);  // the proto holds its own copy of everything
  std::string dir = p.parent_path().string();
  return load_proto(proto, label, dir.empty() ? "." : dir, options);
}

Model load_model_from_bytes(std::string_view bytes, const std::string& label, const std::string& base_dir,
                            const LoadOptions& options) {
  ::onnx::ModelProto proto = parse(bytes, label, options.limits);
  return load_proto(proto, label, base_dir, options);
}

}  // namespace kiln::onnx
