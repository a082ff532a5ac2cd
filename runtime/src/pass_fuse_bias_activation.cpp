// Conv / Gemm / MatMul, then an Add of a constant bias, (Conv only) an Add of a residual of the
// same shape, then Relu, Clip or Gelu -> one node whose bias, residual and activation run inside the
// base op's primitive (oneDNN post-ops on the CPU).
#include <optional>
#include <set>

#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/passes.h"
#include "pass_util.h"

namespace kiln {
namespace {

using passes::f32_constant;

// The bias as one value per channel (Conv) or per output column (Gemm, MatMul): its shape must
// broadcast to out's with every dim but `axis` (out's channel or last dim) equal to 1.
std::optional<std::vector<float>> bias_vector(const Tensor& bias, const Shape& out, size_t axis) {
  if (!out.has_rank() || bias.rank() > out.rank() || !out[axis].is_static()) return std::nullopt;
  int64_t n = out[axis].value();
  size_t offset = out.rank() - bias.rank();
  int64_t along = 1;
  for (size_t i = 0; i < bias.rank(); ++i) {
    int64_t d = bias.shape()[i];
    if (offset + i == axis)
      along = d;
    else if (d != 1)
      return std::nullopt;
  }
  if (along != 1 && along != n) return std::nullopt;
  std::vector<float> data = bias.to_vector<float>();
  std::vector<float> out_data(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    out_data[static_cast<size_t>(i)] = data[along == 1 ? 0 : static_cast<size_t>(i)];
  return out_data;
}

struct BiasAdd {
  Node* node = nullptr;
  std::vector<float> bias;
};

// y + constant (either order) whose output has y's shape.
std::optional<BiasAdd> find_bias_add(Value* y, size_t axis) {
  if (!passes::single_use(y)) return std::nullopt;
  Node* add = passes::only_user(y);
  if (!passes::is_op(add, "Add") || add->inputs().size() != 2 || !add->output(0)) return std::nullopt;
  const Value* other = add->input(0) == y ? add->input(1) : add->input(0);
  const Tensor* c = f32_constant(other);
  if (!c || other == y || add->output(0)->shape() != y->shape()) return std::nullopt;
  std::optional<std::vector<float>> v = bias_vector(*c, y->shape(), axis);
  if (!v) return std::nullopt;
  return BiasAdd{add, std::move(*v)};
}

// Every dim static or symbolic: equal shapes are then equal at run time.
bool fully_named(const Shape& s) {
  if (!s.has_rank()) return false;
  for (const Dim& d : s.dims())
    if (d.is_unknown()) return false;
  return true;
}

// y + z for a z of y's exact shape (a residual connection), computed elsewhere.
std::optional<std::pair<Node*, Value*>> find_residual_add(Value* y) {
  if (!passes::single_use(y) || !fully_named(y->shape())) return std::nullopt;
  Node* add = passes::only_user(y);
  if (!passes::is_op(add, "Add") || add->inputs().size() != 2 || !add->output(0)) return std::nullopt;
  Value* z = add->input(0) == y ? add->input(1) : add->input(0);
  if (!z || z == y || z->dtype() != DType::kF32 || z->shape() != y->shape() ||
      add->output(0)->shape() != y->shape())
    return std::nullopt;
  return std::make_pair(add, z);
}

struct Act {
  Node* node = nullptr;
  std::string name;  // "Relu", "Clip" or "Gelu"
  float lo = 0, hi = 0;
};

std::optional<float> scalar_input(const Node& node, size_t i) {
  if (!node.input(i)) return std::nullopt;
  const Tensor* t = f32_constant(node.input(i));
  if (!t || t->numel() != 1) return std::nullopt;
  return t->item<float>();
}

// Relu(y), exact Gelu(y), or Clip(y) with constant bounds, min <= max.
std::optional<Act> find_activation(const Graph& graph, Value* y) {
  if (!passes::single_use(y)) return std::nullopt;
  Node* n = passes::only_user(y);
  if (!n->output(0) || n->input(0) != y) return std::nullopt;
  if (passes::is_op(n, "Relu")) return Act{n, "Relu", 0.f, 0.f};
  if (passes::is_op(n, "Gelu") && n->attrs().get_string("approximate", "none") == "none")
    return Act{n, "Gelu", 0.f, 0.f};
  if (!passes::is_op(n, "Clip")) return std::nullopt;
  Act a{n, "Clip", std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max()};
  if (graph.opset("") < 11) {
    a.lo = n->attrs().get_float("min", a.lo);
    a.hi = n->attrs().get_float("max", a.hi);
  } else {
    for (size_t i = 1; i < 3; ++i) {
      if (!n->input(i)) continue;
      std::optional<float> v = scalar_input(*n, i);
      if (!v) return std::nullopt;  // bounds known only at run time
      (i == 1 ? a.lo : a.hi) = *v;
    }
  }
  if (!(a.lo <= a.hi)) return std::nullopt;  // numpy's order for min > max differs from oneDNN's clip
  return a;
}

void set_activation(Attributes& attrs, const Act& act) {
  attrs.set("activation", act.name);
  if (act.name == "Clip") {
    attrs.set("activation_min", act.lo);
    attrs.set("activation_max", act.hi);
  }
}

// b (or zeros) plus the Add's bias, as the Conv's new B.
Tensor conv_bias(const Tensor* b, const std::vector<float>& add) {
  std::vector<float> v = b ? b->to_vector<float>() : std::vector<float>(add.size(), 0.f);
  for (size_t i = 0; i < v.size(); ++i) v[i] += add[i];
  return Tensor::from_vector(Dims{static_cast<int64_t>(v.size())}, v);
}

// beta * C + bias, broadcast to [rows, N] with rows = C's row count (1 or M).
Tensor gemm_c(const Tensor* c, float beta, const std::vector<float>& bias) {
  auto n = static_cast<int64_t>(bias.size());
  int64_t rows = c && c->rank() == 2 ? c->dim(0) : 1;
  int64_t cols = c && c->rank() >= 1 ? c->dim(-1) : 1;
  std::vector<float> cv = c ? c->to_vector<float>() : std::vector<float>{};
  std::vector<float> out(static_cast<size_t>(rows * n));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float base = c ? beta * cv[static_cast<size_t>(i * cols + (cols == 1 ? 0 : j))] : 0.f;
      out[static_cast<size_t>(i * n + j)] = base + bias[static_cast<size_t>(j)];
    }
  return rows == 1 ? Tensor::from_vector(Dims{n}, out) : Tensor::from_vector(Dims{rows, n}, out);
}

// Fuses the chain that starts at base; returns the nodes it removed (empty: no change).
std::vector<Node*> try_fuse(Graph& graph, Node* base) {
  bool conv = passes::is_op(base, "Conv"), gemm = passes::is_op(base, "Gemm"),
       matmul = passes::is_op(base, "MatMul");
  if (!conv && !gemm && !matmul) return {};
  Value* y = base->output(0);
  if (!y || y->dtype() != DType::kF32 || !y->shape().has_rank() || y->shape().rank() < (conv ? 3u : 1u))
    return {};
  size_t axis = conv ? 1 : y->shape().rank() - 1;
  std::optional<BiasAdd> add = find_bias_add(y, axis);
  // A bias merges only into a constant B (Conv) or C (Gemm).
  if (add && (conv || gemm) && base->input(2) && !f32_constant(base->input(2))) add.reset();
  if (add && matmul && (!base->input(1)->shape().has_rank() || base->input(1)->shape().rank() < 2))
    add.reset();
  Value* end = add ? add->node->output(0) : y;
  // Conv only: a residual Z, added by a sum post-op.
  std::optional<std::pair<Node*, Value*>> residual = conv ? find_residual_add(end) : std::nullopt;
  if (residual) end = residual->first->output(0);
  std::optional<Act> act = find_activation(graph, end);
  if (!add && !act && !residual) return {};
  if (act) end = act->node->output(0);

  std::vector<std::string> inputs{base->input(0)->name(), base->input(1)->name()};
  Attributes attrs = base->attrs();
  std::string op = conv ? "Conv" : gemm ? "Gemm" : "MatMul";
  if (conv) {
    const Value* b = base->input(2);
    if (add)
      inputs.push_back(passes::add_constant(graph,
                                            (b ? b->name() : base->input(1)->name() + "_bias") + "_fused",
                                            conv_bias(b ? b->initializer() : nullptr, add->bias)));
    else if (b)
      inputs.push_back(b->name());
    if (residual) {
      if (inputs.size() == 2) inputs.push_back("");  // no B
      inputs.push_back(residual->second->name());
    }
  } else if (gemm) {
    const Value* c = base->input(2);
    if (add) {
      float beta = attrs.get_float("beta", 1.f);
      inputs.push_back(passes::add_constant(graph,
                                            (c ? c->name() : base->input(1)->name() + "_bias") + "_fused",
                                            gemm_c(c ? c->initializer() : nullptr, beta, add->bias)));
      attrs.set("beta", 1.f);
    } else if (c) {
      inputs.push_back(c->name());
    }
  } else if (add) {
    inputs.push_back(
        passes::add_constant(graph, base->input(1)->name() + "_bias_fused",
                             Tensor::from_vector(Dims{static_cast<int64_t>(add->bias.size())}, add->bias)));
  }
  // A bias alone fits Conv's B and Gemm's C; anything else needs kiln's fused op.
  std::string domain;
  if (act || matmul || residual) {
    op = "Fused" + op;
    domain = "kiln";
    if (act) set_activation(attrs, *act);
    if (!graph.opsets().count("kiln")) graph.set_opset("kiln", 1);
  }
  std::vector<Node*> removed{base};
  if (add) removed.push_back(add->node);
  if (residual) removed.push_back(residual->first);
  if (act) removed.push_back(act->node);
  NodeSpec spec{op, inputs, {end->name()}, attrs, base->name(), domain};
  passes::replace_nodes(graph, removed, std::move(spec));
  return removed;
}

}  // namespace

size_t fuse_bias_activation(Graph& graph) {
  validate(graph);  // the rules read inferred shapes
  size_t fused = 0;
  std::set<const Node*> removed;  // later nodes of a fused chain are gone
  for (Node* node : graph.topological_order()) {
    if (removed.count(node)) continue;
    std::vector<Node*> gone = try_fuse(graph, node);
    if (gone.empty()) continue;
    removed.insert(gone.begin(), gone.end());
    ++fused;
  }
  return fused;
}

}  // namespace kiln
