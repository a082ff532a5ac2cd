// Resize and Upsample cases. The references compute each output element directly from the
// ONNX spec: nearest by index, linear as an explicit 2-D bilinear blend, cubic (and N-d
// linear) as the full product of per-axis 1-D weights.

#include <algorithm>
#include <cmath>

#include "op_case.h"
#include "test_backends.h"

namespace kiln::test {
namespace {

struct Spec {
  std::string mode = "nearest";
  std::string ctm = "half_pixel";
  std::string nearest_mode = "round_prefer_floor";
  double a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
};

// x_original for output coordinate x of one axis (ONNX Resize-19's formulas). The resized
// length is in * scale, unfloored, as in ONNX's reference implementation; out_len is the output
// axis' length (half_pixel_symmetric centres the out_len / (in * scale) part of the canvas).
double to_original(const Spec& s, int64_t x, double scale, int64_t in, double r0, double r1,
                   int64_t out_len) {
  const double xd = static_cast<double>(x), n = static_cast<double>(in), m = n * scale;
  if (s.ctm == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(out_len) / m, offset = n / 2 * (1 - adjustment);
    return offset + (xd + 0.5) / scale - 0.5;
  }
  if (s.ctm == "asymmetric") return xd / scale;
  if (s.ctm == "align_corners") return m == 1 ? 0 : xd * (n - 1) / (m - 1);
  if (s.ctm == "pytorch_half_pixel") return m > 1 ? (xd + 0.5) / scale - 0.5 : 0;
  if (s.ctm == "tf_crop_and_resize")
    return m > 1 ? r0 * (n - 1) + xd * (r1 - r0) * (n - 1) / (m - 1) : 0.5 * (r0 + r1) * (n - 1);
  return (xd + 0.5) / scale - 0.5;  // half_pixel
}

int64_t clamp_index(int64_t i, int64_t n) { return std::max<int64_t>(0, std::min<int64_t>(i, n - 1)); }

int64_t round_nearest(const Spec& s, double x) {
  if (s.nearest_mode == "floor") return static_cast<int64_t>(std::floor(x));
  if (s.nearest_mode == "ceil") return static_cast<int64_t>(std::ceil(x));
  const double f = std::floor(x);
  if (x - f < 0.5) return static_cast<int64_t>(f);
  if (x - f > 0.5) return static_cast<int64_t>(f) + 1;
  return static_cast<int64_t>(s.nearest_mode == "round_prefer_ceil" ? f + 1 : f);
}

// Keys' cubic convolution weight at distance d.
double cubic_weight(double d, double a) {
  d = std::abs(d);
  if (d < 1) return (a + 2) * d * d * d - (a + 3) * d * d + 1;
  if (d < 2) return a * d * d * d - 5 * a * d * d + 8 * a * d - 4 * a;
  return 0;
}

struct Weights {
  std::vector<std::pair<int64_t, double>> taps;
  bool outside = false;
};

Weights axis_weights(const Spec& s, int64_t o, double scale, int64_t in, double r0, double r1,
                     int64_t out_len) {
  Weights w;
  const double x = to_original(s, o, scale, in, r0, r1, out_len);
  if (s.ctm == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(in - 1))) {
    w.outside = true;
    return w;
  }
  if (s.mode == "nearest") {
    w.taps.push_back({clamp_index(round_nearest(s, x), in), 1.0});
  } else if (s.mode == "linear") {
    const double f = std::floor(x);
    w.taps.push_back({clamp_index(static_cast<int64_t>(f), in), 1 - (x - f)});
    w.taps.push_back({clamp_index(static_cast<int64_t>(f) + 1, in), x - f});
  } else {
    const int64_t f = static_cast<int64_t>(std::floor(x));
    double total = 0;
    for (int64_t i = f - 1; i <= f + 2; ++i) {
      if (s.exclude_outside && (i < 0 || i >= in)) continue;
      const double wt = cubic_weight(x - static_cast<double>(i), s.a);
      w.taps.push_back({clamp_index(i, in), wt});
      total += wt;
    }
    if (s.exclude_outside)
      for (auto& t : w.taps) t.second /= total;
  }
  return w;
}

// Generic N-d reference: every output element sums the product of its per-axis weights.
Ref resize_ref(const Ref& x, const Spec& s, const Dims& out_shape, const std::vector<double>& scales,
               const std::vector<double>& roi) {
  Ref y(x.dtype, out_shape);
  const auto r = static_cast<size_t>(x.rank());
  for_each_index(out_shape, [&](const Dims& o) {
    std::vector<Weights> ws(r);
    bool outside = false;
    for (size_t d = 0; d < r; ++d) {
      const double r0 = roi.empty() ? 0.0 : roi[d], r1 = roi.empty() ? 1.0 : roi[d + r];
      ws[d] = axis_weights(s, o[d], scales[d], x.shape[d], r0, r1, out_shape[d]);
      outside = outside || ws[d].outside;
    }
    if (outside) {
      y.at(o) = s.extrapolation;
      return;
    }
    Dims counts(r);
    for (size_t d = 0; d < r; ++d) counts[d] = static_cast<int64_t>(ws[d].taps.size());
    double sum = 0;
    for_each_index(counts, [&](const Dims& k) {
      Dims src(r);
      double w = 1;
      for (size_t d = 0; d < r; ++d) {
        src[d] = ws[d].taps[static_cast<size_t>(k[d])].first;
        w *= ws[d].taps[static_cast<size_t>(k[d])].second;
      }
      sum += w * x.at(src);
    });
    y.at(o) = sum;
  });
  return y;
}

// Explicit bilinear blend over the last two axes (leading axes unscaled).
Ref bilinear_ref(const Ref& x, const Spec& s, const Dims& out_shape, double sh, double sw) {
  Ref y(x.dtype, out_shape);
  const size_t r = out_shape.size();
  const int64_t h = x.shape[r - 2], w = x.shape[r - 1];
  for_each_index(out_shape, [&](const Dims& o) {
    double fy =
        std::clamp(to_original(s, o[r - 2], sh, h, 0, 1, out_shape[r - 2]), 0.0, static_cast<double>(h - 1));
    double fx =
        std::clamp(to_original(s, o[r - 1], sw, w, 0, 1, out_shape[r - 1]), 0.0, static_cast<double>(w - 1));
    const int64_t y0 = static_cast<int64_t>(std::floor(fy)), x0 = static_cast<int64_t>(std::floor(fx));
    const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
    const double dy = fy - static_cast<double>(y0), dx = fx - static_cast<double>(x0);
    auto at = [&](int64_t yy, int64_t xx) {
      Dims i = o;
      i[r - 2] = yy;
      i[r - 1] = xx;
      return x.at(i);
    };
    y.at(o) =
        (1 - dy) * ((1 - dx) * at(y0, x0) + dx * at(y0, x1)) + dy * ((1 - dx) * at(y1, x0) + dx * at(y1, x1));
  });
  return y;
}

Dims scaled_shape(const Dims& in, const std::vector<double>& scales) {
  Dims out;
  for (size_t d = 0; d < in.size(); ++d)
    out.push_back(static_cast<int64_t>(std::floor(static_cast<double>(in[d]) * scales[d])));
  return out;
}

std::vector<float> to_f32(const std::vector<double>& v) { return {v.begin(), v.end()}; }

void set_attrs(OpCase& oc, const Spec& s) {
  if (s.mode != "nearest") oc.attr("mode", s.mode.c_str());
  if (s.ctm != "half_pixel") oc.attr("coordinate_transformation_mode", s.ctm.c_str());
  if (s.nearest_mode != "round_prefer_floor") oc.attr("nearest_mode", s.nearest_mode.c_str());
  if (s.a != -0.75) oc.attr("cubic_coeff_a", static_cast<float>(s.a));
  if (s.exclude_outside) oc.attr("exclude_outside", 1);
  if (s.extrapolation != 0.0) oc.attr("extrapolation_value", static_cast<float>(s.extrapolation));
}

// Values as an f32 tensor holds them: ONNX's scales are f32, so the references use these
// (which the f64 twins need, at rtol 1e-10).
std::vector<double> as_f32(const std::vector<double>& values) {
  std::vector<double> out;
  for (double v : values) out.push_back(static_cast<float>(v));
  return out;
}

// Resize-13 with constant scales; the reference is the generic N-d one unless `bilinear`.
OpCase scales_case(const std::string& name, const Tensor& x, const Spec& s, const std::vector<double>& given_scales,
                   bool bilinear = false, const std::vector<double>& given_roi = {}) {
  const std::vector<double> scales = as_f32(given_scales), roi = as_f32(given_roi);
  OpCase oc(name, "Resize");
  oc.at_opset(13).input(x);
  if (roi.empty())
    oc.absent();
  else
    oc.constant(f32({static_cast<int64_t>(roi.size())}, to_f32(roi)));
  oc.constant(f32({static_cast<int64_t>(scales.size())}, to_f32(scales)));
  set_attrs(oc, s);
  return oc.expect([s, scales, bilinear, roi](const Refs& in) {
    Dims out = scaled_shape(in[0].shape, scales);
    const size_t r = out.size();
    if (bilinear) return Refs{bilinear_ref(in[0], s, out, scales[r - 2], scales[r - 1])};
    return Refs{resize_ref(in[0], s, out, scales, roi)};
  });
}

// Resize-13 with constant sizes: scale = out / in per axis.
OpCase sizes_case(const std::string& name, const Tensor& x, const Spec& s, const Dims& sizes,
                  bool bilinear = false, const std::vector<double>& given_roi = {}) {
  const std::vector<double> roi = as_f32(given_roi);
  OpCase oc(name, "Resize");
  oc.at_opset(13).input(x);
  if (roi.empty())
    oc.absent();
  else
    oc.constant(f32({static_cast<int64_t>(roi.size())}, to_f32(roi)));
  oc.absent().constant(i64({static_cast<int64_t>(sizes.size())}, sizes));
  set_attrs(oc, s);
  return oc.expect([s, sizes, bilinear, roi](const Refs& in) {
    std::vector<double> scales;
    for (size_t d = 0; d < sizes.size(); ++d)
      scales.push_back(static_cast<double>(sizes[d]) / static_cast<double>(in[0].shape[d]));
    const size_t r = sizes.size();
    if (bilinear) return Refs{bilinear_ref(in[0], s, sizes, scales[r - 2], scales[r - 1])};
    return Refs{resize_ref(in[0], s, sizes, scales, roi)};
  });
}

// Resize-18 with the axes attribute: scales only for the listed axes.
OpCase axes_case(const std::string& name, const Tensor& x, const Dims& axes,
                 const std::vector<double>& given_scales) {
  const std::vector<double> axis_scales = as_f32(given_scales);
  OpCase oc(name, "Resize");
  oc.at_opset(18).input(x).absent().constant(
      f32({static_cast<int64_t>(axis_scales.size())}, to_f32(axis_scales)));
  oc.attr("axes", axes);
  return oc.expect([axes, axis_scales](const Refs& in) {
    std::vector<double> scales(static_cast<size_t>(in[0].rank()), 1.0);
    for (size_t k = 0; k < axes.size(); ++k)
      scales[static_cast<size_t>(norm_axis(axes[k], in[0].rank()))] = axis_scales[k];
    return Refs{resize_ref(in[0], Spec{}, scaled_shape(in[0].shape, scales), scales, {})};
  });
}

// Upsample (7: scales attribute, 9: scales input) and Resize-10: asymmetric coordinates,
// nearest rounds down.
OpCase legacy_case(const std::string& name, const std::string& op, int opset, const Tensor& x,
                   const std::string& mode, const std::vector<double>& given_scales) {
  const std::vector<double> scales = as_f32(given_scales);
  OpCase oc(name, op);
  oc.at_opset(opset).input(x);
  if (opset < 9) {
    oc.attrs.set("scales", to_f32(scales));
  } else {
    oc.constant(f32({static_cast<int64_t>(scales.size())}, to_f32(scales)));
  }
  if (mode != "nearest") oc.attr("mode", mode.c_str());
  return oc.expect([mode, scales](const Refs& in) {
    Spec s;
    s.mode = mode;
    s.ctm = "asymmetric";
    s.nearest_mode = "floor";
    return Refs{resize_ref(in[0], s, scaled_shape(in[0].shape, scales), scales, {})};
  });
}

std::vector<OpCase> cases() {
  Gen gen(61);
  Spec nearest;
  Spec nearest_ceil_asym{"nearest", "asymmetric", "ceil"};
  Spec nearest_prefer_ceil_align{"nearest", "align_corners", "round_prefer_ceil"};
  Spec linear{"linear"};
  Spec linear_align{"linear", "align_corners"};
  Spec linear_pytorch{"linear", "pytorch_half_pixel"};
  Spec cubic{"cubic"};
  Spec cubic_excl{"cubic", "half_pixel", "round_prefer_floor", -0.5, true};
  Spec cubic_asym{"cubic", "asymmetric"};
  Spec crop{"linear", "tf_crop_and_resize", "round_prefer_floor", -0.75, false, 10.0};
  Spec linear_symmetric{"linear", "half_pixel_symmetric"};
  Spec nearest_symmetric{"nearest", "half_pixel_symmetric"};
  Spec cubic_symmetric{"cubic", "half_pixel_symmetric"};
  Spec crop_nearest{"nearest", "tf_crop_and_resize", "round_prefer_floor", -0.75, false, -1.0};
  return {
      scales_case("ResizeNearestUpScales", gen.uniform({1, 2, 2, 3}), nearest, {1, 1, 2, 1.5}),
      scales_case("ResizeNearestDownScales", gen.uniform({1, 1, 4, 5}), nearest, {1, 1, 0.6, 0.6}),
      sizes_case("ResizeNearestSizesCeilAsymmetric", gen.uniform({2, 3, 5}), nearest_ceil_asym, {2, 7, 3}),
      sizes_case("ResizeNearestSizesPreferCeilAlign", gen.uniform({1, 1, 3, 4}), nearest_prefer_ceil_align,
                 {1, 1, 7, 9}),
      scales_case("ResizeNearestI64", gen.integers({2, 3}, -50, 50), nearest, {2, 0.7}),
      scales_case("ResizeBilinearUp", gen.uniform({1, 2, 3, 4}), linear, {1, 1, 1.5, 2.25}, true),
      scales_case("ResizeBilinearDown", gen.uniform({2, 1, 6, 5}), linear, {1, 1, 0.5, 0.8}, true),
      sizes_case("ResizeBilinearAlignCornersSizes", gen.uniform({1, 3, 4, 4}), linear_align, {1, 3, 7, 3},
                 true),
      sizes_case("ResizeBilinearPytorchHalfPixel", gen.uniform({1, 1, 5, 4}), linear_pytorch, {1, 1, 3, 1},
                 true),
      scales_case("ResizeLinear3d", gen.uniform({2, 3, 4}), linear, {1.5, 0.75, 2}),
      scales_case("ResizeCubicUp", gen.uniform({1, 1, 4, 4}), cubic, {1, 1, 2, 1.5}),
      scales_case("ResizeCubicDown", gen.uniform({1, 2, 5, 6}), cubic, {1, 1, 0.8, 0.5}),
      scales_case("ResizeCubicExcludeOutside", gen.uniform({1, 1, 4, 5}), cubic_excl, {1, 1, 1.75, 0.6}),
      sizes_case("ResizeCubicAsymmetricSizes", gen.uniform({3, 4}), cubic_asym, {5, 9}),
      sizes_case("ResizeTfCropAndResizeLinear", gen.uniform({1, 1, 4, 4}), crop, {1, 1, 3, 5}, false,
                 {0, 0, 0.4, -0.2, 1, 1, 0.9, 1.3}),
      sizes_case("ResizeTfCropAndResizeNearest", gen.uniform({1, 1, 5, 3}), crop_nearest, {1, 1, 4, 4}, false,
                 {0, 0, -0.25, 0.1, 1, 1, 0.75, 1.2}),
      axes_case("ResizeAxesOpset18", gen.uniform({2, 3, 4}), {-1, 1}, {2, 0.5}),
      // half_pixel_symmetric (opset 19) differs from half_pixel where in * scale is fractional.
      scales_case("ResizeLinearHalfPixelSymmetricOpset19", gen.uniform({1, 2, 5, 3}), linear_symmetric,
                  {1, 1, 0.7, 1.7})
          .at_opset(19),
      scales_case("ResizeBilinearHalfPixelSymmetricOpset19", gen.uniform({1, 1, 4, 6}), linear_symmetric,
                  {1, 1, 2.3, 0.45}, true)
          .at_opset(19),
      scales_case("ResizeNearestHalfPixelSymmetricOpset19", gen.uniform({1, 1, 5, 7}), nearest_symmetric,
                  {1, 1, 1.5, 0.45})
          .at_opset(19),
      scales_case("ResizeCubicHalfPixelSymmetricOpset28", gen.uniform({1, 1, 4, 5}), cubic_symmetric,
                  {1, 1, 1.6, 2.1})
          .at_opset(28),
      sizes_case("ResizeLinearHalfPixelSymmetricSizesOpset19", gen.uniform({1, 1, 3, 4}), linear_symmetric,
                 {1, 1, 7, 3})
          .at_opset(19),
      legacy_case("ResizeOpset10Nearest", "Resize", 10, gen.uniform({1, 1, 2, 3}), "nearest", {1, 1, 2, 2.5}),
      legacy_case("UpsampleOpset9Nearest", "Upsample", 9, gen.uniform({1, 2, 2, 2}), "nearest", {1, 1, 2, 3}),
      legacy_case("UpsampleOpset7Linear", "Upsample", 7, gen.uniform({1, 1, 3, 2}), "linear", {1, 1, 2, 2}),
  };
}

}  // namespace

KILN_OP_CASES(Resize, cases());

}  // namespace kiln::test
