// Conv + inference BatchNormalization -> Conv: y = (conv(x, W) + b - mean) * s + beta with
// s = scale / sqrt(var + eps) per output channel, so W' = W * s and b' = (b - mean) * s + beta.
#include <cmath>
#include <set>

#include "kiln/runtime/passes.h"
#include "pass_util.h"

namespace kiln {
namespace {

using passes::f32_constant;

// True when bn is an inference BatchNormalization whose only used output is Y.
bool is_inference_bn(const Graph& graph, const Node& bn) {
  if (!passes::is_op(&bn, "BatchNormalization")) return false;
  if (bn.attrs().get_int("training_mode", 0) != 0) return false;
  int opset = graph.opset("");
  if (opset < 9 && bn.attrs().get_int("spatial", 1) != 1) return false;
  for (size_t i = 1; i < bn.outputs().size(); ++i) {
    const Value* v = bn.output(i);
    if (v && (!v->uses().empty() || v->is_graph_output())) return false;
  }
  return bn.output(0) != nullptr;
}

// On success returns the BatchNormalization node, which is removed with the Conv.
Node* try_fold(Graph& graph, Node* conv) {
  if (!passes::is_op(conv, "Conv") || !passes::single_use(conv->output(0))) return nullptr;
  Node* bn = passes::only_user(conv->output(0));
  if (bn->input(0) != conv->output(0) || !is_inference_bn(graph, *bn)) return nullptr;
  const Tensor* w = f32_constant(conv->input(1));
  const Tensor* b = conv->input(2) ? f32_constant(conv->input(2)) : nullptr;
  if (!w || w->rank() < 3 || (conv->input(2) && !b)) return nullptr;
  int64_t m = w->dim(0);
  const Tensor* p[4];  // scale, B, mean, var
  for (size_t i = 0; i < 4; ++i) {
    p[i] = f32_constant(bn->input(i + 1));
    if (!p[i] || p[i]->shape() != Dims{m}) return nullptr;
  }
  if (b && b->shape() != Dims{m}) return nullptr;
  double eps = bn->attrs().get_float("epsilon", 1e-5f);
  std::vector<float> scale = p[0]->to_vector<float>(), beta = p[1]->to_vector<float>(),
                     mean = p[2]->to_vector<float>(), var = p[3]->to_vector<float>();
  std::vector<float> weights = w->to_vector<float>();
  std::vector<float> bias = b ? b->to_vector<float>() : std::vector<float>(static_cast<size_t>(m), 0.f);
  size_t per_channel = weights.size() / static_cast<size_t>(m);
  for (size_t c = 0; c < static_cast<size_t>(m); ++c) {
    double s = scale[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    for (size_t k = 0; k < per_channel; ++k) {
      float& x = weights[c * per_channel + k];
      x = static_cast<float>(x * s);
    }
    bias[c] = static_cast<float>((static_cast<double>(bias[c]) - mean[c]) * s + beta[c]);
  }
  std::string w_name =
      passes::add_constant(graph, conv->input(1)->name() + "_bn", Tensor::from_vector(w->shape(), weights));
  std::string b_name =
      passes::add_constant(graph, (b ? conv->input(2)->name() : conv->input(1)->name() + "_bias") + "_bn",
                           Tensor::from_vector(Dims{m}, bias));
  NodeSpec spec{
      "Conv", {conv->input(0)->name(), w_name, b_name}, {bn->output(0)->name()}, conv->attrs(), conv->name()};
  passes::replace_nodes(graph, {bn, conv}, std::move(spec));
  return bn;
}

}  // namespace

size_t fold_batch_norm(Graph& graph) {
  size_t folded = 0;
  std::set<const Node*> removed;  // BatchNorms later in the order are gone
  for (Node* node : graph.topological_order()) {
    if (removed.count(node)) continue;
    if (const Node* bn = try_fold(graph, node)) {
      removed.insert(bn);
      ++folded;
    }
  }
  return folded;
}

}  // namespace kiln
