// kiln's inference ops (domain "kiln"). MaxPoolChannelsLast and AveragePoolChannelsLast, made by
// use_channels_last, are the ONNX pools on [N, spatial..., C] data. The fused ops, made by
// fuse_bias_activation: FusedConv,
// FusedGemm and FusedMatMul are their base op followed by an optional bias (FusedMatMul), an
// optional residual Z (FusedConv, as ONNX Runtime's FusedConv) and an activation (Relu, Clip
// or the exact Gelu). Shape rules are the base op's own, called through its
// registered definition, plus checks of the bias and activation attributes.
#include <algorithm>
#include <memory>

#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

constexpr const char* kDomain = "kiln";

// [N, C, spatial...] <-> [N, spatial..., C]; unknown ranks and ranks below 2 stay as they are.
Shape channels_last_shape(const Shape& s) {
  if (!s.has_rank() || s.rank() < 2) return s;
  std::vector<Dim> d = s.dims();
  std::rotate(d.begin() + 1, d.begin() + 2, d.end());
  return Shape(d);
}
Shape channels_first_shape(const Shape& s) {
  if (!s.has_rank() || s.rank() < 2) return s;
  std::vector<Dim> d = s.dims();
  std::rotate(d.begin() + 1, d.end() - 1, d.end());
  return Shape(d);
}

// Runs the base op's inference for this node (same inputs and attribute names) at the latest
// ONNX opset, where the base ops have their final form, and returns the output type.
// With channels_last, input 0 is given as [N, spatial..., C] and passed on as [N, C, spatial...].
ValueType infer_as_base(const InferContext& c, const OpDef& base, size_t base_inputs, bool channels_last = false) {
  std::vector<ValueType> types;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < std::min(base_inputs, c.num_inputs()); ++i) {
    types.push_back(c.has_input(i) ? c.input(i) : ValueType{});
    if (i == 0 && channels_last) types.back().shape = channels_first_shape(types.back().shape);
    values.push_back(c.input_value(i));
  }
  InferContext inner(c.node(), base, kLatestOpset, std::move(types), std::move(values));
  base.infer_fn()(inner);
  return inner.outputs().at(0);
}

void check_activation(const InferContext& c) {
  std::string act = c.attr_string("activation");
  if (act != "" && act != "Relu" && act != "Clip" && act != "Gelu")
    c.fail("activation '{}' is not supported (expected \"\", \"Relu\", \"Clip\" or \"Gelu\")", act);
  if (act == "Clip" && !(c.attr_float("activation_min") <= c.attr_float("activation_max")))
    c.fail("activation_min {} is above activation_max {}", c.attr_float("activation_min"),
           c.attr_float("activation_max"));
}

// The base op's attribute schema plus the activation attributes.
OpDef fused_def(const std::string& name, const OpDef& base, int min_inputs, int max_inputs) {
  OpDef def(name, kDomain);
  def.opsets(1).inputs(min_inputs, max_inputs);
  def.attrs_of(base);
  def.attr("activation", AttrType::kString, string_attr(""))
      .attr("activation_min", AttrType::kFloat, float_attr(std::numeric_limits<float>::lowest()))
      .attr("activation_max", AttrType::kFloat, float_attr(std::numeric_limits<float>::max()));
  return def;
}

// MaxPool or AveragePool on [N, H, W, C] data (use_channels_last): the base op's attributes
// and shape rule, one output (no Indices).
OpDef channels_last_pool_def(const std::string& name, std::shared_ptr<OpDef> base) {
  OpDef def(name, kDomain);
  def.opsets(1).inputs(1, 1).outputs(1, 1);
  def.attrs_of(*base);
  def.infer([base](InferContext& c) {
    ValueType out = infer_as_base(c, *base, 1, /*channels_last=*/true);
    c.set_output(0, out.dtype, channels_last_shape(out.shape));
  });
  return def;
}

const OpDef& base_def(const OpRegistry& registry, const char* name) {
  const OpDef* def = registry.find(name);
  if (!def) raise(ErrorCode::kInternal, "fused ops: {} must be registered before the fused ops", name);
  return *def;
}

}  // namespace

void register_fused_ops(OpRegistry& registry) {
  // Copies of the base definitions: the fused ops must not point into a registry that may move.
  auto conv = std::make_shared<OpDef>(base_def(registry, "Conv"));
  auto gemm = std::make_shared<OpDef>(base_def(registry, "Gemm"));
  auto matmul = std::make_shared<OpDef>(base_def(registry, "MatMul"));

  // FusedConv(X, W, B?, Z?): Conv, plus Z (a residual of the output's shape), then the
  // activation. channels_last = 1 (set by use_channels_last) keeps X, Z and Y as
  // [N, spatial..., C], the layout oneDNN's convolutions prefer; W stays [M, C/group, k...].
  auto fused_conv = fused_def("FusedConv", *conv, 2, 4);
  fused_conv.attr("channels_last", AttrType::kInt, int_attr(0));
  registry.add(fused_conv.infer([conv](InferContext& c) {
    check_activation(c);
    bool channels_last = c.attr_int("channels_last") != 0;
    ValueType out = infer_as_base(c, *conv, 3, channels_last);
    if (channels_last) out.shape = channels_last_shape(out.shape);
    if (c.has_input(3)) {
      require_same_dtype(c, 0, 3);
      const Shape& z = c.input_shape(3);
      bool same = !z.has_rank() || !out.shape.has_rank() || z.rank() == out.shape.rank();
      for (size_t i = 0; same && z.has_rank() && out.shape.has_rank() && i < z.rank(); ++i)
        same = merge_dim(z[i], out.shape[i]).has_value();
      if (!same)
        c.fail("Z has shape {}, expected the output's shape {}", z.to_string(), out.shape.to_string());
    }
    c.set_output(0, out.dtype, out.shape);
  }));
  registry.add(channels_last_pool_def("MaxPoolChannelsLast", std::make_shared<OpDef>(base_def(registry, "MaxPool"))));
  registry.add(
      channels_last_pool_def("AveragePoolChannelsLast", std::make_shared<OpDef>(base_def(registry, "AveragePool"))));
  // FusedGemm(A, B, C?): Gemm (C is its bias), then the activation.
  registry.add(fused_def("FusedGemm", *gemm, 2, 3).infer([gemm](InferContext& c) {
    check_activation(c);
    ValueType out = infer_as_base(c, *gemm, 3);
    c.set_output(0, out.dtype, out.shape);
  }));
  // FusedMatMul(A, B, bias?): MatMul, plus a bias of shape [N] along the last output dim, then
  // the activation.
  registry.add(fused_def("FusedMatMul", *matmul, 2, 3).infer([matmul](InferContext& c) {
    check_activation(c);
    ValueType out = infer_as_base(c, *matmul, 2);
    if (c.has_input(2)) {
      require_same_dtype(c, 0, 2);
      const Shape& bias = c.input_shape(2);
      require_rank(c, 2, bias, 1, 1);
      if (out.shape.has_rank() && out.shape.rank() < 1) c.fail("a bias needs an output of rank >= 1");
      if (out.shape.has_rank() && bias.has_rank() && !merge_dim(bias[0], out.shape[out.shape.rank() - 1]))
        c.fail("bias has shape {}, expected [{}] (the output {}'s last dim)", bias.to_string(),
               out.shape[out.shape.rank() - 1].to_string(), out.shape.to_string());
    }
    c.set_output(0, out.dtype, out.shape);
  }));
}

}  // namespace kiln::ops
