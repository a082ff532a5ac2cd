// ReduceSum, ReduceMean and ReduceMax: axes as attribute or input (by opset), keepdims,
// negative axes, all axes, noop_with_empty_axes.

#include <algorithm>
#include <limits>

#include "op_case.h"

namespace kiln::test {
namespace {

enum class Kind { kSum, kMean, kMax };

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
  static const char* const kOps[] = {"ReduceSum", "ReduceMean", "ReduceMax"};
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
    switch (s.kind) {
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

}  // namespace kiln::test
