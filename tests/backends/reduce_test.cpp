// The Reduce* ops: axes as attribute or input (by opset), keepdims, negative axes, all axes,
// noop_with_empty_axes. ArgMax/ArgMin: axis, keepdims, select_last_index.

#include <algorithm>
#include <cmath>
#include <limits>

#include "op_case.h"

namespace kiln::test {
namespace {

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// How the case passes its axes.
enum class AxesAs { kNone, kAttr, kInput, kConstant };

struct ReduceSpec {
  Kind kind;
  int opset;
  AxesAs axes_as;
  Dims axes;
  int keepdims = 1;  // -1: leave the attribute out (default 1)
  bool noop_with_empty_axes = false;
};

OpCase reduce_case(const std::string& name, const Tensor& x, const ReduceSpec& s) {
  static const char* const kOps[] = {"ReduceSum", "ReduceMean",   "ReduceMax",       "ReduceMin",      "ReduceProd",
                                     "ReduceL1",  "ReduceL2",     "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  OpCase oc(name, kOps[static_cast<int>(s.kind)]);
  oc.at_opset(s.opset).input(x);
  const Tensor axes_tensor = i64({static_cast<int64_t>(s.axes.size())}, s.axes);
  if (s.axes_as == AxesAs::kAttr) oc.attr("axes", s.axes);
  if (s.axes_as == AxesAs::kInput) oc.input(axes_tensor);
  if (s.axes_as == AxesAs::kConstant) oc.constant(axes_tensor);
  if (s.keepdims >= 0) oc.attr("keepdims", s.keepdims);
  if (s.noop_with_empty_axes) oc.attr("noop_with_empty_axes", 1);
  return oc.expect([s](const Refs& in) {
    const Ref& x_ref = in[0];
    if (s.axes.empty() && s.noop_with_empty_axes) return Refs{x_ref};
    Dims axes;
    for (int64_t a : s.axes) axes.push_back(norm_axis(a, x_ref.rank()));
    const bool keep = s.keepdims != 0;
    auto same = [](double acc, int64_t) { return acc; };
    auto add = [](double acc, double v) { return acc + v; };
    switch (s.kind) {
      case Kind::kMin:
        return Refs{reduce(x_ref, axes, keep, std::numeric_limits<double>::infinity(),
                           [](double acc, double v) { return std::min(acc, v); }, same)};
      case Kind::kProd:
        return Refs{reduce(x_ref, axes, keep, 1.0, [](double acc, double v) { return acc * v; }, same)};
      case Kind::kL1:
        return Refs{reduce(x_ref, axes, keep, 0.0, [](double acc, double v) { return acc + std::fabs(v); }, same)};
      case Kind::kL2:
        return Refs{reduce(x_ref, axes, keep, 0.0, [](double acc, double v) { return acc + v * v; },
                           [](double acc, int64_t) { return std::sqrt(acc); })};
      case Kind::kLogSum:
        return Refs{reduce(x_ref, axes, keep, 0.0, add, [](double acc, int64_t) { return std::log(acc); })};
      case Kind::kLogSumExp:
        return Refs{reduce(x_ref, axes, keep, 0.0, [](double acc, double v) { return acc + std::exp(v); },
                           [](double acc, int64_t) { return std::log(acc); })};
      case Kind::kSumSquare:
        return Refs{reduce(x_ref, axes, keep, 0.0, [](double acc, double v) { return acc + v * v; }, same)};
      case Kind::kSum:
        return Refs{reduce(x_ref, axes, keep, 0.0, [](double acc, double v) { return acc + v; },
                           [](double acc, int64_t) { return acc; })};
      case Kind::kMean:
        return Refs{reduce(x_ref, axes, keep, 0.0, [](double acc, double v) { return acc + v; },
                           [](double acc, int64_t n) { return acc / static_cast<double>(n); })};
      case Kind::kMax:
        break;
    }
    return Refs{reduce(x_ref, axes, keep, -std::numeric_limits<double>::infinity(),
                       [](double acc, double v) { return std::max(acc, v); }, [](double acc, int64_t) { return acc; })};
  });
}

// ArgMax/ArgMin over one axis; ties go to the first index, or the last with select_last_index.
OpCase arg_case(const std::string& name, bool is_max, const Tensor& x, int64_t axis, int keepdims, bool last,
                int opset = 13) {
  OpCase oc(name, is_max ? "ArgMax" : "ArgMin");
  oc.at_opset(opset).input(x).attr("axis", axis);
  if (keepdims >= 0) oc.attr("keepdims", keepdims);
  if (last) oc.attr("select_last_index", 1);
  return oc.expect([=](const Refs& in) {
    const Ref& xr = in[0];
    const int64_t ax = norm_axis(axis, xr.rank());
    Dims kept = xr.shape;
    kept[static_cast<size_t>(ax)] = 1;
    Ref out(DType::kI64, kept);
    for_each_index(kept, [&](const Dims& o) {
      Dims idx = o;
      int64_t best = 0;
      for (int64_t k = 0; k < xr.shape[static_cast<size_t>(ax)]; ++k) {
        idx[static_cast<size_t>(ax)] = k;
        Dims bi = o;
        bi[static_cast<size_t>(ax)] = best;
        double a = xr.at(idx), b = xr.at(bi);
        bool better = is_max ? (last ? a >= b : a > b) : (last ? a <= b : a < b);
        if (k > 0 && better) best = k;
      }
      out.at(o) = static_cast<double>(best);
    });
    if (keepdims == 0) {
      Dims dropped;
      for (size_t i = 0; i < kept.size(); ++i)
        if (static_cast<int64_t>(i) != ax) dropped.push_back(kept[i]);
      out.shape = dropped;
    }
    return Refs{out};
  });
}

Tensor f64(const Dims& shape, const std::vector<double>& values) {
  Tensor t = Tensor::empty(shape, DType::kF64);
  std::copy(values.begin(), values.end(), t.data<double>());
  return t;
}

std::vector<OpCase> more_cases() {
  Gen gen(11);
  const Dims x{2, 3, 4};
  return {
      reduce_case("ReduceMinAxesAttrOpset13", gen.uniform(x), {Kind::kMin, 13, AxesAs::kAttr, {1}, 1}),
      reduce_case("ReduceMinAxesInputOpset18", gen.uniform(x), {Kind::kMin, 18, AxesAs::kConstant, {-1, 0}, 0}),
      reduce_case("ReduceMinAllAxes", gen.uniform(x), {Kind::kMin, 13, AxesAs::kNone, {}, 0}),
      reduce_case("ReduceMinI64", gen.integers(x, -50, 50), {Kind::kMin, 13, AxesAs::kAttr, {2}, 0}),
      reduce_case("ReduceProdAxesAttr", gen.uniform(x, 0.5, 1.5), {Kind::kProd, 13, AxesAs::kAttr, {0, 2}, 1}),
      reduce_case("ReduceProdAxesInputOpset18", gen.uniform(x, 0.5, 1.5), {Kind::kProd, 18, AxesAs::kInput, {1}, 0}),
      reduce_case("ReduceProdI64", gen.integers(x, -3, 4), {Kind::kProd, 13, AxesAs::kAttr, {-1}, 1}),
      reduce_case("ReduceL1NegativeAxes", gen.uniform(x), {Kind::kL1, 13, AxesAs::kAttr, {-2}, 1}),
      reduce_case("ReduceL1AllAxesOpset18", gen.uniform(x), {Kind::kL1, 18, AxesAs::kNone, {}, 0}),
      reduce_case("ReduceL2AxesAttr", gen.uniform(x), {Kind::kL2, 13, AxesAs::kAttr, {2}, 0}),
      reduce_case("ReduceL2AxesInputOpset18", gen.uniform(x), {Kind::kL2, 18, AxesAs::kConstant, {0, 1}, 1}),
      reduce_case("ReduceLogSumAxesAttr", gen.uniform(x, 0.1, 2.0), {Kind::kLogSum, 13, AxesAs::kAttr, {1}, 1}),
      reduce_case("ReduceLogSumAllAxesToRank0", gen.uniform(x, 0.1, 2.0), {Kind::kLogSum, 13, AxesAs::kNone, {}, 0}),
      reduce_case("ReduceLogSumExpAxesAttr", gen.uniform(x, -5.0, 5.0), {Kind::kLogSumExp, 13, AxesAs::kAttr, {0}, 0}),
      reduce_case("ReduceLogSumExpNoopOpset18", gen.uniform(x), {Kind::kLogSumExp, 18, AxesAs::kNone, {}, 1, true}),
      reduce_case("ReduceSumSquareAxesAttr", gen.uniform(x), {Kind::kSumSquare, 13, AxesAs::kAttr, {-1, 1}, 1}),
      reduce_case("ReduceSumSquareAxesInputOpset18", gen.uniform(x), {Kind::kSumSquare, 18, AxesAs::kInput, {2}, 0}),
      reduce_case("ReduceSumSquareI64", gen.integers(x, -9, 9), {Kind::kSumSquare, 13, AxesAs::kAttr, {0}, 1}),
      // bool ReduceMax / ReduceMin from opset 20 (False < True: any / all).
      reduce_case("ReduceMaxBoolOpset20", boolean({2, 3, 2}, {0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0}),
                  {Kind::kMax, 20, AxesAs::kConstant, {1}, 0}),
      reduce_case("ReduceMinBoolOpset20", boolean({2, 3, 2}, {1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1}),
                  {Kind::kMin, 20, AxesAs::kInput, {0, 2}, 1}),
      reduce_case("ReduceMinBoolAllAxesOpset28", boolean({2, 2}, {1, 1, 1, 1}),
                  {Kind::kMin, 28, AxesAs::kNone, {}, 0}),
      reduce_case("ReduceMaxBoolNoopOpset20", boolean({3}, {0, 1, 0}),
                  {Kind::kMax, 20, AxesAs::kNone, {}, 1, true}),
      reduce_case("ReduceLogSumExpOpset28", gen.uniform(x, -5.0, 5.0),
                  {Kind::kLogSumExp, 28, AxesAs::kConstant, {0, 2}, 0}),
      reduce_case("ReduceMinRank0", f32({}, {2.5f}), {Kind::kMin, 13, AxesAs::kNone, {}, 0}),
      reduce_case("ReduceLogSumExpF64", f64({2, 3}, {0.5, -1.0, 2.0, 3.5, 0.0, -2.5}),
                  {Kind::kLogSumExp, 13, AxesAs::kAttr, {1}, 1}),
      arg_case("ArgMaxF64", true, f64({2, 3}, {0.5, -1.0, 2.0, 3.5, 0.0, -2.5}), 1, 0, false),
      arg_case("ArgMaxAxis1Keep", true, gen.uniform(x), 1, 1, false),
      arg_case("ArgMaxNegativeAxisNoKeep", true, gen.uniform(x), -1, 0, false),
      arg_case("ArgMaxDefaultKeepdimsOpset11", true, gen.uniform(x), 0, -1, false, 11),
      arg_case("ArgMaxSelectLastIndex", true, i64({2, 4}, {1, 3, 3, 0, 5, 5, 2, 5}), 1, 1, true),
      arg_case("ArgMaxTiesFirstIndex", true, i64({2, 4}, {1, 3, 3, 0, 5, 5, 2, 5}), 1, 0, false),
      arg_case("ArgMinAxis0", false, gen.uniform(x), 0, 1, false),
      arg_case("ArgMinNegativeAxisNoKeep", false, gen.uniform(x), -2, 0, false),
      arg_case("ArgMinSelectLastIndexI32", false, i32({3, 2}, {1, 0, 1, 2, 0, 0}), 0, 1, true),
      arg_case("ArgMinRank1", false, f32({5}, {3, 1, 4, 1, 5}), 0, 0, false),
  };
}

std::vector<OpCase> cases() {
  Gen gen(7);
  const Dims x{2, 3, 4};
  return {
      reduce_case("ReduceSumAxesAttrOpset11", gen.uniform(x), {Kind::kSum, 11, AxesAs::kAttr, {1}, -1}),
      reduce_case("ReduceSumAxesInputOpset13", gen.uniform(x), {Kind::kSum, 13, AxesAs::kInput, {-1}, 0}),
      reduce_case("ReduceSumAxesConstantOpset13", gen.uniform(x), {Kind::kSum, 13, AxesAs::kConstant, {0, 2}, 1}),
      reduce_case("ReduceSumAllAxesKeep", gen.uniform(x), {Kind::kSum, 13, AxesAs::kNone, {}, 1}),
      reduce_case("ReduceSumAllAxesToRank0", gen.uniform(x), {Kind::kSum, 13, AxesAs::kNone, {}, 0}),
      reduce_case("ReduceSumEmptyAxesInput", gen.uniform(x), {Kind::kSum, 13, AxesAs::kConstant, {}, 1}),
      reduce_case("ReduceSumNoopWithEmptyAxes", gen.uniform(x), {Kind::kSum, 13, AxesAs::kNone, {}, 1, true}),
      reduce_case("ReduceSumOverEmptyDim", gen.uniform({2, 0, 3}), {Kind::kSum, 13, AxesAs::kConstant, {1}, 1}),
      // ONNX: a max over nothing is -inf (where the dtype has it).
      reduce_case("ReduceMaxOverEmptyDimOpset20", gen.uniform({2, 0, 3}),
                  {Kind::kMax, 20, AxesAs::kConstant, {1}, 0}),
      reduce_case("ReduceSumRank6", gen.uniform({2, 1, 3, 1, 2, 2}), {Kind::kSum, 13, AxesAs::kConstant, {0, 2, -1}, 0}),
      reduce_case("ReduceSumMiddleAxisLarge", gen.uniform({5, 33, 7}), {Kind::kSum, 13, AxesAs::kConstant, {1}, 1}),
      reduce_case("ReduceMeanSpatialLarge", gen.uniform({4, 32, 7, 7}), {Kind::kMean, 13, AxesAs::kAttr, {2, 3}, 1}),
      reduce_case("ReduceMaxLastAxisLarge", gen.uniform({6, 130}), {Kind::kMax, 13, AxesAs::kAttr, {-1}, 0}),
      reduce_case("ReduceMeanAxesAttrOpset13", gen.uniform(x), {Kind::kMean, 13, AxesAs::kAttr, {0, 2}, 0}),
      reduce_case("ReduceMeanNegativeAxes", gen.uniform(x), {Kind::kMean, 13, AxesAs::kAttr, {-1, -3}, 1}),
      reduce_case("ReduceMeanAxesInputOpset18", gen.uniform(x), {Kind::kMean, 18, AxesAs::kInput, {1}, 1}),
      reduce_case("ReduceMeanAllAxes", gen.uniform({3, 5}), {Kind::kMean, 13, AxesAs::kNone, {}, 0}),
      reduce_case("ReduceMaxAxesAttrOpset13", gen.uniform(x), {Kind::kMax, 13, AxesAs::kAttr, {-1, 0}, 1}),
      reduce_case("ReduceMaxAllAxesOpset11", gen.uniform(x), {Kind::kMax, 11, AxesAs::kNone, {}, -1}),
      reduce_case("ReduceMaxAxesInputOpset18", gen.uniform(x), {Kind::kMax, 18, AxesAs::kConstant, {2}, 0}),
      reduce_case("ReduceMaxEmptyAxesInputOpset18", gen.uniform(x), {Kind::kMax, 18, AxesAs::kConstant, {}, 0}),
      reduce_case("ReduceMaxNoopOpset18", gen.uniform(x), {Kind::kMax, 18, AxesAs::kNone, {}, 1, true}),
      reduce_case("ReduceMaxNegativeValues", gen.uniform({4, 3}, -5.0, -1.0), {Kind::kMax, 13, AxesAs::kAttr, {1}, 0}),
  };
}

}  // namespace

KILN_OP_CASES(Reduce, cases());
KILN_OP_CASES(ReduceMore, more_cases());

}  // namespace kiln::test
