// Constant folding: nodes whose outputs the op definitions already compute (shape arithmetic:
// Shape over static dims, then Gather, Unsqueeze, Concat...), and nodes whose inputs are all
// initializers, which run once on a backend through a one-node Executor.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "kiln/runtime/backend.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/passes.h"
#include "pass_util.h"

namespace kiln {
namespace {

// Results up to this size always fold: a few weights' worth of memory buys skipping the op on
// every run. Bigger results fold only when they replace constants at least as big.
constexpr size_t kFoldBytes = size_t{1} << 20;

bool is_random(const Node& node) {
  const std::string& op = node.op_type();
  return op.starts_with("Random") || op == "Bernoulli" || op == "Multinomial";
}

// Bytes of the initializers that only this node reads: folding it frees them.
size_t freed_bytes(const Node& node) {
  size_t bytes = 0;
  std::set<const Value*> seen;
  for (const Value* in : node.inputs()) {
    if (!in || !in->initializer() || in->is_graph_output() || !seen.insert(in).second) continue;
    bool only_here =
        std::all_of(in->uses().begin(), in->uses().end(), [&](const Use& u) { return u.node == &node; });
    if (only_here) bytes += in->initializer()->nbytes();
  }
  return bytes;
}

bool worth_folding(const Node& node, size_t out_bytes) {
  return out_bytes <= kFoldBytes || out_bytes <= freed_bytes(node);
}

// Static output bytes from inferred types; std::nullopt when a shape is not static.
std::optional<size_t> static_output_bytes(const Node& node) {
  size_t bytes = 0;
  for (const Value* out : node.outputs()) {
    if (!out) continue;
    std::optional<int64_t> n = out->shape().numel();
    if (!n) return std::nullopt;
    bytes += static_cast<size_t>(*n) * size_of(out->dtype());
  }
  return bytes;
}

std::vector<std::string> backend_order(const BackendRegistry& registry) {
  std::vector<std::string> names;
  for (const auto& b : registry.backends()) {
    if (b->name() == "cpu")
      names.insert(names.begin(), b->name());
    else
      names.push_back(b->name());
  }
  return names;
}

// Runs node alone over its constant inputs; std::nullopt when no backend can run it.
std::optional<std::vector<Tensor>> evaluate(const Graph& graph, const Node& node, BackendRegistry& registry) {
  ExecutorOptions options;
  options.backends = backend_order(registry);
  if (options.backends.empty()) return std::nullopt;
  Graph one;
  one.set_label(graph.label());
  for (const auto& [domain, version] : graph.opsets()) one.set_opset(domain, version);
  NodeSpec spec{node.op_type(), {}, {}, node.attrs(), node.name(), node.domain()};
  for (const Value* in : node.inputs()) {
    spec.inputs.push_back(in ? in->name() : "");
    if (in && !one.find_value(in->name())) one.add_initializer(in->name(), *in->initializer());
  }
  for (const Value* out : node.outputs()) spec.outputs.push_back(out ? out->name() : "");
  one.add_node(std::move(spec));
  for (const Value* out : node.outputs())
    if (out) one.add_output(out->name());
  try {
    Executor executor(one, options, registry);
    return executor.run({});
  } catch (const Error&) {
    return std::nullopt;  // no kernel for it, or it fails on these values: leave the node
  }
}

// Gather(Shape(x), constant indices) where every gathered dim of x is static, though others
// are not (PyTorch's x.size(1) with a dynamic batch).
std::optional<Tensor> gather_static_dims(const Node& node) {
  if (!passes::is_op(&node, "Gather") || node.attrs().get_int("axis", 0) != 0) return std::nullopt;
  const Value* data = node.input(0);
  const Node* shape = data ? data->producer() : nullptr;
  const Tensor* indices = node.input(1) ? node.input(1)->initializer() : nullptr;
  if (!passes::is_op(shape, "Shape") || !indices || indices->numel() > 64) return std::nullopt;
  const Shape& x = shape->input(0)->shape();
  if (!x.has_rank()) return std::nullopt;
  auto rank = static_cast<int64_t>(x.rank());
  auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  int64_t start = clamp(shape->attrs().get_int("start", 0));
  int64_t end = shape->attrs().has("end") ? clamp(shape->attrs().get_int("end", rank)) : rank;
  int64_t length = std::max<int64_t>(end - start, 0);
  std::vector<int64_t> ids;
  if (indices->dtype() == DType::kI64)
    ids = indices->to_vector<int64_t>();
  else if (indices->dtype() == DType::kI32)
    for (int32_t i : indices->to_vector<int32_t>()) ids.push_back(i);
  else
    return std::nullopt;
  std::vector<int64_t> dims;
  for (int64_t i : ids) {
    if (i < -length || i >= length) return std::nullopt;  // inference reports the bad index
    const Dim& d = x[static_cast<size_t>(start + (i < 0 ? i + length : i))];
    if (!d.is_static()) return std::nullopt;
    dims.push_back(d.value());
  }
  return Tensor::from_vector<int64_t>(indices->shape(), dims);
}

size_t fold(Graph& graph, BackendRegistry* registry) {
  validate(graph);
  const OpRegistry& ops = OpRegistry::builtin();
  std::map<const Value*, Tensor> known;  // host values inference computed (plus initializers)
  for (Value* v : graph.initializers()) known.emplace(v, *v->initializer());
  size_t folded = 0;
  for (Node* node : graph.topological_order()) {
    if (is_random(*node)) continue;
    int opset = graph.opset(node->domain());
    const OpDef& def = ops.lookup(*node, opset);
    std::vector<ValueType> types;
    std::vector<const Tensor*> values;
    bool all_constant = true;
    for (const Value* in : node->inputs()) {
      types.push_back(in ? ValueType{in->dtype(), in->shape()} : ValueType{});
      auto it = in ? known.find(in) : known.end();
      values.push_back(it != known.end() ? &it->second : nullptr);
      if (in && !in->initializer()) all_constant = false;
    }
    InferContext c = infer_node(*node, def, opset, std::move(types), std::move(values));
    std::vector<Tensor> results(node->outputs().size());
    bool have = true;
    for (size_t i = 0; i < results.size(); ++i) {
      if (!node->output(i)) continue;
      if (c.output_values()[i])
        results[i] = *c.output_values()[i];
      else
        have = false;
    }
    if (!have && results.size() == 1) {
      if (std::optional<Tensor> t = gather_static_dims(*node)) {
        results[0] = *t;
        have = true;
      }
    }
    if (!have && all_constant && registry) {
      std::optional<size_t> bytes = static_output_bytes(*node);
      if (bytes && !worth_folding(*node, *bytes)) continue;
      std::optional<std::vector<Tensor>> outs = evaluate(graph, *node, *registry);
      if (!outs) continue;
      size_t actual = 0;
      for (const Tensor& t : *outs) actual += t.nbytes();
      if (!worth_folding(*node, actual)) continue;
      for (size_t i = 0, k = 0; i < results.size(); ++i)
        if (node->output(i)) results[i] = (*outs)[k++];
      have = true;
    }
    if (!have) continue;
    std::vector<Value*> outputs = node->outputs();
    graph.remove_node(node);  // its outputs keep their uses and become initializers
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i]) continue;
      Value* v = graph.add_initializer(outputs[i]->name(), results[i].contiguous());
      known[v] = *v->initializer();
    }
    ++folded;
  }
  return folded;
}

}  // namespace

size_t fold_constants(Graph& graph, BackendRegistry& registry) { return fold(graph, &registry); }

size_t fold_constants(Graph& graph) {
  BackendRegistry* registry = nullptr;
  try {
    registry = &BackendRegistry::global();
  } catch (const Error&) {
    // KILN_BACKEND_PATH names a missing folder: fold what the op definitions compute.
  }
  return fold(graph, registry);
}

}  // namespace kiln
