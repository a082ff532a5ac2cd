// Resize (opsets 10-18) and Upsample (opsets 7-9): nearest, linear and cubic interpolation
// over N-d tensors. Scales/sizes (and roi) are shape inputs: the output shape is planned.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

// A float tensor's elements as doubles (f32/f64/f16 go through to_vector).
std::optional<std::vector<double>> float_values(const InferContext& c, size_t i) {
  const Tensor* t = c.input_value(i);
  if (t == nullptr) return std::nullopt;
  std::vector<double> out;
  if (t->dtype() == DType::kF32) {
    for (float f : t->to_vector<float>()) out.push_back(f);
  } else if (t->dtype() == DType::kF64) {
    out = t->to_vector<double>();
  } else {
    c.fail("input {} must be f32 or f64", i);
  }
  return out;
}

bool is_present_nonempty(const InferContext& c, size_t i) {
  if (!c.has_input(i)) return false;
  const Shape& s = c.input_shape(i);
  return !(s.has_rank() && s.rank() == 1 && s[0].is_static() && s[0].value() == 0);
}

void check_mode(const InferContext& c, bool upsample) {
  std::string mode = c.attr_string("mode");
  if (mode != "nearest" && mode != "linear" && mode != "cubic" && !(upsample && mode == "bilinear"))
    c.fail("mode is '{}', expected nearest, linear or cubic", mode);
  if (upsample && mode == "cubic") c.fail("Upsample does not support mode 'cubic'");
}

// Output dims from per-axis scales: floor(in * scale).
void set_scaled_output(InferContext& c, const std::vector<double>& scales, const std::vector<int64_t>& axes) {
  const Shape& x = c.input_shape(0);
  std::vector<Dim> out = x.dims();
  for (size_t k = 0; k < axes.size(); ++k) {
    auto a = static_cast<size_t>(axes[k]);
    if (!(scales[k] > 0)) c.fail("scales must be positive, got {}", scales[k]);
    if (x[a].is_static())
      out[a] = Dim(static_cast<int64_t>(std::floor(static_cast<double>(x[a].value()) * scales[k])));
    else if (scales[k] != 1.0)
      out[a] = Dim();
  }
  c.set_output(0, c.input_dtype(0), Shape(std::move(out)));
}

void infer_upsample(InferContext& c) {
  check_mode(c, true);
  require_numeric(c, 0);
  const Shape& x = c.input_shape(0);
  std::optional<std::vector<double>> scales;
  if (c.opset() < 9) {
    limit_inputs(c, 1);
    if (!c.has_attr("scales")) c.fail("attribute 'scales' is required before opset 9");
    scales.emplace();
    for (float f : c.attr_floats("scales")) scales->push_back(f);
  } else {
    forbid_attr_since(c, "scales", 9, "scales is input 1");
    if (!c.has_input(1)) c.fail("input 1 (scales) is required from opset 9 on");
    scales = float_values(c, 1);
  }
  if (!x.has_rank()) return c.set_output(0, c.input_dtype(0), Shape::unknown_rank());
  if (!scales) return c.set_output(0, c.input_dtype(0), unknown_dims(x.rank()));
  if (scales->size() != x.rank()) c.fail("scales has {} entries, expected {}", scales->size(), x.rank());
  std::vector<int64_t> axes(x.rank());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  set_scaled_output(c, *scales, axes);
}

void infer_resize(InferContext& c) {
  check_mode(c, false);
  require_numeric(c, 0);
  const std::string ctm = c.attr_string("coordinate_transformation_mode");
  if (ctm != "half_pixel" && ctm != "asymmetric" && ctm != "align_corners" && ctm != "pytorch_half_pixel" &&
      ctm != "tf_crop_and_resize" && ctm != "half_pixel_symmetric" && ctm != "tf_half_pixel_for_nn")
    c.fail("coordinate_transformation_mode '{}' is not known", ctm);
  if (ctm == "half_pixel_symmetric" && c.opset() < 19)
    c.fail("coordinate_transformation_mode 'half_pixel_symmetric' needs opset >= 19, the model has opset {}",
           c.opset());
  const std::string nm = c.attr_string("nearest_mode");
  if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil")
    c.fail("nearest_mode '{}' is not known", nm);
  const std::string policy = c.attr_string("keep_aspect_ratio_policy");
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
    c.fail("keep_aspect_ratio_policy '{}' is not known", policy);
  if (c.opset() < 18) {
    if (c.has_attr("antialias")) c.fail("attribute 'antialias' arrives at opset 18");
    if (c.has_attr("axes")) c.fail("attribute 'axes' arrives at opset 18");
    if (c.has_attr("keep_aspect_ratio_policy"))
      c.fail("attribute 'keep_aspect_ratio_policy' arrives at opset 18");
  }
  const Shape& x = c.input_shape(0);
  const DType dtype = c.input_dtype(0);
  const size_t scales_input = c.opset() < 11 ? 1 : 2;
  if (c.opset() < 11) {
    limit_inputs(c, 2);
    if (!c.has_input(1)) c.fail("input 1 (scales) is required at opset 10");
  }
  const bool has_scales = is_present_nonempty(c, scales_input);
  const bool has_sizes = c.opset() >= 11 && is_present_nonempty(c, 3);
  if (has_scales == has_sizes) c.fail("exactly one of scales and sizes must be given");
  if (!x.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  const auto rank = static_cast<int64_t>(x.rank());
  std::vector<int64_t> axes;
  if (c.has_attr("axes")) {
    axes = normalize_axes(c, c.attr_ints("axes"), rank);
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  if (has_scales) {
    auto scales = float_values(c, scales_input);
    if (!scales) return c.set_output(0, dtype, unknown_dims(x.rank()));
    if (scales->size() != axes.size())
      c.fail("scales has {} entries, expected {}", scales->size(), axes.size());
    return set_scaled_output(c, *scales, axes);
  }
  require_index(c, 3);
  auto sizes = c.input_ints(3);
  if (!sizes) return c.set_output(0, dtype, unknown_dims(x.rank()));
  if (sizes->size() != axes.size()) c.fail("sizes has {} entries, expected {}", sizes->size(), axes.size());
  std::vector<Dim> out = x.dims();
  if (policy == "stretch") {
    for (size_t k = 0; k < axes.size(); ++k) {
      if ((*sizes)[k] < 0) c.fail("sizes must not be negative");
      out[static_cast<size_t>(axes[k])] = Dim((*sizes)[k]);
    }
    return c.set_output(0, dtype, Shape(std::move(out)));
  }
  double scale = policy == "not_larger" ? INFINITY : 0.0;
  for (size_t k = 0; k < axes.size(); ++k) {
    const Dim& d = x[static_cast<size_t>(axes[k])];
    if (!d.is_static()) return c.set_output(0, dtype, unknown_dims(x.rank()));
    double s = static_cast<double>((*sizes)[k]) / static_cast<double>(d.value());
    scale = policy == "not_larger" ? std::min(scale, s) : std::max(scale, s);
  }
  for (int64_t a : axes) {
    auto i = static_cast<size_t>(a);
    out[i] = Dim(static_cast<int64_t>(std::floor(static_cast<double>(x[i].value()) * scale + 0.5)));
  }
  c.set_output(0, dtype, Shape(std::move(out)));
}

// Nearest Resize and Upsample copy each output element from one input element, so dX sums dY
// over the outputs each input element was copied to. Which one is read by running the same
// forward (same opset, scales, sizes, roi, axes and rounding) on the input's 1-based flat
// positions as i64; 0 marks an extrapolated output (tf_crop_and_resize), which reads no input.
// dY is then added at those positions into zeros (slot 0 dropped). Linear and cubic fail.
void grad_resize_nearest(GradContext& g) {
  const bool upsample = g.def().name() == "Upsample";
  const std::string mode = g.attr_string("mode");
  if (mode != "nearest")
    g.fail(fmt::format("mode '{}' is not differentiable in kiln (only 'nearest' is)", mode));
  const Tensor& x = g.input(0);
  const Tensor dy = g.output_grad(0);
  const int64_t n = x.numel(), m = dy.numel();
  if (n == 0 || m == 0) return g.set_input_grad(0, zeros_like(x));
  std::vector<int64_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = i + 1;
  Tensor index = Tensor::from_vector<int64_t>(x.shape(), positions);
  if (!x.device().is_host()) index = index.to(x.device());
  Attributes attrs;
  attrs.set("mode", std::string("nearest"));
  if (upsample) {
    if (g.opset() < 9) attrs.set("scales", g.attrs().get_floats("scales", {}));
  } else if (g.opset() >= 11) {
    attrs.set("coordinate_transformation_mode", g.attr_string("coordinate_transformation_mode"));
    attrs.set("nearest_mode", g.attr_string("nearest_mode"));
    attrs.set("extrapolation_value", 0.0f);
    if (g.opset() >= 18) {
      if (g.attrs().has("axes")) attrs.set("axes", g.attr_ints("axes"));
      attrs.set("keep_aspect_ratio_policy", g.attr_string("keep_aspect_ratio_policy"));
    }
  }
  std::vector<Tensor> inputs{index};
  for (size_t i = 1; i < g.num_inputs(); ++i) inputs.push_back(g.input(i));
  const Tensor source = run_op1(g.def().name(), inputs, attrs, "", g.opset()).reshape({m});
  Attributes scatter;
  scatter.set("axis", int64_t{0});
  scatter.set("reduction", std::string("add"));
  const Tensor zeros = Tensor::zeros({n + 1}, x.dtype(), x.device());
  const Tensor dx = run_op1("ScatterElements", {zeros, source, dy.reshape({m})}, scatter);
  g.set_input_grad(0, slice(dx, 0, 1, n + 1).reshape(x.shape()));
}

}  // namespace

void register_resize_ops(OpRegistry& registry) {
  // Upsample-7 takes scales as an attribute; at 9 they become input 1. Deprecated at 10.
  registry.add(OpDef("Upsample")
                   .opsets(7, 9)
                   .inputs(1, 2)
                   .attr("mode", AttrType::kString, string_attr("nearest"))
                   .optional_attr("scales", AttrType::kFloats)
                   .shape_inputs({1})
                   .infer(infer_upsample)
                   .grad(grad_resize_nearest));
  // Resize-10: X, scales. From 11: X, roi, scales, sizes. antialias, axes and
  // keep_aspect_ratio_policy arrive at 18; coordinate_transformation_mode half_pixel_symmetric at 19.
  registry.add(OpDef("Resize")
                   .opsets(10)
                   .inputs(1, 4)
                   .attr("mode", AttrType::kString, string_attr("nearest"))
                   .attr("coordinate_transformation_mode", AttrType::kString, string_attr("half_pixel"))
                   .attr("nearest_mode", AttrType::kString, string_attr("round_prefer_floor"))
                   .attr("cubic_coeff_a", AttrType::kFloat, float_attr(-0.75f))
                   .attr("exclude_outside", AttrType::kInt, int_attr(0))
                   .attr("extrapolation_value", AttrType::kFloat, float_attr(0.0f))
                   .attr("antialias", AttrType::kInt, int_attr(0))
                   .optional_attr("axes", AttrType::kInts)
                   .attr("keep_aspect_ratio_policy", AttrType::kString, string_attr("stretch"))
                   .shape_inputs({1, 2, 3})
                   .infer(infer_resize)
                   .grad(grad_resize_nearest));
}

}  // namespace kiln::ops
