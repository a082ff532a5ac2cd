// BatchNormalization, LayerNormalization, RMSNormalization, InstanceNormalization, LpNormalization,
// MeanVarianceNormalization, Dropout (inference) and TopK.
#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

void infer_batch_norm(InferContext& c) {
  forbid_attr_since(c, "spatial", 9, "statistics are always per channel");
  forbid_attr_before(c, "training_mode", 14);
  for (size_t i = 0; i < 5; ++i) require_floating(c, i);
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 2);
  bool training = c.attr_int("training_mode") != 0;
  if (c.opset() >= 14) {
    if (c.num_outputs() > 3)
      c.fail("has {} outputs, expected at most 3 at opset {}", c.num_outputs(), c.opset());
    if (c.num_outputs() > 1 && !training) c.fail("outputs running_mean and running_var need training_mode=1");
  }
  Dim channels = x.has_rank() ? x[1] : Dim();
  bool per_channel = c.opset() >= 9 || c.attr_int("spatial") != 0;
  static const char* const kNames[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5 && per_channel; ++i) {
    const Shape& s = c.input_shape(i);
    require_rank(c, i, s, 1, 1);
    if (s.has_rank() && !merge_dim(s[0], channels))
      c.fail("{} has shape {}, expected [{}] for input X {}", kNames[i], s.to_string(), channels.to_string(),
             x.to_string());
  }
  c.set_output(0, c.input_dtype(0), x);
  // Running (opset 14) or updated (opset 7..13) statistics, and the saved batch statistics.
  for (size_t i = 1; i < c.num_outputs(); ++i) c.set_output(i, c.input_dtype(3), Shape{channels});
}

void infer_layer_norm(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  if (c.has_input(2)) require_same_dtype(c, 0, 2);
  const Shape& x = c.input_shape(0);
  std::optional<DType> stash = dtype_from_onnx(c.attr_int("stash_type"));
  if (!stash || !is_floating(*stash))
    c.fail("stash_type {} is not a floating-point type", c.attr_int("stash_type"));
  c.set_output(0, c.input_dtype(0), x);
  if (!x.has_rank()) {
    c.set_output(1, *stash, Shape::unknown_rank());
    c.set_output(2, *stash, Shape::unknown_rank());
    return;
  }
  auto rank = static_cast<int64_t>(x.rank());
  if (rank == 0) c.fail("input X must have rank >= 1");
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), rank));
  Shape normalized(std::vector<Dim>(x.dims().begin() + static_cast<ptrdiff_t>(axis), x.dims().end()));
  check_unidirectional(c, c.input_shape(1), normalized, "Scale");
  if (c.has_input(2)) check_unidirectional(c, c.input_shape(2), normalized, "B");
  // Mean and InvStdDev keep the leading dims and have 1 for each normalized dim.
  std::vector<Dim> stats(x.dims().begin(), x.dims().begin() + static_cast<ptrdiff_t>(axis));
  stats.resize(x.rank(), Dim(int64_t{1}));
  c.set_output(1, *stash, Shape(stats));
  c.set_output(2, *stash, Shape(stats));
}

// RMSNormalization: Y = X / sqrt(mean(X^2 over the dims from axis on) + epsilon) * scale, with
// scale broadcasting to the normalized dims. kiln computes the statistics in double, so every
// supported stash_type (float, double) gets at least its precision.
void infer_rms_norm(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  const int64_t stash = c.attr_int("stash_type");
  if (stash != 1 && stash != 11)
    fail_unsupported(c, fmt::format("attribute 'stash_type' is {}; kiln computes in float (1) or double (11) only", stash));
  const Shape& x = c.input_shape(0);
  c.set_output(0, c.input_dtype(0), x);
  if (!x.has_rank()) return;
  const auto rank = static_cast<int64_t>(x.rank());
  if (rank == 0) c.fail("input X must have rank >= 1");
  const auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), rank));
  Shape normalized(std::vector<Dim>(x.dims().begin() + static_cast<ptrdiff_t>(axis), x.dims().end()));
  check_unidirectional(c, c.input_shape(1), normalized, "scale");
}

// --- Dropout (inference), InstanceNormalization, LpNormalization, MeanVarianceNormalization

void infer_dropout(InferContext& c) {
  forbid_attr_since(c, "ratio", 12, "ratio is input 1");
  forbid_attr_before(c, "seed", 12);
  if (c.opset() < 12) limit_inputs(c, 1);
  require_floating(c, 0);
  if (c.has_input(1)) require_floating(c, 1);
  if (c.has_input(2)) require_bool(c, 2);
  const Shape& x = c.input_shape(0);
  c.set_output(0, c.input_dtype(0), x);
  // The mask is bool from opset 10 on, the input's type before.
  if (c.num_outputs() > 1) c.set_output(1, c.opset() >= 10 ? DType::kBool : c.input_dtype(0), x);
}

void infer_instance_norm(InferContext& c) {
  for (size_t i = 0; i < 3; ++i) require_floating(c, i);
  require_same_dtype(c, 0, 1);
  require_same_dtype(c, 0, 2);
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 3);
  Dim channels = x.has_rank() ? x[1] : Dim();
  static const char* const kNames[] = {"input", "scale", "B"};
  for (size_t i = 1; i < 3; ++i) {
    const Shape& s = c.input_shape(i);
    require_rank(c, i, s, 1, 1);
    if (s.has_rank() && !merge_dim(s[0], channels))
      c.fail("{} has shape {}, expected [{}] for input {}", kNames[i], s.to_string(), channels.to_string(), x.to_string());
  }
  c.set_output(0, c.input_dtype(0), x);
}

void infer_lp_norm(InferContext& c) {
  require_floating(c, 0);
  const Shape& x = c.input_shape(0);
  int64_t p = c.attr_int("p");
  if (p != 1 && p != 2) c.fail("p is {}, expected 1 or 2", p);
  if (x.has_rank()) {
    require_rank(c, 0, x, 1);
    c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(x.rank()));
  }
  c.set_output(0, c.input_dtype(0), x);
}

void infer_mvn(InferContext& c) {
  require_floating(c, 0);
  const Shape& x = c.input_shape(0);
  if (x.has_rank()) normalize_axes(c, c.attr_ints("axes"), static_cast<int64_t>(x.rank()));
  c.set_output(0, c.input_dtype(0), x);
}

// --- TopK

void infer_top_k(InferContext& c) {
  forbid_attr_since(c, "k", 10, "k is input 1");
  forbid_attr_before(c, "largest", 11);
  forbid_attr_before(c, "sorted", 11);
  require_numeric(c, 0);
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  std::optional<int64_t> k;
  if (c.opset() < 10) {
    limit_inputs(c, 1);
    if (!c.has_attr("k")) c.fail("attribute 'k' is required before opset 10");
    k = c.attr_int("k");
  } else {
    if (!c.has_input(1)) c.fail("input 1 (k) is required from opset 10 on");
    require_index(c, 1);
    const Shape& ks = c.input_shape(1);
    if (ks.has_rank() && !(ks.rank() == 1 && merge_dim(ks[0], Dim(int64_t{1}))))
      c.fail("k must have shape [1], got {}", ks.to_string());
    if (std::optional<std::vector<int64_t>> v = c.input_ints(1); v && v->size() == 1) k = (*v)[0];
  }
  if (k && *k < 0) c.fail("k is {}, expected >= 0", *k);
  if (!x.has_rank()) {
    c.set_output(0, dtype, Shape::unknown_rank());
    return c.set_output(1, DType::kI64, Shape::unknown_rank());
  }
  require_rank(c, 0, x, 1);
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(x.rank())));
  std::vector<Dim> out = x.dims();
  if (k && x[axis].is_static() && *k > x[axis].value())
    c.fail("k {} exceeds axis {} of {}", *k, axis, x.to_string());
  out[axis] = k ? Dim(*k) : Dim();
  c.set_output(0, dtype, Shape(out));
  c.set_output(1, DType::kI64, Shape(out));
}

// ---- Gradients of BatchNormalization and LayerNormalization

// Normalization over `axes` (kept as size-1 dims): with xhat = (x - mean) * inv_std and
// dxhat the gradient reaching xhat, dX = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
Tensor normalized_input_grad(const Tensor& dxhat, const Tensor& xhat, const Tensor& inv_std,
                             const std::vector<int64_t>& axes) {
  return inv_std * (dxhat - mean(dxhat, axes, true) - xhat * mean(dxhat * xhat, axes, true));
}

// BatchNormalization: per channel of X [N, C, ...]; a [C] vector broadcasts as [1, C, 1, ...].
// Inference form: Y = (X - mean) * inv_std * scale + B with inv_std = 1 / sqrt(var + epsilon)
// from the input statistics. Training form (opset 14+, training_mode=1): the same with the
// batch's mean and biased variance, and the optional outputs
//   running_mean = input_mean * momentum + batch_mean * (1 - momentum)
//   running_var  = input_var * momentum + batch_var * (1 - momentum),
// batch_var being the biased variance, as ONNX defines it (torch.nn.BatchNorm's unbiased update
// is the frontend's business).
void grad_batch_norm(GradContext& g) {
  const Tensor &x = g.input(0), &scale = g.input(1);
  const bool training = g.attr_int("training_mode") != 0;
  if (!training && g.num_outputs() > 1) g.fail("the statistics outputs of opsets 7-13 have no gradient");
  const double eps = g.attr_float("epsilon"), momentum = g.attr_float("momentum");
  Dims channel_shape(x.rank(), 1);
  channel_shape[1] = x.dim(1);
  auto per_channel = [&](const Tensor& t) { return t.reshape(channel_shape); };
  std::vector<int64_t> axes{0};
  for (size_t d = 2; d < x.rank(); ++d) axes.push_back(static_cast<int64_t>(d));
  const double count = static_cast<double>(x.numel() / std::max<int64_t>(x.dim(1), 1));
  const Tensor dy = g.output_grad(0);
  const Tensor mu = training ? mean(x, axes, true) : per_channel(g.input(3));
  const Tensor centered = x - mu;
  const Tensor var = training ? mean(centered * centered, axes, true) : per_channel(g.input(4));
  const Tensor inv_std = reciprocal(sqrt(var + eps));
  const Tensor xhat = centered * inv_std;
  const Tensor dscale = sum(dy * xhat, axes, true);  // [1, C, 1...]
  const Tensor db = sum(dy, axes, true);
  if (g.needs_input_grad(1)) g.set_input_grad(1, dscale.reshape(scale.shape()));
  if (g.needs_input_grad(2)) g.set_input_grad(2, db.reshape(scale.shape()));
  if (!training) {
    const Tensor a = per_channel(scale) * inv_std;
    if (g.needs_input_grad(0)) g.set_input_grad(0, dy * a);
    if (g.needs_input_grad(3)) g.set_input_grad(3, (-(db * a)).reshape(scale.shape()));
    if (g.needs_input_grad(4))
      g.set_input_grad(4, (dscale * per_channel(scale) * inv_std * inv_std * -0.5).reshape(scale.shape()));
    return;
  }
  if (g.needs_input_grad(0)) {
    Tensor dx = normalized_input_grad(dy * per_channel(scale), xhat, inv_std, axes);
    // The running statistics depend on X through the batch mean and the biased variance
    // mean(centered^2), whose gradient is 2 * centered / count (the mean's own term sums to 0).
    if (g.num_outputs() > 1 && g.has_output_grad(1))
      dx = dx + per_channel(g.output_grad(1)) * ((1 - momentum) / count);
    if (g.num_outputs() > 2 && g.has_output_grad(2))
      dx = dx + centered * per_channel(g.output_grad(2)) * (2 * (1 - momentum) / count);
    g.set_input_grad(0, dx);
  }
  for (size_t i = 3; i < 5; ++i)
    if (g.num_outputs() > i - 2 && g.has_output_grad(i - 2)) g.set_input_grad(i, g.output_grad(i - 2) * momentum);
}

// LayerNormalization over the dims from `axis` on; Scale and B broadcast to them. The optional
// Mean and InvStdDev outputs (in stash_type) also carry gradients back to X.
void grad_layer_norm(GradContext& g) {
  const Tensor& x = g.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  const int64_t axis = g.attr_int("axis") < 0 ? g.attr_int("axis") + rank : g.attr_int("axis");
  std::vector<int64_t> axes;
  for (int64_t d = axis; d < rank; ++d) axes.push_back(d);
  double count = 1;
  for (int64_t d : axes) count *= static_cast<double>(x.dim(d));
  const Tensor dy = g.output_grad(0);
  const Tensor centered = x - mean(x, axes, true);
  const Tensor inv_std = reciprocal(sqrt(mean(centered * centered, axes, true) + static_cast<double>(g.attr_float("epsilon"))));
  const Tensor xhat = centered * inv_std;
  if (g.needs_input_grad(1)) g.set_input_grad(1, sum_to(dy * xhat, g.input(1).shape()));
  if (g.num_inputs() > 2 && g.needs_input_grad(2)) g.set_input_grad(2, sum_to(dy, g.input(2).shape()));
  if (!g.needs_input_grad(0)) return;
  Tensor dx = normalized_input_grad(dy * g.input(1), xhat, inv_std, axes);
  // d mean / dX = 1 / count; d inv_std / dX = -inv_std^3 (x - mean) / count.
  if (g.num_outputs() > 1 && g.has_output_grad(1)) dx = dx + cast(g.output_grad(1), x.dtype()) / count;
  if (g.num_outputs() > 2 && g.has_output_grad(2))
    dx = dx - cast(g.output_grad(2), x.dtype()) * inv_std * inv_std * xhat / count;
  g.set_input_grad(0, dx);
}

// RMSNormalization: with r = 1 / sqrt(mean(x^2) + eps) over the normalized axes and
// gy = dY * scale, dX = r * (gy - x * r^2 * mean(gy * x)) and dscale = sum_to(dY * x * r).
void grad_rms_norm(GradContext& g) {
  const Tensor& x = g.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  const int64_t axis = g.attr_int("axis") < 0 ? g.attr_int("axis") + rank : g.attr_int("axis");
  std::vector<int64_t> axes;
  for (int64_t d = axis; d < rank; ++d) axes.push_back(d);
  const Tensor dy = g.output_grad(0);
  const Tensor r = reciprocal(sqrt(mean(x * x, axes, true) + static_cast<double>(g.attr_float("epsilon"))));
  if (g.needs_input_grad(1)) g.set_input_grad(1, sum_to(dy * x * r, g.input(1).shape()));
  if (!g.needs_input_grad(0)) return;
  const Tensor gy = dy * g.input(1);
  g.set_input_grad(0, r * (gy - x * r * r * mean(gy * x, axes, true)));
}

// ---- Gradients of Dropout, InstanceNormalization, LpNormalization, MeanVarianceNormalization

// Dropout: the identity in inference. In training (training_mode, opset 12+) y = x * mask /
// (1 - ratio), which needs the mask output.
void grad_dropout(GradContext& g) {
  const Tensor dy = g.output_grad(0);
  const bool training = g.num_inputs() > 2 && g.input(2).defined() && g.input(2).item<double>() != 0;
  if (!training) return g.set_input_grad(0, dy);
  if (g.num_outputs() < 2) g.fail("training-mode Dropout without its mask output is not differentiable");
  const double ratio = g.num_inputs() > 1 && g.input(1).defined() ? g.input(1).item<double>() : 0.5;
  g.set_input_grad(0, dy * mask_like(g.output(1), dy) / (1.0 - ratio));
}

// InstanceNormalization: per sample and channel over the spatial dims of X [N, C, ...], with a
// per-channel scale and B.
void grad_instance_norm(GradContext& g) {
  const Tensor& x = g.input(0);
  Dims channel_shape(x.rank(), 1);
  channel_shape[1] = x.dim(1);
  std::vector<int64_t> spatial;
  for (size_t d = 2; d < x.rank(); ++d) spatial.push_back(static_cast<int64_t>(d));
  std::vector<int64_t> all_but_channel = spatial;
  all_but_channel.insert(all_but_channel.begin(), 0);
  const Tensor dy = g.output_grad(0);
  const Tensor centered = x - mean(x, spatial, true);
  const Tensor inv_std = reciprocal(sqrt(mean(centered * centered, spatial, true) + g.attr_float("epsilon")));
  const Tensor xhat = centered * inv_std;
  if (g.needs_input_grad(1)) g.set_input_grad(1, sum(dy * xhat, all_but_channel).reshape(g.input(1).shape()));
  if (g.needs_input_grad(2)) g.set_input_grad(2, sum(dy, all_but_channel).reshape(g.input(2).shape()));
  if (g.needs_input_grad(0))
    g.set_input_grad(0, normalized_input_grad(dy * g.input(1).reshape(channel_shape), xhat, inv_std, spatial));
}

// LpNormalization: y = x / n along axis, n = sum |x| (p = 1) or sqrt(sum x^2) (p = 2), so
// dx = (dy - dn * sum(dy * y)) / n with dn = dn/dx * n: sign(x) for p = 1, y for p = 2.
void grad_lp_norm(GradContext& g) {
  const Tensor &x = g.input(0), &y = g.output(0), dy = g.output_grad(0);
  const int64_t axis = g.attr_int("axis") < 0 ? g.attr_int("axis") + static_cast<int64_t>(x.rank()) : g.attr_int("axis");
  const bool l1 = g.attr_int("p") == 1;
  const Tensor n = l1 ? sum(abs(x), {axis}, true) : sqrt(sum(x * x, {axis}, true));
  g.set_input_grad(0, (dy - (l1 ? sign(x) : y) * sum(dy * y, {axis}, true)) / n);
}

// MeanVarianceNormalization: y = c / s over `axes` with c = x - mean(x), sigma = sqrt(mean(c^2))
// and s = sigma + 1e-9 (ONNX's function body), so
// dx = (dy - mean(dy)) / s - c * mean(dy * c) / (sigma * s^2).
void grad_mvn(GradContext& g) {
  const Tensor& x = g.input(0);
  const std::vector<int64_t> axes = normalized_axes(g.attr_ints("axes"), static_cast<int64_t>(x.rank()));
  const Tensor dy = g.output_grad(0);
  const Tensor c = x - mean(x, axes, true);
  const Tensor sigma = sqrt(mean(c * c, axes, true));
  const Tensor s = sigma + 1e-9;
  g.set_input_grad(0, (dy - mean(dy, axes, true)) / s - c * mean(dy * c, axes, true) / (sigma * s * s));
}

// TopK: the gradient of Values goes back to the input positions Indices names (distinct along
// the axis, so a ScatterElements-add into zeros); Indices is integer and has none.
void grad_top_k(GradContext& g) {
  const Tensor& x = g.input(0);
  const Tensor dv = g.output_grad(0);
  if (dv.numel() == 0) return g.set_input_grad(0, zeros_like(x));
  const int64_t axis = g.attr_int("axis");
  Attributes attrs;
  attrs.set("axis", axis < 0 ? axis + static_cast<int64_t>(x.rank()) : axis);
  attrs.set("reduction", std::string("add"));
  g.set_input_grad(0, run_op1("ScatterElements", {zeros_like(x), g.output(1), dv}, attrs));
}

}  // namespace

void register_norm_ops(OpRegistry& registry) {
  // Opset 6 and older had is_test/consumed_inputs; kiln starts at 7.
  registry.add(OpDef("BatchNormalization")
                   .opsets(7)
                   .inputs(5, 5)
                   .outputs(1, 5)
                   .attr("epsilon", AttrType::kFloat, float_attr(1e-5f))
                   .attr("momentum", AttrType::kFloat, float_attr(0.9f))
                   .attr("spatial", AttrType::kInt, int_attr(1))        // opsets 7 and 8 only
                   .attr("training_mode", AttrType::kInt, int_attr(0))  // since opset 14
                   .infer(infer_batch_norm)
                   .grad(grad_batch_norm));
  registry.add(OpDef("LayerNormalization")
                   .opsets(17)
                   .inputs(2, 3)
                   .outputs(1, 3)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .attr("epsilon", AttrType::kFloat, float_attr(1e-5f))
                   .attr("stash_type", AttrType::kInt, int_attr(1))
                   .infer(infer_layer_norm)
                   .grad(grad_layer_norm));
  // ONNX has one version (23) up to opset 28.
  registry.add(OpDef("RMSNormalization")
                   .opsets(23, 28)
                   .inputs(2, 2)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .attr("epsilon", AttrType::kFloat, float_attr(1e-5f))
                   .attr("stash_type", AttrType::kInt, int_attr(1))
                   .infer(infer_rms_norm)
                   .grad(grad_rms_norm));
  // Dropout-7..11 had a `ratio` attribute; from 12 on ratio and training_mode are inputs.
  // Inference only: identity, with an all-true mask.
  registry.add(OpDef("Dropout")
                   .opsets(7)
                   .inputs(1, 3)
                   .outputs(1, 2)
                   .attr("ratio", AttrType::kFloat, float_attr(0.5f))  // before opset 12
                   .optional_attr("seed", AttrType::kInt)              // since opset 12
                   .infer(infer_dropout)
                   .grad(grad_dropout));
  registry.add(OpDef("InstanceNormalization")
                   .opsets(6)
                   .inputs(3, 3)
                   .attr("epsilon", AttrType::kFloat, float_attr(1e-5f))
                   .infer(infer_instance_norm)
                   .grad(grad_instance_norm));
  registry.add(OpDef("LpNormalization")
                   .opsets(1)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .attr("p", AttrType::kInt, int_attr(2))
                   .infer(infer_lp_norm)
                   .grad(grad_lp_norm));
  registry.add(OpDef("MeanVarianceNormalization")
                   .opsets(9)
                   .attr("axes", AttrType::kInts, ints_attr({0, 2, 3}))
                   .infer(infer_mvn)
                   .grad(grad_mvn));
  // `axis` has no schema default: 1 (2-D coercion) before opset 13, -1 (one axis) from 13 on.
  // k: an attribute before opset 10, input 1 after (known at plan time); largest/sorted since 11.
  registry.add(OpDef("TopK")
                   .opsets(1)
                   .inputs(1, 2)
                   .outputs(2, 2)
                   .optional_attr("k", AttrType::kInt)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .attr("largest", AttrType::kInt, int_attr(1))
                   .attr("sorted", AttrType::kInt, int_attr(1))
                   .shape_inputs({1})
                   .infer(infer_top_k)
                   .grad(grad_top_k));
}

}  // namespace kiln::ops
