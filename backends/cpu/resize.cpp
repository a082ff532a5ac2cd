// Resize and Upsample as plain C++: separable per-axis interpolation (nearest, linear, cubic)
// over N-d tensors. Each resized axis gets a table of taps (input index, weight) per output
// index, planned at prepare time; run() applies one axis after another in double.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernel_families.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

struct Tap {
  int64_t index;
  double weight;
};

// One output index of one axis: its taps, or the extrapolation value when outside (tf_crop_and_resize).
struct Point {
  std::vector<Tap> taps;
  bool outside = false;
};

struct AxisPlan {
  int64_t axis;
  int64_t in, out;
  std::vector<Point> points;
};

struct Settings {
  std::string mode, ctm, nearest_mode;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
};

std::vector<double> tensor_doubles(const NodeView& v, size_t i) {
  const kiln_tensor* t = v.input_value(i);
  if (t == nullptr) fail(v, "input " + std::to_string(i) + " must be known when the node is prepared");
  const int64_t n = numel(shape_of(*t));
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    if (t->dtype == KILN_DTYPE_F32)
      out[k] = static_cast<const float*>(t->data)[k];
    else if (t->dtype == KILN_DTYPE_F64)
      out[k] = static_cast<const double*>(t->data)[k];
    else
      fail(v, "input " + std::to_string(i) + " must be f32 or f64");
  }
  return out;
}

bool present_nonempty(const NodeView& v, size_t i) {
  if (!v.has_input(i)) return false;
  return numel(v.input_shape(i)) > 0;
}

// outd is the resized length before flooring (in * scale when scales are given), as ONNX's
// reference uses it for align_corners, tf_crop_and_resize and half_pixel_symmetric.
// half_pixel_symmetric (opset 19) centres the out / (in * scale) part of the canvas that the
// integer output length `out` covers.
double original_coordinate(const Settings& s, int64_t x, double scale, int64_t in, int64_t out, double outd,
                           double roi_start, double roi_end) {
  const auto xr = static_cast<double>(x);
  const auto ind = static_cast<double>(in);
  if (s.ctm == "half_pixel") return (xr + 0.5) / scale - 0.5;
  if (s.ctm == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(out) / (scale * ind);
    const double center = ind / 2;
    const double offset = center * (1 - adjustment);
    return offset + (xr + 0.5) / scale - 0.5;
  }
  if (s.ctm == "pytorch_half_pixel") return outd > 1 ? (xr + 0.5) / scale - 0.5 : 0.0;
  if (s.ctm == "align_corners") return outd == 1 ? 0.0 : xr * (ind - 1) / (outd - 1);
  if (s.ctm == "asymmetric") return xr / scale;
  if (s.ctm == "tf_half_pixel_for_nn") return (xr + 0.5) / scale;
  // tf_crop_and_resize
  if (outd > 1) return roi_start * (ind - 1) + xr * (roi_end - roi_start) * (ind - 1) / (outd - 1);
  return 0.5 * (roi_start + roi_end) * (ind - 1);
}

int64_t nearest_index(const Settings& s, double x) {
  const double fl = std::floor(x);
  if (s.nearest_mode == "floor") return static_cast<int64_t>(fl);
  if (s.nearest_mode == "ceil") return static_cast<int64_t>(std::ceil(x));
  if (x - fl == 0.5) return static_cast<int64_t>(s.nearest_mode == "round_prefer_ceil" ? fl + 1 : fl);
  return static_cast<int64_t>(std::round(x));
}

std::vector<double> cubic_coeffs(double t, double a) {
  auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 <= d < 2
  auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };       // 0 <= d < 1
  return {far(t + 1), near(t), near(1 - t), far(2 - t)};
}

AxisPlan plan_axis(const Settings& s, int64_t axis, int64_t in, int64_t out, double outd, double scale,
                   double roi_start, double roi_end) {
  AxisPlan p{axis, in, out, std::vector<Point>(static_cast<size_t>(out))};
  auto clamp = [in](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
  for (int64_t o = 0; o < out; ++o) {
    Point& pt = p.points[static_cast<size_t>(o)];
    const double x = original_coordinate(s, o, scale, in, out, outd, roi_start, roi_end);
    if (s.ctm == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(in - 1))) {
      pt.outside = true;
      continue;
    }
    if (s.mode == "nearest") {
      pt.taps.push_back({clamp(nearest_index(s, x)), 1.0});
    } else if (s.mode == "linear" || s.mode == "bilinear") {
      const double fl = std::floor(x), t = x - fl;
      const auto i0 = static_cast<int64_t>(fl);
      pt.taps.push_back({clamp(i0), 1 - t});
      pt.taps.push_back({clamp(i0 + 1), t});
    } else {
      const double fl = std::floor(x), t = x - fl;
      const auto i0 = static_cast<int64_t>(fl);
      std::vector<double> c = cubic_coeffs(t, s.cubic_a);
      double sum = 0;
      for (int k = 0; k < 4; ++k) {
        const int64_t i = i0 - 1 + k;
        if (s.exclude_outside && (i < 0 || i >= in)) continue;
        pt.taps.push_back({clamp(i), c[static_cast<size_t>(k)]});
        sum += c[static_cast<size_t>(k)];
      }
      if (s.exclude_outside && sum != 0)
        for (Tap& tap : pt.taps) tap.weight /= sum;
    }
  }
  return p;
}

double load(int32_t dtype, const void* p, int64_t i) {
  switch (dtype) {
    case KILN_DTYPE_F32:
      return static_cast<const float*>(p)[i];
    case KILN_DTYPE_F64:
      return static_cast<const double*>(p)[i];
    case KILN_DTYPE_I64:
      return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case KILN_DTYPE_I32:
      return static_cast<const int32_t*>(p)[i];
    case KILN_DTYPE_I8:
      return static_cast<const int8_t*>(p)[i];
    default:
      return static_cast<const uint8_t*>(p)[i];
  }
}

void store(int32_t dtype, void* p, int64_t i, double value) {
  switch (dtype) {
    case KILN_DTYPE_F32:
      static_cast<float*>(p)[i] = static_cast<float>(value);
      break;
    case KILN_DTYPE_F64:
      static_cast<double*>(p)[i] = value;
      break;
    case KILN_DTYPE_I64:
      static_cast<int64_t*>(p)[i] = static_cast<int64_t>(value);
      break;
    case KILN_DTYPE_I32:
      static_cast<int32_t*>(p)[i] = static_cast<int32_t>(value);
      break;
    case KILN_DTYPE_I8:
      static_cast<int8_t*>(p)[i] = static_cast<int8_t>(value);
      break;
    default:
      static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(value);
      break;
  }
}

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(std::string prefix, int32_t dtype, Dims in, std::vector<AxisPlan> plans, double extrapolation)
      : prefix_(std::move(prefix)),
        dtype_(dtype),
        in_(std::move(in)),
        plans_(std::move(plans)),
        extrapolation_(extrapolation) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    if (n_in < 1 || n_out < 1)
      throw KernelError(KILN_ERR_INVALID_ARGUMENT, prefix_ + "expects an input and an output");
    Dims shape = in_;
    const int64_t n = numel(shape);
    std::vector<double> cur(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) cur[static_cast<size_t>(i)] = load(dtype_, in[0].data, i);
    for (const AxisPlan& p : plans_) {
      const auto a = static_cast<size_t>(p.axis);
      int64_t outer = 1, inner = 1;
      for (size_t d = 0; d < a; ++d) outer *= shape[d];
      for (size_t d = a + 1; d < shape.size(); ++d) inner *= shape[d];
      std::vector<double> next(static_cast<size_t>(outer * p.out * inner));
      plain::parallel_range(outer, static_cast<int64_t>(next.size() * sizeof(double)),
                            [&](int64_t b, int64_t e) {
                              for (int64_t o = b; o < e; ++o) {
                                const double* src = cur.data() + o * p.in * inner;
                                double* dst = next.data() + o * p.out * inner;
                                for (int64_t j = 0; j < p.out; ++j) {
                                  const Point& pt = p.points[static_cast<size_t>(j)];
                                  double* row = dst + j * inner;
                                  if (pt.outside) {
                                    std::fill(row, row + inner, extrapolation_);
                                    continue;
                                  }
                                  std::fill(row, row + inner, 0.0);
                                  for (const Tap& t : pt.taps) {
                                    const double* s = src + t.index * inner;
                                    for (int64_t k = 0; k < inner; ++k) row[k] += t.weight * s[k];
                                  }
                                }
                              }
                            });
      shape[a] = p.out;
      cur.swap(next);
    }
    const int64_t m = numel(shape);
    for (int64_t i = 0; i < m; ++i) store(dtype_, out[0].data, i, cur[static_cast<size_t>(i)]);
  }

 private:
  std::string prefix_;
  int32_t dtype_;
  Dims in_;
  std::vector<AxisPlan> plans_;
  double extrapolation_;
};

bool is_float(int32_t dtype) { return dtype == KILN_DTYPE_F32 || dtype == KILN_DTYPE_F64; }

std::string supports_resize(const NodeView& v) {
  if (!v.has_input(0) || v.num_outputs() < 1) return "expects a data input and an output";
  const int32_t dt = v.input_dtype(0);
  const bool upsample = v.op_type() == "Upsample";
  const std::string mode = v.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic" && !(upsample && mode == "bilinear"))
    return "mode '" + mode + "' not supported";
  if (mode == "nearest") {
    if (!is_float(dt) && dt != KILN_DTYPE_I64 && dt != KILN_DTYPE_I32 && dt != KILN_DTYPE_I8 &&
        dt != KILN_DTYPE_U8)
      return std::string("dtype ") + dtype_name(dt) + " not supported";
  } else if (!is_float(dt)) {
    return std::string("mode '") + mode + "' needs f32 or f64 data, not " + dtype_name(dt);
  }
  if (!upsample) {
    if (v.attr_int("antialias", 0) != 0) return "antialias=1 is not supported";
    const size_t scales_input = v.opset() < 11 ? 1 : 2;
    if (present_nonempty(v, scales_input) && v.input_value(scales_input) == nullptr)
      return "scales must be known at plan time";
    if (v.opset() >= 11 && present_nonempty(v, 3) && v.input_value(3) == nullptr)
      return "sizes must be known at plan time";
    if (v.opset() >= 11 &&
        v.attr_string("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize" &&
        present_nonempty(v, 1) && v.input_value(1) == nullptr)
      return "roi must be known at plan time";
  } else if (v.opset() >= 9 && v.input_value(1) == nullptr) {
    return "scales must be known at plan time";
  }
  return "";
}

std::unique_ptr<Kernel> prepare_resize(const NodeView& v) {
  const Dims in = v.input_shape(0), out = v.output_shape(0);
  const auto rank = static_cast<int64_t>(in.size());
  if (out.size() != in.size()) fail(v, "output rank differs from the input's");
  const bool upsample = v.op_type() == "Upsample";
  Settings s;
  s.mode = v.attr_string("mode", "nearest");
  if (upsample || v.opset() < 11) {
    s.ctm = "asymmetric";
    s.nearest_mode = "floor";
  } else {
    s.ctm = v.attr_string("coordinate_transformation_mode", "half_pixel");
    s.nearest_mode = v.attr_string("nearest_mode", "round_prefer_floor");
    s.cubic_a = v.attr_float("cubic_coeff_a", -0.75f);
    s.exclude_outside = v.attr_int("exclude_outside", 0) != 0;
    s.extrapolation = v.attr_float("extrapolation_value", 0.0f);
  }
  Dims axes;
  if (!upsample && v.opset() >= 18 && v.attr("axes") != nullptr) {
    for (int64_t a : v.attr_ints("axes", {})) axes.push_back(plain::normalize_axis(v, a, rank, "axis"));
  } else {
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  std::vector<double> scales(static_cast<size_t>(rank), 1.0);
  std::vector<double> roi_start(static_cast<size_t>(rank), 0.0), roi_end(static_cast<size_t>(rank), 1.0);
  bool scale_from_sizes = true;
  if (upsample) {
    std::vector<double> given;
    if (v.opset() < 9)
      for (float f : v.attr_floats("scales", {})) given.push_back(f);
    else
      given = tensor_doubles(v, 1);
    if (given.size() != in.size()) fail(v, "scales has " + std::to_string(given.size()) + " entries");
    scales = given;
    scale_from_sizes = false;
  } else {
    const size_t scales_input = v.opset() < 11 ? 1 : 2;
    if (present_nonempty(v, scales_input)) {
      std::vector<double> given = tensor_doubles(v, scales_input);
      if (given.size() != axes.size()) fail(v, "scales has " + std::to_string(given.size()) + " entries");
      for (size_t k = 0; k < axes.size(); ++k) scales[static_cast<size_t>(axes[k])] = given[k];
      scale_from_sizes = false;
    }
    if (v.opset() >= 11 && s.ctm == "tf_crop_and_resize" && present_nonempty(v, 1)) {
      std::vector<double> roi = tensor_doubles(v, 1);
      if (roi.size() != 2 * axes.size()) fail(v, "roi has " + std::to_string(roi.size()) + " entries");
      for (size_t k = 0; k < axes.size(); ++k) {
        roi_start[static_cast<size_t>(axes[k])] = roi[k];
        roi_end[static_cast<size_t>(axes[k])] = roi[k + axes.size()];
      }
    }
  }
  if (scale_from_sizes) {
    const std::string policy = v.attr_string("keep_aspect_ratio_policy", "stretch");
    if (policy == "stretch") {
      for (int64_t a : axes)
        scales[static_cast<size_t>(a)] = static_cast<double>(out[static_cast<size_t>(a)]) /
                                         static_cast<double>(in[static_cast<size_t>(a)]);
    } else {
      Dims sizes = v.input_ints(3);
      double sc = policy == "not_larger" ? INFINITY : 0.0;
      for (size_t k = 0; k < axes.size(); ++k) {
        double r = static_cast<double>(sizes[k]) / static_cast<double>(in[static_cast<size_t>(axes[k])]);
        sc = policy == "not_larger" ? std::min(sc, r) : std::max(sc, r);
      }
      for (int64_t a : axes) scales[static_cast<size_t>(a)] = sc;
    }
  }
  std::vector<AxisPlan> plans;
  for (int64_t a = 0; a < rank; ++a) {
    const auto i = static_cast<size_t>(a);
    const bool roi_trivial = s.ctm != "tf_crop_and_resize" || (roi_start[i] == 0.0 && roi_end[i] == 1.0);
    if (in[i] == out[i] && scales[i] == 1.0 && roi_trivial && s.ctm != "tf_half_pixel_for_nn") continue;
    if (in[i] == 0 && out[i] > 0) fail(v, "cannot resize axis " + std::to_string(a) + " of size 0");
    const double outd =
        scale_from_sizes ? static_cast<double>(out[i]) : static_cast<double>(in[i]) * scales[i];
    plans.push_back(plan_axis(s, a, in[i], out[i], outd, scales[i], roi_start[i], roi_end[i]));
  }
  return std::make_unique<ResizeKernel>(plain::node_prefix(v), v.input_dtype(0), in, std::move(plans),
                                        s.extrapolation);
}

}  // namespace

void register_resize_kernels(KernelTable& table) {
  table.add("Resize", supports_resize, prepare_resize);
  table.add("Upsample", supports_resize, prepare_resize);
}

}  // namespace kiln::cpu
