// Data movement cases: Transpose, Concat, Split, Slice, Gather and Pad.

#include <algorithm>
#include <limits>

#include "kiln/runtime/error.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"
#include "op_case.h"
#include "test_backends.h"

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
        if (m == "wrap") {  // numpy's wrap on the axis left after negative pads crop it
          const int64_t lo = std::max<int64_t>(0, -pads[d]), hi = n - std::max<int64_t>(0, -pads[rank + d]);
          while (p < lo) p += hi - lo;
          while (p >= hi) p -= hi - lo;
        }
        outside = outside || p < 0 || p >= n;
        i[d] = p;
      }
      y.at(o) = outside ? fill : x_ref.at(i);
    });
    return Refs{y};
  });
}

// Combines an existing element with an update under a scatter reduction.
double reduce_scatter(const std::string& reduction, double a, double b) {
  if (reduction == "add") return a + b;
  if (reduction == "mul") return a * b;
  if (reduction == "max") return std::max(a, b);
  if (reduction == "min") return std::min(a, b);
  return b;
}

OpCase gather_elements_case(const std::string& name, const Tensor& data, const Tensor& indices, int64_t axis) {
  OpCase oc(name, "GatherElements");
  oc.at_opset(13).input(data).input(indices);
  if (axis != 0) oc.attr("axis", axis);
  return oc.expect([axis](const Refs& in) {
    const Ref &d = in[0], &idx = in[1];
    const auto a = static_cast<size_t>(norm_axis(axis, d.rank()));
    Ref y(d.dtype, idx.shape);
    for_each_index(idx.shape, [&](const Dims& o) {
      Dims di = o;
      auto k = static_cast<int64_t>(idx.at(o));
      di[a] = k < 0 ? k + d.shape[a] : k;
      y.at(o) = d.at(di);
    });
    return Refs{y};
  });
}

OpCase scatter_elements_case(const std::string& name, int opset, const Tensor& data, const Tensor& indices,
                             const Tensor& updates, int64_t axis, const char* reduction) {
  OpCase oc(name, opset < 11 ? "Scatter" : "ScatterElements");
  oc.at_opset(opset).input(data).input(indices).input(updates);
  if (axis != 0) oc.attr("axis", axis);
  if (std::string(reduction) != "none") oc.attr("reduction", reduction);
  return oc.expect([axis, r = std::string(reduction)](const Refs& in) {
    const Ref &d = in[0], &idx = in[1], &u = in[2];
    const auto a = static_cast<size_t>(norm_axis(axis, d.rank()));
    Ref y = d;
    for_each_index(idx.shape, [&](const Dims& o) {
      Dims di = o;
      auto k = static_cast<int64_t>(idx.at(o));
      di[a] = k < 0 ? k + d.shape[a] : k;
      y.at(di) = reduce_scatter(r, y.at(di), u.at(o));
    });
    return Refs{y};
  });
}

// The data index of GatherND/ScatterND for tuple position `pos` (indices' dims but the last)
// and slice element `rest`.
Dims nd_data_index(const Ref& d, const Ref& idx, const Dims& pos, const Dims& rest, int64_t batch) {
  Dims di(pos.begin(), pos.begin() + batch);
  const int64_t depth = idx.shape.back();
  for (int64_t k = 0; k < depth; ++k) {
    Dims ii = pos;
    ii.push_back(k);
    auto v = static_cast<int64_t>(idx.at(ii));
    di.push_back(v < 0 ? v + d.shape[static_cast<size_t>(batch + k)] : v);
  }
  di.insert(di.end(), rest.begin(), rest.end());
  return di;
}

OpCase gather_nd_case(const std::string& name, int opset, const Tensor& data, const Tensor& indices, int64_t batch) {
  OpCase oc(name, "GatherND");
  oc.at_opset(opset).input(data).input(indices);
  if (batch != 0) oc.attr("batch_dims", batch);
  return oc.expect([batch](const Refs& in) {
    const Ref &d = in[0], &idx = in[1];
    const Dims pos_shape(idx.shape.begin(), idx.shape.end() - 1);
    const Dims rest_shape(d.shape.begin() + batch + idx.shape.back(), d.shape.end());
    Dims shape = pos_shape;
    shape.insert(shape.end(), rest_shape.begin(), rest_shape.end());
    Ref y(d.dtype, shape);
    for_each_index(shape, [&](const Dims& o) {
      const Dims pos(o.begin(), o.begin() + static_cast<int64_t>(pos_shape.size()));
      const Dims rest(o.begin() + static_cast<int64_t>(pos_shape.size()), o.end());
      y.at(o) = d.at(nd_data_index(d, idx, pos, rest, batch));
    });
    return Refs{y};
  });
}

OpCase scatter_nd_case(const std::string& name, int opset, const Tensor& data, const Tensor& indices,
                       const Tensor& updates, const char* reduction) {
  OpCase oc(name, "ScatterND");
  oc.at_opset(opset).input(data).input(indices).input(updates);
  if (std::string(reduction) != "none") oc.attr("reduction", reduction);
  return oc.expect([r = std::string(reduction)](const Refs& in) {
    const Ref &d = in[0], &idx = in[1], &u = in[2];
    const size_t q = idx.shape.size() - 1;
    Ref y = d;
    for_each_index(u.shape, [&](const Dims& o) {
      const Dims pos(o.begin(), o.begin() + static_cast<int64_t>(q));
      const Dims rest(o.begin() + static_cast<int64_t>(q), o.end());
      Dims di = nd_data_index(d, idx, pos, rest, 0);
      y.at(di) = reduce_scatter(r, y.at(di), u.at(o));
    });
    return Refs{y};
  });
}

OpCase depth_to_space_case(const std::string& name, int opset, const Tensor& x, int64_t b, const char* mode) {
  OpCase oc(name, "DepthToSpace");
  oc.at_opset(opset).input(x).attr("blocksize", b);
  if (mode != nullptr) oc.attr("mode", mode);
  return oc.expect([b, crd = mode != nullptr && std::string(mode) == "CRD"](const Refs& in) {
    const Dims& s = in[0].shape;
    const int64_t c = s[1] / (b * b);
    Ref t = crd ? transpose(reshaped(in[0], {s[0], c, b, b, s[2], s[3]}), {0, 1, 4, 2, 5, 3})
                : transpose(reshaped(in[0], {s[0], b, b, c, s[2], s[3]}), {0, 3, 4, 1, 5, 2});
    return Refs{reshaped(t, {s[0], c, s[2] * b, s[3] * b})};
  });
}

// mode (opset 28): DCR puts the block offsets before the channel, CRD after it.
OpCase space_to_depth_case(const std::string& name, const Tensor& x, int64_t b, int opset = 13,
                           const char* mode = nullptr) {
  OpCase oc(name, "SpaceToDepth");
  oc.at_opset(opset).input(x).attr("blocksize", b);
  if (mode != nullptr) oc.attr("mode", mode);
  return oc.expect([b, crd = mode != nullptr && std::string(mode) == "CRD"](const Refs& in) {
    const Dims& s = in[0].shape;
    Ref t = transpose(reshaped(in[0], {s[0], s[1], s[2] / b, b, s[3] / b, b}),
                      crd ? Dims{0, 1, 3, 5, 2, 4} : Dims{0, 3, 5, 1, 2, 4});
    return Refs{reshaped(t, {s[0], s[1] * b * b, s[2] / b, s[3] / b})};
  });
}

OpCase trilu_case(const std::string& name, const Tensor& x, bool upper, const Tensor* k) {
  OpCase oc(name, "Trilu");
  oc.at_opset(14).input(x);
  if (k != nullptr) oc.input(*k);
  if (!upper) oc.attr("upper", 0);
  return oc.expect([upper](const Refs& in) {
    const int64_t k_value = in.size() > 1 ? static_cast<int64_t>(in[1].v[0]) : 0;
    Ref y = in[0];
    for_each_index(y.shape, [&](const Dims& o) {
      const int64_t i = o[o.size() - 2], j = o.back();
      if (upper ? j - i < k_value : j - i > k_value) y.at(o) = 0;
    });
    return Refs{y};
  });
}

OpCase cumsum_case(const std::string& name, const Tensor& x, int64_t axis, bool exclusive, bool reverse,
                   bool axis_i32 = false) {
  OpCase oc(name, "CumSum");
  oc.at_opset(14).input(x);
  if (axis_i32) oc.input(i32({}, {static_cast<int32_t>(axis)})); else oc.input(i64_scalar(axis));
  if (exclusive) oc.attr("exclusive", 1);
  if (reverse) oc.attr("reverse", 1);
  return oc.expect([axis, exclusive, reverse](const Refs& in) {
    const Ref& x_ref = in[0];
    const auto a = static_cast<size_t>(norm_axis(axis, x_ref.rank()));
    Ref y(x_ref.dtype, x_ref.shape);
    for_each_index(x_ref.shape, [&](const Dims& o) {
      double sum = 0;
      Dims i = o;
      for (int64_t t = 0; t < x_ref.shape[a]; ++t) {
        i[a] = t;
        const bool before = reverse ? t > o[a] : t < o[a];
        if (before || (!exclusive && t == o[a])) sum += x_ref.at(i);
      }
      y.at(o) = sum;
    });
    return Refs{y};
  });
}

OpCase eye_like_case(const std::string& name, const Tensor& x, int64_t k, int dtype_code, DType out_dtype) {
  OpCase oc(name, "EyeLike");
  oc.at_opset(9).input(x);
  if (k != 0) oc.attr("k", k);
  if (dtype_code != 0) oc.attr("dtype", dtype_code);
  return oc.expect([k, out_dtype](const Refs& in) {
    Ref y(out_dtype, in[0].shape);
    for_each_index(y.shape, [&](const Dims& o) { y.at(o) = o[1] - o[0] == k ? 1 : 0; });
    return Refs{y};
  });
}

OpCase one_hot_case(const std::string& name, int opset, const Tensor& indices, const Tensor& depth,
                    const Tensor& values, int64_t axis) {
  OpCase oc(name, "OneHot");
  oc.at_opset(opset).input(indices).constant(depth).input(values);
  if (axis != -1) oc.attr("axis", axis);
  return oc.expect([axis](const Refs& in) {
    const Ref& idx = in[0];
    const auto depth_value = static_cast<int64_t>(in[1].v[0]);
    const auto a = static_cast<size_t>(norm_axis(axis, idx.rank() + 1));
    Dims shape = idx.shape;
    shape.insert(shape.begin() + static_cast<int64_t>(a), depth_value);
    Ref y(in[2].dtype, shape);
    for_each_index(shape, [&](const Dims& o) {
      Dims ii = o;
      ii.erase(ii.begin() + static_cast<int64_t>(a));
      auto v = static_cast<int64_t>(idx.at(ii));
      if (v < 0) v += depth_value;
      y.at(o) = v == o[a] ? in[2].v[1] : in[2].v[0];
    });
    return Refs{y};
  });
}

std::vector<OpCase> cases() {
  Gen gen(9);
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const Tensor one_half = f32_scalar(1.5f), minus_seven = i64_scalar(-7);
  const Tensor k_minus_one = i64_scalar(-1), k_two = i64_scalar(2), k_far = i64_scalar(7);
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
      pad_case("PadWrapOpset19", 19, f32({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f}), {2, 1, 1, 1}, "wrap",
               nullptr),
      pad_case("PadWrapLargerThanAxis", 19, gen.uniform({2, 3}), {3, 4, 5, 0}, "wrap", nullptr),
      pad_case("PadWrapCropsAndPads", 19, gen.uniform({3, 4}), {-1, 2, 1, -1}, "wrap", nullptr),
      pad_case("PadWrapI64Opset25", 25, gen.integers({2, 3}, -9, 9), {1, 2, 2, 0}, "wrap", nullptr),
      pad_case("PadI64Constant", 13, vec({1, 2, 3}), {1, 2}, "constant", &minus_seven),
      gather_elements_case("GatherElementsAxis0", gen.uniform({3, 4}), i64({2, 4}, {0, 2, -1, 1, 2, 0, 1, -3}), 0),
      gather_elements_case("GatherElementsAxis1Smaller", gen.uniform({3, 4}), i32({2, 2}, {3, 0, -1, 1}), 1),
      gather_elements_case("GatherElementsI64Data", gen.integers({2, 3, 2}, -9, 9), i64({2, 2, 2}, {0, 1, 2, 0, 1, 1, 2, 2}),
                           -2),
      gather_nd_case("GatherNDFullIndex", 11, gen.uniform({3, 4}), i64({3, 2}, {0, 1, 2, 3, -1, -4}), 0),
      gather_nd_case("GatherNDSlices", 12, gen.uniform({3, 4, 2}), i64({2, 2, 1}, {2, 0, 1, -1}), 0),
      gather_nd_case("GatherNDBatchDims", 13, gen.uniform({2, 3, 4}), i64({2, 2, 1}, {2, 0, 1, 1}), 1),
      gather_nd_case("GatherNDBatchDimsFull", 13, gen.integers({2, 3, 2}, -9, 9), i64({2, 2}, {1, 0, 2, 1}), 1),
      scatter_elements_case("ScatterElementsAxis0", 13, gen.uniform({3, 3}), i64({2, 3}, {1, 0, 2, 0, 2, 1}),
                            gen.uniform({2, 3}), 0, "none"),
      scatter_elements_case("ScatterElementsAxis1Negative", 11, gen.uniform({2, 5}), i32({2, 2}, {1, -2, 4, 0}),
                            gen.uniform({2, 2}), 1, "none"),
      scatter_elements_case("ScatterElementsAddDuplicates", 16, gen.uniform({1, 5}), i64({1, 3}, {1, 1, 3}),
                            gen.uniform({1, 3}), 1, "add"),
      scatter_elements_case("ScatterOpset10", 10, gen.uniform({2, 3}), i64({1, 3}, {1, 0, 1}), gen.uniform({1, 3}), 0,
                            "none"),
      scatter_elements_case("ScatterElementsMul", 16, gen.uniform({4}), i64({3}, {0, 0, 2}), gen.uniform({3}), 0, "mul"),
      scatter_elements_case("ScatterElementsMaxOpset18", 18, gen.uniform({4}), i64({3}, {3, 3, 1}), gen.uniform({3}), 0,
                            "max"),
      scatter_elements_case("ScatterElementsI64Add", 16, gen.integers({2, 2}, -5, 5), i64({1, 2}, {1, 0}),
                            gen.integers({1, 2}, -5, 5), 0, "add"),
      scatter_nd_case("ScatterNDElements", 13, gen.uniform({8}), i64({4, 1}, {4, 3, 1, 7}), gen.uniform({4}), "none"),
      scatter_nd_case("ScatterNDSlices", 11, gen.uniform({4, 2, 3}), i64({2, 1}, {0, 2}), gen.uniform({2, 2, 3}), "none"),
      scatter_nd_case("ScatterNDAddDuplicates", 16, gen.uniform({3, 2}), i64({3, 2}, {0, 1, 0, 1, -1, 0}),
                      gen.uniform({3}), "add"),
      scatter_nd_case("ScatterNDMul", 16, gen.uniform({2, 3}), i64({2, 1}, {1, 1}), gen.uniform({2, 3}), "mul"),
      depth_to_space_case("DepthToSpaceDCR", 13, gen.uniform({1, 8, 2, 3}), 2, "DCR"),
      depth_to_space_case("DepthToSpaceCRD", 13, gen.uniform({2, 8, 2, 2}), 2, "CRD"),
      depth_to_space_case("DepthToSpaceOpset1", 1, gen.uniform({1, 9, 1, 2}), 3, nullptr),
      space_to_depth_case("SpaceToDepth", gen.uniform({2, 2, 4, 6}), 2),
      space_to_depth_case("SpaceToDepthBlock3", gen.integers({1, 1, 3, 6}, -9, 9), 3),
      space_to_depth_case("SpaceToDepthOpset28DefaultDCR", gen.uniform({1, 3, 4, 2}), 2, 28),
      space_to_depth_case("SpaceToDepthOpset28DCR", gen.uniform({2, 2, 4, 6}), 2, 28, "DCR"),
      space_to_depth_case("SpaceToDepthOpset28CRD", gen.uniform({2, 3, 4, 6}), 2, 28, "CRD"),
      space_to_depth_case("SpaceToDepthOpset28CRDBlock3", gen.integers({1, 2, 3, 6}, -9, 9), 3, 28, "CRD"),
      trilu_case("TriluUpper", gen.uniform({3, 4}), true, nullptr),
      trilu_case("TriluLowerK", gen.uniform({2, 4, 3}), false, &k_minus_one),
      trilu_case("TriluUpperK2", gen.uniform({5, 3}), true, &k_two),
      trilu_case("TriluLowerFarK", gen.integers({3, 3}, -9, 9), false, &k_far),
      cumsum_case("CumSum1d", gen.uniform({5}), 0, false, false),
      cumsum_case("CumSumAxis1Exclusive", gen.uniform({2, 4, 3}), 1, true, false),
      cumsum_case("CumSumReverse", gen.uniform({3, 4}), -1, false, true, true),
      cumsum_case("CumSumReverseExclusiveI64", gen.integers({4, 2}, -9, 9), 0, true, true),
      eye_like_case("EyeLike", gen.uniform({3, 4}), 0, 0, DType::kF32),
      eye_like_case("EyeLikeKDtypeI64", gen.uniform({4, 3}), -1, 7, DType::kI64),
      eye_like_case("EyeLikeKPositiveFromI32", i32({3, 5}, std::vector<int32_t>(15, 4)), 2, 1, DType::kF32),
      one_hot_case("OneHotAxisLast", 11, i64({4}, {0, 2, -1, 1}), i64_scalar(3), f32({2}, {0.5f, 2.0f}), -1),
      one_hot_case("OneHotAxis0I32Values", 11, i64({2, 2}, {1, -2, 0, 3}), f32_scalar(4.0f), i32({2}, {-1, 7}), 0),
      one_hot_case("OneHotOutOfRangeIsOff", 11, i64({3}, {5, -4, 1}), i64_scalar(3), f32({2}, {0.0f, 1.0f}), -1),
      one_hot_case("OneHotFloatIndicesOpset9", 9, f32({3}, {1.0f, 0.0f, 2.0f}), i64_scalar(3), i64({2}, {0, 1}), 1),
  };
}

}  // namespace

KILN_OP_CASES(Movement, cases());

// Out-of-range indices that only show at run time end in one KernelError naming the node.
class MovementBadIndexTest : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  void expect_error(const std::string& op, const std::vector<Tensor>& inputs, const Attributes& attrs) {
    Graph graph;
    NodeSpec spec{op, {}, {"y"}, attrs, "bad_" + op};
    for (size_t i = 0; i < inputs.size(); ++i) {
      spec.inputs.push_back("in" + std::to_string(i));
      graph.add_input(spec.inputs.back(), inputs[i].dtype(), Shape::of(inputs[i].shape()));
    }
    graph.add_node(spec);
    graph.add_output("y");
    try {
      Executor ex(graph, ExecutorOptions{GetParam(), /*strict=*/false, 0}, test_registry());
      ex.run(inputs);
      ADD_FAILURE() << op << " ran without an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad_" + op), std::string::npos) << "message: " << e.what();
    }
  }
};

TEST_P(MovementBadIndexTest, GatherElements) {
  Gen gen(21);
  expect_error("GatherElements", {gen.uniform({2, 3}), i64({1, 2}, {0, 3})}, {});
}

TEST_P(MovementBadIndexTest, GatherND) {
  Gen gen(22);
  expect_error("GatherND", {gen.uniform({2, 3}), i64({1, 2}, {-3, 0})}, {});
}

TEST_P(MovementBadIndexTest, ScatterElements) {
  Gen gen(23);
  expect_error("ScatterElements", {gen.uniform({4}), i64({2}, {1, 4}), gen.uniform({2})}, {});
}

TEST_P(MovementBadIndexTest, ScatterND) {
  Gen gen(24);
  expect_error("ScatterND", {gen.uniform({4, 2}), i64({1, 1}, {-5}), gen.uniform({1, 2})}, {});
}

INSTANTIATE_TEST_SUITE_P(Backends, MovementBadIndexTest, ::testing::ValuesIn(backend_lists()));

}  // namespace kiln::test
