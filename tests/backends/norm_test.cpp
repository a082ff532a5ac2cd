// BatchNormalization, LayerNormalization, Softmax and LogSoftmax cases.

#include <cmath>

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
  return all;
}

}  // namespace

KILN_OP_CASES(Norm, cases());

}  // namespace kiln::test
