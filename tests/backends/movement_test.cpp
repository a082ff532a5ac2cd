// Data movement cases: Transpose, Concat, Split, Slice, Gather and Pad.

#include <algorithm>
#include <limits>

#include "op_case.h"

namespace kiln::test {
namespace {

Tensor vec(const Dims& values) { return i64({static_cast<int64_t>(values.size())}, values); }

OpCase transpose_case(const std::string& name, const Tensor& x, const Dims& perm) {
  OpCase oc(name, "Transpose");
  oc.input(x);
  if (!perm.empty()) oc.attr("perm", perm);
  return oc.expect([perm](const Refs& in) {
    Dims p = perm;
    for (int64_t i = in[0].rank() - 1; perm.empty() && i >= 0; --i) p.push_back(i);  // default: reverse
    return Refs{transpose(in[0], p)};
  });
}

OpCase concat_case(const std::string& name, const std::vector<Tensor>& xs, int64_t axis) {
  OpCase oc(name, "Concat");
  for (const Tensor& x : xs) oc.input(x);
  oc.attr("axis", axis);
  return oc.expect([axis](const Refs& in) {
    const int64_t a = norm_axis(axis, in[0].rank());
    Dims shape = in[0].shape;
    shape[static_cast<size_t>(a)] = 0;
    for (const Ref& r : in) shape[static_cast<size_t>(a)] += r.shape[static_cast<size_t>(a)];
    Ref y(in[0].dtype, shape);
    int64_t base = 0;
    for (const Ref& r : in) {
      for_each_index(r.shape, [&](const Dims& i) {
        Dims o = i;
        o[static_cast<size_t>(a)] += base;
        y.at(o) = r.at(i);
      });
      base += r.shape[static_cast<size_t>(a)];
    }
    return Refs{y};
  });
}

// Split into the given sizes along axis.
Refs split_ref(const Ref& x, int64_t axis, const Dims& sizes) {
  Refs outs;
  int64_t base = 0;
  for (int64_t size : sizes) {
    Dims shape = x.shape;
    shape[static_cast<size_t>(axis)] = size;
    Ref y(x.dtype, shape);
    for_each_index(shape, [&](const Dims& o) {
      Dims i = o;
      i[static_cast<size_t>(axis)] += base;
      y.at(o) = x.at(i);
    });
    outs.push_back(y);
    base += size;
  }
  return outs;
}

OpCase split_case(OpCase oc, int64_t axis, Dims sizes) {
  oc.outputs(sizes.size());
  if (axis != 0) oc.attr("axis", axis);
  return oc.expect([axis, sizes](const Refs& in) { return split_ref(in[0], norm_axis(axis, in[0].rank()), sizes); });
}

struct SliceSpec {
  Dims starts, ends, axes, steps;  // axes/steps empty: omitted
  bool as_inputs = false;          // graph inputs instead of initializers
};

OpCase slice_case(const std::string& name, const Tensor& x, const SliceSpec& s) {
  OpCase oc(name, "Slice");
  oc.input(x);
  auto add = [&](const Dims& values) { if (s.as_inputs) oc.input(vec(values)); else oc.constant(vec(values)); };
  add(s.starts);
  add(s.ends);
  if (!s.axes.empty()) add(s.axes);
  if (!s.steps.empty()) {
    if (s.axes.empty()) oc.absent();
    add(s.steps);
  }
  return oc.expect([s](const Refs& in) {
    const Ref& x_ref = in[0];
    const int64_t rank = x_ref.rank();
    Dims start(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1), count = x_ref.shape;
    for (size_t k = 0; k < s.starts.size(); ++k) {
      const auto a = static_cast<size_t>(norm_axis(s.axes.empty() ? static_cast<int64_t>(k) : s.axes[k], rank));
      const int64_t dim = x_ref.shape[a], st = s.steps.empty() ? 1 : s.steps[k];
      int64_t b = s.starts[k] < 0 ? s.starts[k] + dim : s.starts[k];
      int64_t e = s.ends[k] < 0 ? s.ends[k] + dim : s.ends[k];
      // ONNX clamping: [0, dim] for positive steps, [-1, dim-1] for negative ones.
      if (st > 0) {
        b = std::clamp<int64_t>(b, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        count[a] = std::max<int64_t>(0, (e - b + st - 1) / st);
      } else {
        b = std::clamp<int64_t>(b, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        count[a] = std::max<int64_t>(0, (b - e + (-st) - 1) / (-st));
      }
      start[a] = b;
      step[a] = st;
    }
    Ref y(x_ref.dtype, count);
    for_each_index(count, [&](const Dims& o) {
      Dims i(o.size());
      for (size_t d = 0; d < o.size(); ++d) i[d] = start[d] + o[d] * step[d];
      y.at(o) = x_ref.at(i);
    });
    return Refs{y};
  });
}

OpCase gather_case(const std::string& name, const Tensor& data, const Tensor& indices, int64_t axis) {
  OpCase oc(name, "Gather");
  oc.input(data).input(indices);
  if (axis != 0) oc.attr("axis", axis);
  return oc.expect([axis](const Refs& in) {
    const Ref &d = in[0], &idx = in[1];
    const auto a = static_cast<size_t>(norm_axis(axis, d.rank()));
    Dims shape(d.shape.begin(), d.shape.begin() + static_cast<int64_t>(a));
    shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
    shape.insert(shape.end(), d.shape.begin() + static_cast<int64_t>(a) + 1, d.shape.end());
    Ref y(d.dtype, shape);
    for_each_index(shape, [&](const Dims& o) {
      const Dims ii(o.begin() + static_cast<int64_t>(a), o.begin() + static_cast<int64_t>(a + idx.shape.size()));
      auto k = static_cast<int64_t>(idx.at(ii));
      if (k < 0) k += d.shape[a];
      Dims di(o.begin(), o.begin() + static_cast<int64_t>(a));
      di.push_back(k);
      di.insert(di.end(), o.begin() + static_cast<int64_t>(a + idx.shape.size()), o.end());
      y.at(o) = d.at(di);
    });
    return Refs{y};
  });
}

OpCase pad_case(const std::string& name, int opset, const Tensor& x, const Dims& pads, const char* mode,
                const Tensor* value, bool pads_as_input = false) {
  OpCase oc(name, "Pad");
  oc.at_opset(opset).input(x);
  if (pads_as_input) oc.input(vec(pads)); else oc.constant(vec(pads));
  if (value != nullptr) oc.constant(*value);
  if (std::string(mode) != "constant") oc.attr("mode", mode);
  return oc.expect([pads, m = std::string(mode)](const Refs& in) {
    const Ref& x_ref = in[0];
    const size_t rank = x_ref.shape.size();
    const double fill = in.size() > 2 ? in[2].v[0] : 0.0;
    Dims shape = x_ref.shape;
    for (size_t d = 0; d < rank; ++d) shape[d] += pads[d] + pads[rank + d];
    Ref y(x_ref.dtype, shape);
    for_each_index(shape, [&](const Dims& o) {
      Dims i(rank);
      bool outside = false;
      for (size_t d = 0; d < rank; ++d) {
        int64_t p = o[d] - pads[d];
        const int64_t n = x_ref.shape[d];
        if (m == "edge") p = std::clamp<int64_t>(p, 0, n - 1);
        if (m == "reflect") {
          while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
        }
        outside = outside || p < 0 || p >= n;
        i[d] = p;
      }
      y.at(o) = outside ? fill : x_ref.at(i);
    });
    return Refs{y};
  });
}

std::vector<OpCase> cases() {
  Gen gen(9);
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const Tensor one_half = f32_scalar(1.5f), minus_seven = i64_scalar(-7);
  return {
      transpose_case("TransposePerm", gen.uniform({2, 3, 4}), {2, 0, 1}),
      transpose_case("TransposeDefaultReverses", gen.uniform({2, 3, 4}), {}),
      transpose_case("TransposeRank6", gen.uniform({2, 1, 3, 1, 2, 2}), {5, 0, 3, 1, 4, 2}),
      transpose_case("TransposeEmpty", gen.uniform({0, 3}), {1, 0}),
      transpose_case("TransposeI64", gen.integers({2, 3}, -9, 9), {1, 0}),
      concat_case("ConcatAxis1", {gen.uniform({2, 1, 3}), gen.uniform({2, 2, 3}), gen.uniform({2, 3, 3})}, 1),
      concat_case("ConcatNegativeAxis", {gen.uniform({2, 3}), gen.uniform({2, 2})}, -1),
      concat_case("ConcatWithEmpty", {gen.uniform({2, 0}), gen.uniform({2, 3}), gen.uniform({2, 0})}, 1),
      concat_case("ConcatI64Vectors", {vec({1, 2}), vec({3}), vec({4, 5, 6})}, 0),
      concat_case("ConcatRank6", {gen.uniform({1, 2, 1, 2, 1, 2}), gen.uniform({1, 2, 1, 2, 1, 2})}, 3),
      split_case(OpCase("SplitEqualOpset13", "Split").at_opset(13).input(gen.uniform({2, 6})), 1, {2, 2, 2}),
      split_case(OpCase("SplitSizesAttrOpset11", "Split").at_opset(11).input(gen.uniform({5, 2})).attr("split", Dims{2, 3}),
                 0, {2, 3}),
      split_case(OpCase("SplitSizesConstantOpset13", "Split").at_opset(13).input(gen.uniform({2, 6})).constant(vec({1, 2, 3})),
                 -1, {1, 2, 3}),
      split_case(OpCase("SplitSizesInputOpset13", "Split").at_opset(13).input(gen.uniform({6, 3})).input(vec({4, 2})), 0,
                 {4, 2}),
      split_case(OpCase("SplitZeroSize", "Split").at_opset(13).input(gen.uniform({2, 3})).constant(vec({3, 0})), 1, {3, 0}),
      split_case(OpCase("SplitNumOutputsOpset18", "Split").at_opset(18).input(gen.uniform({7})).attr("num_outputs", 3), 0,
                 {3, 3, 1}),
      split_case(OpCase("SplitI64", "Split").at_opset(13).input(vec({1, 2, 3, 4})), 0, {2, 2}),
      slice_case("SliceAxes", gen.uniform({3, 4, 5}), {{1, 0}, {3, 4}, {0, 2}, {}}),
      slice_case("SliceAxesOmitted", gen.uniform({3, 4}), {{0, 1}, {2, 3}, {}, {}}),
      slice_case("SliceReverse", gen.uniform({5, 4}), {{-1}, {kMin}, {0}, {-1}}),
      slice_case("SliceNegativeStep2", gen.uniform({3, 7}), {{5}, {0}, {1}, {-2}}),
      slice_case("SliceNegativeStepClampedStart", gen.uniform({4, 3}), {{100}, {-100}, {0}, {-1}}),
      slice_case("SliceClampedEnds", gen.uniform({3, 6}), {{-100, 1}, {100, 1000}, {}, {}}),
      slice_case("SliceNegativeAxisSteps", gen.uniform({2, 3, 8}), {{1}, {-1}, {-1}, {2}}),
      slice_case("SliceStepsAxesOmitted", gen.uniform({6, 5}), {{0, 1}, {6, 5}, {}, {3, 2}}),
      slice_case("SliceMixedSteps", gen.uniform({5, 6, 4}), {{4, 1, -1}, {0, 6, -5}, {0, 1, 2}, {-2, 3, -1}}),
      slice_case("SliceInputsAtRunTime", gen.uniform({4, 5}), {{1, -3}, {3, -1}, {0, 1}, {1, 1}, true}),
      slice_case("SliceToEmpty", gen.uniform({4, 3}), {{3}, {1}, {0}, {}}),
      slice_case("SliceI64", vec({10, 20, 30, 40}), {{1}, {3}, {}, {}}),
      gather_case("GatherNegativeIndices", gen.uniform({4, 3}), vec({0, -1, 2}), 0),
      gather_case("GatherAxis1", gen.uniform({2, 5, 2}), i64({2, 2}, {4, 0, -2, 1}), 1),
      gather_case("GatherScalarIndex", gen.uniform({3, 4}), i64_scalar(1), 0),
      gather_case("GatherScalarIndexLastAxis", gen.uniform({3, 4}), i64_scalar(-1), -1),
      gather_case("GatherI64ShapeElement", vec({2, 3, 224, 224}), i64_scalar(2), 0),
      gather_case("GatherI32Indices", gen.uniform({5, 2}), i32({3}, {4, 0, -5}), 0),
      gather_case("GatherEmptyIndices", gen.uniform({3, 2}), i64({0}, {}), 0),
      pad_case("PadConstantValue", 13, gen.uniform({2, 3}), {1, 0, 2, 1}, "constant", &one_half),
      pad_case("PadConstantDefaultZeroPadsInput", 13, gen.uniform({2, 3}), {0, 2, 1, 0}, "constant", nullptr, true),
      pad_case("PadConstantOpset11", 11, gen.uniform({3}), {2, 1}, "constant", nullptr),
      pad_case("PadReflect", 13, gen.uniform({3, 4}), {2, 1, 0, 3}, "reflect", nullptr),
      pad_case("PadReflectSpatial", 13, gen.uniform({1, 2, 3, 3}), {0, 0, 1, 2, 0, 0, 2, 1}, "reflect", nullptr),
      pad_case("PadEdge", 13, gen.uniform({2, 3}), {1, 2, 3, 0}, "edge", nullptr),
      pad_case("PadI64Constant", 13, vec({1, 2, 3}), {1, 2}, "constant", &minus_seven),
  };
}

}  // namespace

KILN_OP_CASES(Movement, cases());

}  // namespace kiln::test
