// Conv and ConvTranspose (any number of spatial dims; the CPU backend runs 1-D and 2-D).
#include <fmt/format.h>

#include <algorithm>

#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

// Spatial dim count from X, else W, else kernel_shape; std::nullopt when none has a rank.
std::optional<size_t> spatial_count(const InferContext& c) {
  const Shape& x = c.input_shape(0);
  const Shape& w = c.input_shape(1);
  require_rank(c, 0, x, 3);
  require_rank(c, 1, w, 3);
  if (x.has_rank() && w.has_rank() && x.rank() != w.rank())
    c.fail("input X has shape {} but weight W has shape {}; their ranks must match", x.to_string(),
           w.to_string());
  if (x.has_rank()) return x.rank() - 2;
  if (w.has_rank()) return w.rank() - 2;
  if (c.has_attr("kernel_shape")) return c.attr_ints("kernel_shape").size();
  return std::nullopt;
}

// The weight's spatial dims when all are static.
std::optional<std::vector<int64_t>> weight_kernel(const Shape& w) {
  if (!w.has_rank()) return std::nullopt;
  std::vector<int64_t> k;
  for (size_t i = 2; i < w.rank(); ++i) {
    if (!w[i].is_static()) return std::nullopt;
    k.push_back(w[i].value());
  }
  return k;
}

Dim dim_at(const Shape& s, size_t i) { return s.has_rank() ? s[i] : Dim(); }

void check_bias(const InferContext& c, const Dim& channels) {
  if (!c.has_input(2)) return;
  require_same_dtype(c, 0, 2);
  const Shape& b = c.input_shape(2);
  require_rank(c, 2, b, 1, 1);
  if (b.has_rank() && !merge_dim(b[0], channels))
    c.fail("bias B has shape {}, expected [{}] (one value per output channel)", b.to_string(),
           channels.to_string());
}

int64_t read_group(const InferContext& c) {
  int64_t group = c.attr_int("group");
  if (group < 1) c.fail("group is {}, expected >= 1", group);
  return group;
}

void infer_conv(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  DType dtype = c.input_dtype(0);
  std::optional<size_t> n = spatial_count(c);
  if (!n) return c.set_output(0, dtype, Shape::unknown_rank());
  const Shape& x = c.input_shape(0);
  const Shape& w = c.input_shape(1);
  int64_t group = read_group(c);
  Dim in_channels = dim_at(x, 1), m = dim_at(w, 0), w_channels = dim_at(w, 1);
  if (in_channels.is_static() && w_channels.is_static() &&
      in_channels.value() != checked_mul(c, w_channels.value(), group))
    c.fail("input X {} has {} channels, but weight W {} expects {} ({} per group x group {})", x.to_string(),
           in_channels.value(), w.to_string(), w_channels.value() * group, w_channels.value(), group);
  if (m.is_static() && m.value() % group != 0)
    c.fail("weight W {} has {} output channels, not divisible by group {}", w.to_string(), m.value(), group);
  check_bias(c, m);
  Window win = read_window(c, *n, weight_kernel(w));
  std::vector<Dim> out{dim_at(x, 0), m};
  for (size_t i = 0; i < *n; ++i) out.push_back(window_output(c, win, i, dim_at(x, i + 2)));
  c.set_output(0, dtype, Shape(std::move(out)));
}

void infer_conv_transpose(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  DType dtype = c.input_dtype(0);
  std::optional<size_t> n = spatial_count(c);
  if (!n) return c.set_output(0, dtype, Shape::unknown_rank());
  const Shape& x = c.input_shape(0);
  const Shape& w = c.input_shape(1);
  int64_t group = read_group(c);
  // W is [C, M / group, k...].
  Dim in_channels = dim_at(x, 1), w_in = dim_at(w, 0);
  if (!merge_dim(in_channels, w_in))
    c.fail("input X {} has {} channels, but weight W {} expects {}", x.to_string(), in_channels.to_string(),
           w.to_string(), w_in.to_string());
  if (w_in.is_static() && w_in.value() % group != 0)
    c.fail("weight W {} has {} input channels, not divisible by group {}", w.to_string(), w_in.value(),
           group);
  Dim m = dim_scale(c, dim_at(w, 1), group);
  check_bias(c, m);
  Window win = read_window(c, *n, weight_kernel(w));
  std::vector<int64_t> output_padding =
      c.has_attr("output_padding") ? c.attr_ints("output_padding") : std::vector<int64_t>(*n, 0);
  if (output_padding.size() != *n)
    c.fail("attribute 'output_padding' has {} values, expected {}", output_padding.size(), *n);
  for (size_t i = 0; i < *n; ++i)
    if (output_padding[i] < 0) c.fail("output_padding[{}] is {}, expected >= 0", i, output_padding[i]);
  std::vector<Dim> out{dim_at(x, 0), m};
  if (c.has_attr("output_shape")) {
    // output_shape gives the spatial dims (some exporters also include N and C).
    std::vector<int64_t> shape = c.attr_ints("output_shape");
    if (shape.size() == *n + 2) shape.erase(shape.begin(), shape.begin() + 2);
    if (shape.size() != *n)
      c.fail("attribute 'output_shape' has {} values, expected {}", c.attr_ints("output_shape").size(), *n);
    for (int64_t d : shape) {
      if (d < 0) c.fail("output_shape [{}] has a negative dim", fmt::join(shape, ","));
      out.emplace_back(d);
    }
  } else {
    for (size_t i = 0; i < *n; ++i)
      out.push_back(transposed_output(c, win, i, dim_at(x, i + 2), output_padding[i]));
  }
  c.set_output(0, dtype, Shape(std::move(out)));
}

OpDef conv_common(const char* name) {
  return OpDef(name)
      .opsets(1)
      .inputs(2, 3)
      .attr("auto_pad", AttrType::kString, string_attr("NOTSET"))
      .optional_attr("dilations", AttrType::kInts)
      .attr("group", AttrType::kInt, int_attr(1))
      .optional_attr("kernel_shape", AttrType::kInts)
      .optional_attr("pads", AttrType::kInts)
      .optional_attr("strides", AttrType::kInts);
}

// ---- Gradients. A Conv and the ConvTranspose with the same weights and window are adjoint
// linear maps, so each one's input gradient is the other op; the weight gradient of both is
// kiln.ConvGradWeight (runtime/ops/backward.cpp), the bias gradient a sum over N and space.

// The window attributes of the Conv from `in` to `out` (spatial dims) that both ops'
// gradients run, with auto_pad and ConvTranspose's output_shape resolved to explicit pads.
Attributes conv_window(const GradContext& g, const Dims& in, const Dims& out, const Dims& kernel, bool transposed) {
  const size_t n = kernel.size();
  const Attributes& a = g.attrs();
  Dims strides = a.get_ints("strides", Dims(n, 1)), dilations = a.get_ints("dilations", Dims(n, 1));
  Dims pads = a.get_ints("pads", Dims(2 * n, 0)), output_padding = a.get_ints("output_padding", Dims(n, 0));
  const std::string auto_pad = g.attr_string("auto_pad");
  const bool derive = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER" || a.has("output_shape");
  for (size_t d = 0; d < n; ++d) {
    if (auto_pad == "VALID") pads[d] = pads[n + d] = 0;
    if (!derive) continue;
    // ONNX splits the total padding evenly, the odd one at the end only for SAME_UPPER.
    int64_t total = (out[d] - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - in[d];
    if (transposed) total += output_padding[d];
    if (total < 0 && transposed) g.fail("an output_shape longer than the full transposed output is not supported");
    total = std::max<int64_t>(total, 0);
    pads[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    pads[n + d] = total - pads[d];
  }
  Attributes w;
  w.set("strides", strides);
  w.set("dilations", dilations);
  w.set("pads", pads);
  w.set("group", g.attr_int("group"));
  w.set("kernel_shape", kernel);
  return w;
}

Dims spatial(const Tensor& t) { return Dims(t.shape().begin() + 2, t.shape().end()); }

// Sum of dY over every axis but the channels.
Tensor bias_grad(const Tensor& dy) {
  std::vector<int64_t> axes{0};
  for (size_t d = 2; d < dy.rank(); ++d) axes.push_back(static_cast<int64_t>(d));
  return sum(dy, axes);
}

// Conv(X, W): x -> y. dX = ConvTranspose(dY, W), its output_padding restoring the input
// size that the forward's floor division dropped.
void grad_conv(GradContext& g) {
  const Tensor &x = g.input(0), &w = g.input(1);
  const Tensor dy = g.output_grad(0);
  const Attributes win = conv_window(g, spatial(x), spatial(dy), spatial(w), false);
  if (g.needs_input_grad(0)) {
    const Dims strides = win.get_ints("strides", {}), dil = win.get_ints("dilations", {}), pads = win.get_ints("pads", {});
    const size_t n = strides.size();
    Dims output_padding(n);
    for (size_t d = 0; d < n; ++d)
      output_padding[d] = x.dim(static_cast<int64_t>(d + 2)) + pads[d] + pads[n + d] -
                          ((dy.dim(static_cast<int64_t>(d + 2)) - 1) * strides[d] + (w.dim(static_cast<int64_t>(d + 2)) - 1) * dil[d] + 1);
    Attributes a = win;
    a.set("output_padding", output_padding);
    g.set_input_grad(0, run_op1("ConvTranspose", {dy, w}, a));
  }
  const bool bias = g.num_inputs() > 2 && g.needs_input_grad(2);
  if (g.needs_input_grad(1)) {
    std::vector<Tensor> grads = run_op("ConvGradWeight", {x, dy}, win, bias ? 2 : 1, "kiln");
    g.set_input_grad(1, grads[0]);
    if (bias) g.set_input_grad(2, grads[1]);  // from the same pass over dY
  } else if (bias) {
    g.set_input_grad(2, bias_grad(dy));
  }
}

// ConvTranspose(X, W) is the adjoint of Conv(., W) from y-space to x-space: dX = Conv(dY, W)
// and dW = ConvGradWeight with dY as that Conv's input and X as its output gradient.
void grad_conv_transpose(GradContext& g) {
  const Tensor &x = g.input(0), &w = g.input(1);
  const Tensor dy = g.output_grad(0);
  const Attributes win = conv_window(g, spatial(dy), spatial(x), spatial(w), true);
  if (g.needs_input_grad(0)) g.set_input_grad(0, run_op1("Conv", {dy, w}, win));
  if (g.needs_input_grad(1)) g.set_input_grad(1, run_op1("ConvGradWeight", {dy, x}, win, "kiln"));
  if (g.num_inputs() > 2 && g.needs_input_grad(2)) g.set_input_grad(2, bias_grad(dy));
}

}  // namespace

void register_conv_ops(OpRegistry& registry) {
  registry.add(conv_common("Conv").infer(infer_conv).grad(grad_conv));
  registry.add(conv_common("ConvTranspose")
                   .optional_attr("output_padding", AttrType::kInts)
                   .optional_attr("output_shape", AttrType::kInts)
                   .infer(infer_conv_transpose)
                   .grad(grad_conv_transpose));
}

}  // namespace kiln::ops
