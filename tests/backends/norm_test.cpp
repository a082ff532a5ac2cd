// BatchNormalization, LayerNormalization, RMSNormalization, Softmax and LogSoftmax cases; Dropout,
// InstanceNormalization, LpNormalization, MeanVarianceNormalization, Hardmax and TopK.

#include <algorithm>
#include <cmath>
#include <optional>

#include "op_case.h"

namespace kiln::test {
namespace {

Dims range_axes(int64_t begin, int64_t end) {
  Dims axes;
  for (int64_t a = begin; a < end; ++a) axes.push_back(a);
  return axes;
}

// Mean over the axes, broadcastable back against x (keepdims).
Ref mean_over(const Ref& x, const Dims& axes) {
  return reduce(x, axes, true, 0.0, [](double acc, double v) { return acc + v; },
                [](double sum, int64_t n) { return sum / static_cast<double>(n); });
}

OpCase batch_norm_case(const std::string& name, Gen& gen, const Dims& x, int opset, float epsilon) {
  const Dims c{x[1]};
  OpCase oc(name, "BatchNormalization");
  oc.at_opset(opset).input(gen.uniform(x, -3.0, 3.0));
  oc.constant(gen.uniform(c, 0.5, 1.5)).constant(gen.uniform(c)).constant(gen.uniform(c)).constant(gen.uniform(c, 0.25, 2.0));
  if (epsilon != 1e-5f) oc.attr("epsilon", epsilon);
  return oc.expect([epsilon](const Refs& in) {
    const Ref& x_ref = in[0];
    Ref y(DType::kF32, x_ref.shape);
    for_each_index(x_ref.shape, [&](const Dims& i) {
      const auto ch = static_cast<size_t>(i[1]);
      const double norm = (x_ref.at(i) - in[3].v[ch]) / std::sqrt(in[4].v[ch] + static_cast<double>(epsilon));
      y.at(i) = norm * in[1].v[ch] + in[2].v[ch];
    });
    return Refs{y};
  });
}

OpCase layer_norm_case(const std::string& name, Gen& gen, const Dims& x, int64_t axis, bool bias) {
  const int64_t a = norm_axis(axis, static_cast<int64_t>(x.size()));
  const Dims inner(x.begin() + a, x.end());
  OpCase oc(name, "LayerNormalization");
  oc.input(gen.uniform(x, -2.0, 2.0)).constant(gen.uniform(inner, 0.5, 1.5));
  if (bias) oc.constant(gen.uniform(inner));
  if (axis != -1) oc.attr("axis", axis);
  return oc.expect([a, bias](const Refs& in) {
    const Ref& x_ref = in[0];
    const Dims axes = range_axes(a, x_ref.rank());
    const Ref mean = mean_over(x_ref, axes);
    const Ref centered = map_binary(x_ref, mean, [](double v, double m) { return v - m; }, DType::kF32);
    const Ref var = mean_over(map_unary(centered, [](double v) { return v * v; }, DType::kF32), axes);
    Ref y = map_binary(centered, var, [](double c, double v) { return c / std::sqrt(v + 1e-5); }, DType::kF32);
    y = map_binary(y, in[1], [](double v, double s) { return v * s; }, DType::kF32);
    if (bias) y = map_binary(y, in[2], [](double v, double b) { return v + b; }, DType::kF32);
    return Refs{y};
  });
}

// RMSNormalization (opset 23): x / sqrt(mean(x^2 over the dims from axis on) + epsilon) * scale.
OpCase rms_norm_case(const std::string& name, Gen& gen, const Dims& x, int64_t axis, const Dims& scale, float epsilon) {
  const int64_t a = norm_axis(axis, static_cast<int64_t>(x.size()));
  OpCase oc(name, "RMSNormalization");
  oc.at_opset(23).input(gen.uniform(x, -2.0, 2.0)).constant(gen.uniform(scale, 0.5, 1.5));
  if (axis != -1) oc.attr("axis", axis);
  if (epsilon != 1e-5f) oc.attr("epsilon", epsilon);
  return oc.expect([a, epsilon](const Refs& in) {
    const Ref ms = mean_over(map_unary(in[0], [](double v) { return v * v; }, DType::kF32), range_axes(a, in[0].rank()));
    const double eps = static_cast<double>(epsilon);
    Ref y = map_binary(in[0], ms, [eps](double v, double m) { return v / std::sqrt(m + eps); }, DType::kF32);
    return Refs{map_binary(y, in[1], [](double v, double s) { return v * s; }, DType::kF32)};
  });
}

// Softmax over the given axes together (one axis from opset 13; every axis from `axis` on,
// i.e. the input coerced to 2-D, before).
Ref softmax(const Ref& x, const Dims& axes, bool log) {
  const Ref max = reduce(x, axes, true, -INFINITY, [](double acc, double v) { return std::max(acc, v); },
                         [](double m, int64_t) { return m; });
  const Ref shifted = map_binary(x, max, [](double v, double m) { return v - m; }, DType::kF32);
  const Ref sum = reduce(map_unary(shifted, [](double v) { return std::exp(v); }, DType::kF32), axes, true, 0.0,
                         [](double acc, double v) { return acc + v; }, [](double s, int64_t) { return s; });
  return map_binary(shifted, sum, [log](double v, double s) { return log ? v - std::log(s) : std::exp(v) / s; },
                    DType::kF32);
}

OpCase softmax_case(const std::string& name, bool log, const Tensor& x, int opset, int64_t axis, bool set_axis) {
  OpCase oc(name, log ? "LogSoftmax" : "Softmax");
  oc.at_opset(opset).input(x);
  if (set_axis) oc.attr("axis", axis);
  return oc.expect([=](const Refs& in) {
    const int64_t a = norm_axis(axis, in[0].rank());
    return Refs{softmax(in[0], opset >= 13 ? Dims{a} : range_axes(a, in[0].rank()), log)};
  });
}

OpCase dropout_case(OpCase oc, bool mask, DType mask_dtype) {
  if (mask) oc.outputs(2);
  return oc.expect([mask, mask_dtype](const Refs& in) {
    Refs out{in[0]};
    if (mask) out.push_back(Ref(mask_dtype, in[0].shape, std::vector<double>(static_cast<size_t>(in[0].numel()), 1.0)));
    return out;
  });
}

OpCase instance_norm_case(const std::string& name, const Tensor& x, const Tensor& scale, const Tensor& b, float eps) {
  OpCase oc(name, "InstanceNormalization");
  oc.at_opset(6).input(x).input(scale).input(b);
  if (eps != 1e-5f) oc.attr("epsilon", eps);
  return oc.expect([eps](const Refs& in) {
    const Ref& x_ref = in[0];
    const Ref mean = mean_over(x_ref, range_axes(2, x_ref.rank()));
    Ref sq = map_binary(x_ref, mean, [](double a, double m) { return (a - m) * (a - m); }, x_ref.dtype);
    const Ref var = mean_over(sq, range_axes(2, x_ref.rank()));
    Ref y(x_ref.dtype, x_ref.shape);
    for_each_index(x_ref.shape, [&](const Dims& o) {
      Dims s(o.begin(), o.begin() + 2);
      s.resize(o.size(), 0);
      y.at(o) = in[1].v[static_cast<size_t>(o[1])] * (x_ref.at(o) - mean.at(s)) / std::sqrt(var.at(s) + eps) +
                in[2].v[static_cast<size_t>(o[1])];
    });
    return Refs{y};
  });
}

OpCase lp_norm_case(const std::string& name, const Tensor& x, int64_t axis, int64_t p) {
  OpCase oc(name, "LpNormalization");
  oc.at_opset(1).input(x).attr("axis", axis).attr("p", p);
  return oc.expect([axis, p](const Refs& in) {
    const Dims axes{norm_axis(axis, in[0].rank())};
    const Ref norm = reduce(in[0], axes, true, 0.0, [p](double acc, double v) { return acc + (p == 1 ? std::abs(v) : v * v); },
                            [p](double sum, int64_t) { return p == 1 ? sum : std::sqrt(sum); });
    return Refs{map_binary(in[0], norm, [](double a, double n) { return n == 0 ? 0.0 : a / n; }, in[0].dtype)};
  });
}

OpCase mvn_case(const std::string& name, const Tensor& x, const Dims& axes) {
  OpCase oc(name, "MeanVarianceNormalization");
  oc.at_opset(13).input(x);
  if (!axes.empty()) oc.attr("axes", axes);
  return oc.expect([axes](const Refs& in) {
    const Dims a = axes.empty() ? Dims{0, 2, 3} : axes;
    const Ref mean = mean_over(in[0], a);
    Ref sq = map_binary(in[0], mean, [](double v, double m) { return (v - m) * (v - m); }, in[0].dtype);
    const Ref var = mean_over(sq, a);
    Ref centered = map_binary(in[0], mean, [](double v, double m) { return v - m; }, in[0].dtype);
    return Refs{map_binary(centered, var, [](double c, double v) { return c / (std::sqrt(v) + 1e-9); }, in[0].dtype)};
  });
}

OpCase hardmax_case(const std::string& name, const Tensor& x, int opset, std::optional<int64_t> axis) {
  OpCase oc(name, "Hardmax");
  oc.at_opset(opset).input(x);
  if (axis) oc.attr("axis", *axis);
  return oc.expect([opset, axis](const Refs& in) {
    const Ref& x_ref = in[0];
    const int64_t a = norm_axis(axis.value_or(opset < 13 ? 1 : -1), x_ref.rank());
    // Rows: before opset 13 everything from axis on is one row; from 13 on only axis.
    Dims row_shape = x_ref.shape;
    int64_t outer = 1, dim = 1, inner = 1;
    for (int64_t d = 0; d < x_ref.rank(); ++d) {
      const int64_t n = row_shape[static_cast<size_t>(d)];
      if (d < a) outer *= n;
      else if (d == a || opset < 13) dim *= n;
      else inner *= n;
    }
    Ref y(x_ref.dtype, x_ref.shape);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = 0;
        for (int64_t j = 1; j < dim; ++j)
          if (x_ref.v[static_cast<size_t>((o * dim + j) * inner + i)] > x_ref.v[static_cast<size_t>((o * dim + best) * inner + i)])
            best = j;
        y.v[static_cast<size_t>((o * dim + best) * inner + i)] = 1;
      }
    return Refs{y};
  });
}

OpCase top_k_case(const std::string& name, int opset, const Tensor& x, int64_t k, int64_t axis, bool largest) {
  OpCase oc(name, "TopK");
  oc.at_opset(opset).input(x).outputs(2);
  if (opset < 10) oc.attr("k", k);
  else oc.constant(i64({1}, {k}));
  if (axis != -1) oc.attr("axis", axis);
  if (!largest) oc.attr("largest", 0);
  return oc.expect([k, axis, largest](const Refs& in) {
    const Ref& x_ref = in[0];
    const auto a = static_cast<size_t>(norm_axis(axis, x_ref.rank()));
    Dims shape = x_ref.shape;
    shape[a] = k;
    Ref values(x_ref.dtype, shape), indices(DType::kI64, shape);
    Dims lead = x_ref.shape;
    lead[a] = 1;
    for_each_index(lead, [&](const Dims& base) {
      std::vector<int64_t> order;
      for (int64_t j = 0; j < x_ref.shape[a]; ++j) order.push_back(j);
      auto value = [&](int64_t j) { Dims i = base; i[a] = j; return x_ref.at(i); };
      std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
        return largest ? value(p) > value(q) : value(p) < value(q);
      });
      for (int64_t j = 0; j < k; ++j) {
        Dims o = base;
        o[a] = j;
        values.at(o) = value(order[static_cast<size_t>(j)]);
        indices.at(o) = static_cast<double>(order[static_cast<size_t>(j)]);
      }
    });
    return Refs{values, indices};
  });
}

std::vector<OpCase> cases() {
  Gen gen(4);
  std::vector<OpCase> all{
      batch_norm_case("BatchNorm4d", gen, {2, 3, 4, 5}, 15, 1e-5f),
      batch_norm_case("BatchNorm4dEpsilon", gen, {1, 4, 3, 3}, 15, 1e-2f),
      batch_norm_case("BatchNorm2dInput", gen, {5, 3}, 15, 1e-5f),
      batch_norm_case("BatchNorm3dOpset9", gen, {2, 2, 6}, 9, 1e-3f),
      batch_norm_case("BatchNormManyChannels", gen, {2, 32, 5, 5}, 15, 1e-5f),
      batch_norm_case("BatchNormEmptyBatch", gen, {0, 3, 2, 2}, 15, 1e-5f),
      layer_norm_case("LayerNormWide", gen, {3, 5, 96}, -1, true),
      layer_norm_case("LayerNormLastAxis", gen, {2, 3, 8}, -1, true),
      layer_norm_case("LayerNormAxis1", gen, {2, 3, 4}, 1, true),
      layer_norm_case("LayerNormNoBias", gen, {4, 6}, -1, false),
  };
  for (bool log : {false, true}) {
    const std::string op = log ? "LogSoftmax" : "Softmax";
    all.push_back(softmax_case(op + "13DefaultAxis", log, gen.uniform({2, 3, 4}, -4.0, 4.0), 13, -1, false));
    all.push_back(softmax_case(op + "13Axis1", log, gen.uniform({2, 3, 4}, -4.0, 4.0), 13, 1, true));
    all.push_back(softmax_case(op + "13Axis0", log, gen.uniform({3, 2}, -4.0, 4.0), 13, 0, true));
    all.push_back(softmax_case(op + "11DefaultAxisCoerced", log, gen.uniform({2, 3, 4}, -4.0, 4.0), 11, 1, false));
    all.push_back(softmax_case(op + "11Axis2", log, gen.uniform({2, 3, 4}), 11, 2, true));
    all.push_back(softmax_case(op + "11Axis0Coerced", log, gen.uniform({2, 3}), 11, 0, true));
    all.push_back(softmax_case(op + "Wide", log, gen.uniform({3, 1000}, -5.0, 5.0), 13, -1, false));
    all.push_back(softmax_case(op + "13Rank6", log, gen.uniform({2, 1, 3, 2, 2, 2}), 13, 2, true));
    all.push_back(softmax_case(op + "EmptyRows", log, gen.uniform({0, 5}), 13, -1, false));
    all.push_back(softmax_case(op + "LargeValues", log, gen.uniform({2, 5}, 50.0, 90.0), 13, -1, false));
  }
  const Tensor no_training = boolean({}, {0}), training = boolean({}, {1}), zero_ratio = f32_scalar(0.0f);
  all.push_back(dropout_case(OpCase("DropoutOpset13", "Dropout").at_opset(13).input(gen.uniform({2, 3})), false, DType::kBool));
  all.push_back(dropout_case(OpCase("DropoutMaskRatioInputs", "Dropout").at_opset(13).input(gen.uniform({3, 4}))
                                 .constant(f32_scalar(0.3f)).input(no_training), true, DType::kBool));
  all.push_back(dropout_case(OpCase("DropoutTrainingZeroRatio", "Dropout").at_opset(13).input(gen.uniform({4}))
                                 .input(zero_ratio).input(training), true, DType::kBool));
  all.push_back(dropout_case(OpCase("DropoutOpset10RatioAttr", "Dropout").at_opset(10).input(gen.uniform({2, 2})).attr("ratio", 0.2f),
                             true, DType::kBool));
  all.push_back(dropout_case(OpCase("DropoutOpset7MaskT", "Dropout").at_opset(7).input(gen.uniform({3})), true, DType::kF32));
  all.push_back(instance_norm_case("InstanceNorm", gen.uniform({2, 3, 4, 5}), gen.uniform({3}), gen.uniform({3}), 1e-5f));
  all.push_back(instance_norm_case("InstanceNorm1dEpsilon", gen.uniform({1, 2, 7}), gen.uniform({2}), gen.uniform({2}), 1e-2f));
  all.push_back(lp_norm_case("LpNormL2LastAxis", gen.uniform({3, 4}), -1, 2));
  all.push_back(lp_norm_case("LpNormL1Axis0", gen.uniform({3, 2, 2}), 0, 1));
  // A vector of zeros stays zeros (ONNX's reference), not NaN.
  all.push_back(lp_norm_case("LpNormL2ZeroRow", Tensor::from_vector<float>({2, 3}, {0, 0, 0, 1, -2, 2}), 1, 2));
  all.push_back(mvn_case("MvnDefaultAxes", gen.uniform({2, 3, 2, 4}), {}));
  all.push_back(mvn_case("MvnLastAxis", gen.uniform({3, 5}), {1}));
  all.push_back(hardmax_case("Hardmax13DefaultAxis", gen.uniform({2, 3, 4}), 13, std::nullopt));
  all.push_back(hardmax_case("Hardmax13Axis1", gen.uniform({2, 3, 4}), 13, 1));
  all.push_back(hardmax_case("Hardmax11Coerced", gen.uniform({2, 3, 4}), 11, std::nullopt));
  all.push_back(hardmax_case("Hardmax11Axis0Ties", f32({2, 2}, {1, 1, 1, 1}), 11, 0));
  all.push_back(top_k_case("TopKLargest", 11, gen.uniform({3, 5}), 2, -1, true));
  all.push_back(top_k_case("TopKSmallestAxis0", 11, gen.uniform({4, 3}), 3, 0, false));
  all.push_back(top_k_case("TopKOpset1KAttr", 1, gen.uniform({2, 6}), 3, -1, true));
  all.push_back(top_k_case("TopKTiesI64", 11, i64({2, 4}, {3, 1, 3, 2, 5, 5, 5, 0}), 3, 1, true));
  all.push_back(top_k_case("TopKZero", 11, gen.uniform({2, 3}), 0, 1, true));
  Gen rms_gen(23);  // its own stream, so the cases above keep their values
  all.push_back(rms_norm_case("RmsNormLastAxis", rms_gen, {3, 5}, -1, {5}, 1e-5f));
  all.push_back(rms_norm_case("RmsNormAxis1", rms_gen, {2, 3, 4}, 1, {3, 4}, 1e-5f));
  all.push_back(rms_norm_case("RmsNormAxis1BroadcastScale", rms_gen, {2, 3, 4}, 1, {4}, 1e-3f));
  all.push_back(rms_norm_case("RmsNormAxis0", rms_gen, {2, 3, 2}, 0, {1, 3, 1}, 1e-5f));
  all.push_back(rms_norm_case("RmsNormAxisMinus2StashDouble", rms_gen, {2, 2, 3, 4}, -2, {3, 4}, 1e-5f).attr("stash_type", 11));
  return all;
}

}  // namespace

KILN_OP_CASES(Norm, cases());

}  // namespace kiln::test
