// PyTorch's exact GELU as exported before opset 20, x * (1 + Erf(x / sqrt(2))) * 0.5, becomes
// one Gelu node: one pass over the data instead of five, and an activation that
// fuse_bias_activation can then fold into the preceding Gemm or MatMul.
#include <cmath>
#include <set>

#include "kiln/runtime/passes.h"
#include "kiln/runtime/op_registry.h"
#include "pass_util.h"

namespace kiln {
namespace {

// True when v is an f32 scalar constant equal to `want` up to float rounding.
bool is_scalar(const Value* v, double want) {
  const Tensor* t = passes::f32_constant(v);
  return t && t->numel() == 1 && std::fabs(t->to_vector<float>()[0] - want) <= 1e-6 * std::fabs(want);
}

// The single user of v when it is the default-domain op `op` with two inputs and an output.
Node* binary_user(const Value* v, const char* op) {
  if (!passes::single_use(v)) return nullptr;
  Node* n = passes::only_user(v);
  return passes::is_op(n, op) && n->inputs().size() == 2 && n->output(0) ? n : nullptr;
}

// The input of binary node n other than v.
Value* other_input(const Node* n, const Value* v) { return n->input(0) == v ? n->input(1) : n->input(0); }

struct GeluMatch {
  Value* x = nullptr;
  std::vector<Node*> nodes;  // in order; empty when nothing matched
};

// Matches Div(x, sqrt 2) or Mul(x, 1/sqrt 2) at `scale` -> Erf -> Add 1 -> Mul x -> Mul 0.5,
// with the operands of Mul and Add in either order.
GeluMatch match_gelu(Node* scale) {
  if (!scale->output(0) || scale->inputs().size() != 2) return {};
  Value* x = nullptr;
  if (passes::is_op(scale, "Div") && is_scalar(scale->input(1), M_SQRT2)) x = scale->input(0);
  else if (passes::is_op(scale, "Mul") && is_scalar(scale->input(1), M_SQRT1_2)) x = scale->input(0);
  else if (passes::is_op(scale, "Mul") && is_scalar(scale->input(0), M_SQRT1_2)) x = scale->input(1);
  if (!x || x->dtype() != DType::kF32 || !passes::single_use(scale->output(0))) return {};
  Node* erf = passes::only_user(scale->output(0));
  if (!passes::is_op(erf, "Erf") || !erf->output(0)) return {};
  Node* add = binary_user(erf->output(0), "Add");
  if (!add || !is_scalar(other_input(add, erf->output(0)), 1.0)) return {};
  Node* times_x = binary_user(add->output(0), "Mul");
  if (!times_x || other_input(times_x, add->output(0)) != x) return {};
  Node* half = binary_user(times_x->output(0), "Mul");
  if (!half || !is_scalar(other_input(half, times_x->output(0)), 0.5)) return {};
  if (half->output(0)->shape() != x->shape()) return {};  // the constants must not broadcast x
  return {x, {scale, erf, add, times_x, half}};
}

}  // namespace

size_t fuse_gelu(Graph& graph) {
  validate(graph);  // the match compares inferred shapes
  size_t fused = 0;
  std::set<const Node*> removed;
  for (Node* node : graph.topological_order()) {
    if (removed.count(node)) continue;
    GeluMatch m = match_gelu(node);
    if (m.nodes.empty()) continue;
    NodeSpec spec{"Gelu", {m.x->name()}, {m.nodes.back()->output(0)->name()}, {}, node->name(), ""};
    passes::replace_nodes(graph, m.nodes, std::move(spec));
    removed.insert(m.nodes.begin(), m.nodes.end());
    ++fused;
  }
  return fused;
}

}  // namespace kiln
