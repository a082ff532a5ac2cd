// Transpose, Concat, Split, Slice, Gather, Expand, Tile and Pad; GatherElements, GatherND,
// ScatterElements, ScatterND, DepthToSpace, SpaceToDepth, Trilu, CumSum, EyeLike and OneHot.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

void infer_transpose(InferContext& c) {
  const Shape& x = c.input_shape(0);
  if (!x.has_rank()) {
    if (!c.has_attr("perm")) return c.set_output(0, c.input_dtype(0), Shape::unknown_rank());
    return c.set_output(0, c.input_dtype(0), unknown_dims(c.attr_ints("perm").size()));
  }
  std::vector<int64_t> perm(x.rank());
  std::iota(perm.rbegin(), perm.rend(), 0);  // default: reverse the dims
  if (c.has_attr("perm")) perm = c.attr_ints("perm");
  if (perm.size() != x.rank())
    c.fail("perm [{}] has {} entries, but the input {} has rank {}", fmt::join(perm, ","), perm.size(),
           x.to_string(), x.rank());
  std::vector<bool> seen(x.rank(), false);
  std::vector<Dim> out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(x.rank()) || seen[static_cast<size_t>(p)])
      c.fail("perm [{}] is not a permutation of 0..{}", fmt::join(perm, ","), x.rank() - 1);
    seen[static_cast<size_t>(p)] = true;
    out.push_back(x[static_cast<size_t>(p)]);
  }
  c.set_output(0, c.input_dtype(0), Shape(std::move(out)));
}

// Concatenates small integer values along axis (shape arithmetic: Concat of Unsqueezed dims).
std::optional<IntValue> fold_concat(const InferContext& c, size_t axis, DType dtype) {
  std::vector<IntValue> parts;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    std::optional<IntValue> v = small_int_value(c, i);
    if (!v) return std::nullopt;
    parts.push_back(std::move(*v));
  }
  IntValue out{dtype, parts[0].shape, {}};
  out.shape[axis] = 0;
  for (const IntValue& p : parts) out.shape[axis] += p.shape[axis];
  if (!foldable_numel(out.shape)) return std::nullopt;
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= out.shape[i];
  for (size_t i = axis + 1; i < out.shape.size(); ++i) inner *= out.shape[i];
  for (int64_t o = 0; o < outer; ++o)
    for (const IntValue& p : parts) {
      int64_t block = p.shape[axis] * inner;
      auto begin = p.data.begin() + o * block;
      out.data.insert(out.data.end(), begin, begin + block);
    }
  return out;
}

void infer_concat(InferContext& c) {
  DType dtype = c.input_dtype(0);
  std::optional<Shape> merged;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    require_same_dtype(c, 0, i);
    const Shape& s = c.input_shape(i);
    if (!s.has_rank()) continue;
    if (s.rank() == 0) c.fail("input {} is a scalar; Concat needs rank >= 1", i);
    if (merged && merged->rank() != s.rank())
      c.fail("input {} has shape {} (rank {}), but an earlier input has shape {} (rank {})", i, s.to_string(),
             s.rank(), merged->to_string(), merged->rank());
    if (!merged) merged = s;
  }
  if (!merged) return c.set_output(0, dtype, Shape::unknown_rank());
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(merged->rank())));
  std::vector<Dim> out = merged->dims();
  int64_t total = 0;
  bool total_known = true;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    const Shape& s = c.input_shape(i);
    if (!s.has_rank()) {
      total_known = false;
      continue;
    }
    for (size_t d = 0; d < s.rank(); ++d) {
      if (d == axis) continue;
      std::optional<Dim> m = merge_dim(out[d], s[d]);
      if (!m)
        c.fail("input {} has shape {}, which differs from {} at dim {} (only axis {} may differ)", i,
               s.to_string(), merged->to_string(), d, axis);
      out[d] = *m;
    }
    if (s[axis].is_static())
      total = checked_add(c, total, s[axis].value());
    else
      total_known = false;
  }
  out[axis] = total_known ? Dim(total) : Dim();
  if (std::optional<IntValue> v = fold_concat(c, axis, dtype)) return set_int_output(c, 0, std::move(*v));
  c.set_output(0, dtype, Shape(std::move(out)));
}

void infer_split(InferContext& c) {
  forbid_attr_before(c, "num_outputs", 18);
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  size_t n = c.num_outputs();
  std::optional<std::vector<int64_t>> split;
  bool split_unknown = false;
  if (c.opset() < 13) {
    limit_inputs(c, 1);
    if (c.has_attr("split")) split = c.attr_ints("split");
  } else {
    forbid_attr_since(c, "split", 13, "split is input 1");
    if (c.has_input(1)) {
      require_index(c, 1);
      split = c.input_ints(1);
      split_unknown = !split;
    }
  }
  bool has_num_outputs = c.has_attr("num_outputs");
  if (has_num_outputs && (split || split_unknown))
    c.fail("input 'split' and attribute 'num_outputs' cannot both be given");
  if (has_num_outputs && c.attr_int("num_outputs") != static_cast<int64_t>(n))
    c.fail("num_outputs is {}, but the node has {} outputs", c.attr_int("num_outputs"), n);
  if (c.opset() >= 18 && !has_num_outputs && !split && !split_unknown)
    c.fail("needs input 'split' or attribute 'num_outputs' at opset {}", c.opset());
  if (!x.has_rank()) {
    for (size_t i = 0; i < n; ++i) c.set_output(i, dtype, Shape::unknown_rank());
    return;
  }
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(x.rank())));
  if (x.rank() == 0) c.fail("cannot split a scalar");
  const Dim& dim = x[axis];
  std::vector<Dim> sizes(n);
  if (split) {
    if (split->size() != n)
      c.fail("split [{}] has {} entries for {} outputs", fmt::join(*split, ","), split->size(), n);
    int64_t sum = 0;
    for (size_t i = 0; i < n; ++i) {
      if ((*split)[i] < 0) c.fail("split [{}] has a negative size", fmt::join(*split, ","));
      sizes[i] = (*split)[i];
      sum = checked_add(c, sum, (*split)[i]);
    }
    if (dim.is_static() && sum != dim.value())
      c.fail("split [{}] sums to {}, but axis {} of {} has size {}", fmt::join(*split, ","), sum, axis,
             x.to_string(), dim.value());
  } else if (!split_unknown && dim.is_static()) {
    auto parts = static_cast<int64_t>(n);
    if (has_num_outputs) {
      // Chunks of ceil(dim / n); the last one gets what remains.
      int64_t chunk = dim.value() / parts + (dim.value() % parts != 0 ? 1 : 0);
      for (size_t i = 0; i < n; ++i)
        sizes[i] = std::clamp<int64_t>(dim.value() - chunk * static_cast<int64_t>(i), 0, chunk);
    } else {
      if (dim.value() % parts != 0)
        c.fail("axis {} of {} has size {}, not divisible into {} equal outputs", axis, x.to_string(),
               dim.value(), n);
      std::fill(sizes.begin(), sizes.end(), Dim(dim.value() / parts));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    std::vector<Dim> out = x.dims();
    out[axis] = sizes[i];
    c.set_output(i, dtype, Shape(std::move(out)));
  }
}

// --- Slice

struct SliceParams {
  std::vector<int64_t> starts, ends, axes, steps;
};

// Start and output length along one axis of static size dim, following ONNX's clamping.
std::pair<int64_t, int64_t> slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (dim == 0) return {0, 0};
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    return {start, end > start ? 1 + (end - start - 1) / step : 0};
  }
  start = std::clamp<int64_t>(start, 0, dim - 1);
  end = std::clamp<int64_t>(end, -1, dim - 1);
  // -step without overflow for step == INT64_MIN (any step beyond -dim takes one element).
  int64_t stride = step < -dim ? dim + 1 : -step;
  return {start, start > end ? 1 + (start - end - 1) / stride : 0};
}

void fold_slice(InferContext& c, const std::vector<int64_t>& starts, const std::vector<int64_t>& steps,
                const Shape& out) {
  std::optional<IntValue> v = small_int_value(c, 0);
  if (!v || !out.is_static()) return;
  IntValue result{v->dtype, out.concrete(), {}};
  std::optional<int64_t> count = foldable_numel(result.shape);
  if (!count) return;
  int64_t numel = *count;
  Dims in_strides = contiguous_strides(v->shape);
  for (int64_t k = 0; k < numel; ++k) {
    int64_t rem = k, offset = 0;
    for (size_t i = result.shape.size(); i-- > 0;) {
      int64_t j = rem % result.shape[i];
      rem /= result.shape[i];
      offset += (starts[i] + j * steps[i]) * in_strides[i];
    }
    result.data.push_back(v->data[static_cast<size_t>(offset)]);
  }
  set_int_output(c, 0, std::move(result));
}

void infer_slice(InferContext& c) {
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  SliceParams p;
  if (c.opset() < 10) {
    limit_inputs(c, 1);
    if (!c.has_attr("starts") || !c.has_attr("ends")) c.fail("attributes 'starts' and 'ends' are required");
    p.starts = c.attr_ints("starts");
    p.ends = c.attr_ints("ends");
    if (c.has_attr("axes")) p.axes = c.attr_ints("axes");
  } else {
    for (const char* name : {"starts", "ends", "axes"})
      forbid_attr_since(c, name, 10, "starts, ends, axes and steps are inputs 1..4");
    if (!c.has_input(1) || !c.has_input(2))
      c.fail("inputs 'starts' and 'ends' are required from opset 10 on");
    std::vector<std::vector<int64_t>*> targets{&p.starts, &p.ends, &p.axes, &p.steps};
    bool known = true;
    for (size_t i = 1; i <= 4; ++i) {
      if (!c.has_input(i)) continue;
      require_index(c, i, true);
      shape_input_length(c, i);
      std::optional<std::vector<int64_t>> v = c.input_ints(i);
      if (v)
        *targets[i - 1] = std::move(*v);
      else
        known = false;
    }
    if (!known) {
      if (!x.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
      // Only the sliced axes change; without their values every dim may.
      std::vector<Dim> out = x.dims();
      if (std::optional<std::vector<int64_t>> axes = c.has_input(3) ? c.input_ints(3) : std::nullopt) {
        for (int64_t a : normalize_axes(c, *axes, static_cast<int64_t>(x.rank())))
          out[static_cast<size_t>(a)] = Dim();
      } else {
        out = unknown_dims(x.rank()).dims();
      }
      return c.set_output(0, dtype, Shape(std::move(out)));
    }
  }
  size_t n = p.starts.size();
  if (p.ends.size() != n) c.fail("starts has {} entries but ends has {}", n, p.ends.size());
  if (p.axes.empty()) {
    p.axes.resize(n);
    std::iota(p.axes.begin(), p.axes.end(), 0);
  }
  if (p.steps.empty()) p.steps.assign(n, 1);
  if (p.axes.size() != n) c.fail("axes has {} entries, expected {}", p.axes.size(), n);
  if (p.steps.size() != n) c.fail("steps has {} entries, expected {}", p.steps.size(), n);
  if (!x.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  std::vector<int64_t> axes = normalize_axes(c, p.axes, static_cast<int64_t>(x.rank()));
  std::vector<Dim> out = x.dims();
  std::vector<int64_t> starts(x.rank(), 0), steps(x.rank(), 1);
  for (size_t i = 0; i < n; ++i) {
    auto a = static_cast<size_t>(axes[i]);
    if (p.steps[i] == 0) c.fail("steps[{}] is 0", i);
    const Dim& d = x[a];
    if (d.is_static()) {
      auto [start, length] = slice_range(d.value(), p.starts[i], p.ends[i], p.steps[i]);
      starts[a] = start;
      steps[a] = p.steps[i];
      out[a] = length;
    } else if (!(p.starts[i] == 0 && p.steps[i] == 1 && p.ends[i] >= std::numeric_limits<int32_t>::max())) {
      out[a] = Dim();  // anything but the full range of an unknown dim is unknown
    }
  }
  Shape shape(std::move(out));
  c.set_output(0, dtype, shape);
  fold_slice(c, starts, steps, shape);
}

// --- Gather

void infer_gather(InferContext& c) {
  require_index(c, 1, true);
  const Shape& data = c.input_shape(0);
  const Shape& indices = c.input_shape(1);
  DType dtype = c.input_dtype(0);
  require_rank(c, 0, data, 1);
  if (!data.has_rank() || !indices.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(data.rank())));
  const Dim& size = data[axis];
  std::optional<std::vector<int64_t>> idx = c.input_ints(1);
  if (idx && size.is_static())
    for (int64_t& i : *idx) {
      if (i < -size.value() || i >= size.value())
        c.fail("index {} is out of range for axis {} of size {} (data {})", i, axis, size.value(),
               data.to_string());
      if (i < 0) i += size.value();
    }
  std::vector<Dim> out(data.dims().begin(), data.dims().begin() + static_cast<ptrdiff_t>(axis));
  out.insert(out.end(), indices.dims().begin(), indices.dims().end());
  out.insert(out.end(), data.dims().begin() + static_cast<ptrdiff_t>(axis) + 1, data.dims().end());
  Shape shape(std::move(out));
  std::optional<IntValue> v = small_int_value(c, 0);
  if (v && idx && shape.is_static() && foldable_numel(shape.concrete())) {
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < axis; ++i) outer *= v->shape[i];
    for (size_t i = axis + 1; i < v->shape.size(); ++i) inner *= v->shape[i];
    IntValue result{v->dtype, shape.concrete(), {}};
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i : *idx) {
        auto begin = v->data.begin() + (o * size.value() + i) * inner;
        result.data.insert(result.data.end(), begin, begin + inner);
      }
    return set_int_output(c, 0, std::move(result));
  }
  c.set_output(0, dtype, shape);
}

// --- Expand, Tile, Pad

void infer_expand(InferContext& c) {
  require_index(c, 1);
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  std::optional<int64_t> length = shape_input_length(c, 1);
  std::optional<std::vector<int64_t>> target = c.input_ints(1);
  if (!target) {
    if (x.has_rank() && length)
      return c.set_output(0, dtype, unknown_dims(std::max<size_t>(x.rank(), *length)));
    return c.set_output(0, dtype, Shape::unknown_rank());
  }
  for (int64_t d : *target)
    if (d < 0) c.fail("shape [{}] has a negative dim", fmt::join(*target, ","));
  Shape shape = broadcast_shapes(c, {x, shape_from_values(*target)});
  if (std::optional<IntValue> v = small_int_value(c, 0); v && shape.is_static()) {
    // Broadcast against a zero-filled value of the target shape, keeping x's elements.
    IntValue target_value{v->dtype, shape.concrete(), {}};
    if (std::optional<int64_t> count = foldable_numel(target_value.shape)) {
      target_value.data.assign(static_cast<size_t>(*count), 0);
      auto first = [](const std::vector<int64_t>& a) { return std::optional<int64_t>(a[0]); };
      if (auto folded = fold_broadcast({*v, target_value}, v->dtype, first))
        return set_int_output(c, 0, std::move(*folded));
    }
  }
  c.set_output(0, dtype, shape);
}

void infer_tile(InferContext& c) {
  require_index(c, 1);
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  std::optional<int64_t> length = shape_input_length(c, 1);
  if (x.has_rank() && length && static_cast<size_t>(*length) != x.rank())
    c.fail("repeats has {} entries, but the input {} has rank {}", *length, x.to_string(), x.rank());
  std::optional<std::vector<int64_t>> repeats = c.input_ints(1);
  if (!x.has_rank()) return c.set_output(0, dtype, length ? unknown_dims(*length) : Shape::unknown_rank());
  if (!repeats) return c.set_output(0, dtype, unknown_dims(x.rank()));
  if (repeats->size() != x.rank())
    c.fail("repeats has {} entries, but the input {} has rank {}", repeats->size(), x.to_string(), x.rank());
  std::vector<Dim> out;
  for (size_t i = 0; i < x.rank(); ++i) {
    if ((*repeats)[i] < 0) c.fail("repeats[{}] is {}, expected >= 0", i, (*repeats)[i]);
    out.push_back(dim_scale(c, x[i], (*repeats)[i]));
  }
  c.set_output(0, dtype, Shape(std::move(out)));
}

void infer_pad(InferContext& c) {
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  std::string mode = c.attr_string("mode");
  if (mode == "wrap" && c.opset() < 19) c.fail("mode 'wrap' needs opset >= 19");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    c.fail("mode is '{}', expected constant, reflect, edge or wrap", mode);
  std::optional<std::vector<int64_t>> pads;
  std::optional<std::vector<int64_t>> axes;
  if (c.opset() < 11) {
    limit_inputs(c, 1);
    if (!c.has_attr("pads")) c.fail("attribute 'pads' is required before opset 11");
    pads = c.attr_ints("pads");
  } else {
    forbid_attr_since(c, "pads", 11, "pads is input 1");
    forbid_attr_since(c, "value", 11, "constant_value is input 2");
    if (c.opset() < 18) limit_inputs(c, 3);
    if (!c.has_input(1)) c.fail("input 1 (pads) is required from opset 11 on");
    require_index(c, 1);
    shape_input_length(c, 1);
    pads = c.input_ints(1);
    if (c.has_input(2)) {
      require_same_dtype(c, 0, 2);
      const Shape& v = c.input_shape(2);
      if (v.has_rank() && !(v.rank() == 0 || (v.rank() == 1 && v[0] == Dim(int64_t{1}))))
        c.fail("constant_value must be a scalar, got shape {}", v.to_string());
    }
    if (c.has_input(3)) {
      require_index(c, 3, true);
      axes = c.input_ints(3);
      if (!axes) pads.reset();  // which axes the pads apply to is unknown
    }
  }
  if (!x.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  if (!pads) return c.set_output(0, dtype, unknown_dims(x.rank()));
  std::vector<int64_t> targets(x.rank());
  std::iota(targets.begin(), targets.end(), 0);
  if (axes) targets = normalize_axes(c, *axes, static_cast<int64_t>(x.rank()));
  size_t n = targets.size();
  if (pads->size() != 2 * n)
    c.fail("pads [{}] has {} entries, expected {} (begin and end for {} axes)", fmt::join(*pads, ","),
           pads->size(), 2 * n, n);
  std::vector<Dim> out = x.dims();
  for (size_t i = 0; i < n; ++i) {
    auto a = static_cast<size_t>(targets[i]);
    int64_t delta = checked_add(c, (*pads)[i], (*pads)[i + n]);
    if (x[a].is_static() && checked_add(c, x[a].value(), delta) < 0)
      c.fail("pads [{}] remove more than axis {} of {} holds", fmt::join(*pads, ","), a, x.to_string());
    out[a] = dim_add(c, x[a], delta);
  }
  c.set_output(0, dtype, Shape(std::move(out)));
}

// --- GatherElements, GatherND, ScatterElements, ScatterND

void infer_gather_elements(InferContext& c) {
  require_index(c, 1, true);
  const Shape& data = c.input_shape(0);
  const Shape& indices = c.input_shape(1);
  require_rank(c, 0, data, 1);
  if (data.has_rank() && indices.has_rank() && data.rank() != indices.rank())
    c.fail("indices {} must have the rank of data {}", indices.to_string(), data.to_string());
  if (data.has_rank()) c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(data.rank()));
  c.set_output(0, c.input_dtype(0), indices);
}

void infer_gather_nd(InferContext& c) {
  forbid_attr_before(c, "batch_dims", 12);
  require_index(c, 1);
  const Shape& data = c.input_shape(0);
  const Shape& indices = c.input_shape(1);
  DType dtype = c.input_dtype(0);
  require_rank(c, 0, data, 1);
  require_rank(c, 1, indices, 1);
  int64_t b = c.attr_int("batch_dims");
  if (b < 0) c.fail("batch_dims is {}, expected >= 0", b);
  if (!data.has_rank() || !indices.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  auto r = static_cast<int64_t>(data.rank()), q = static_cast<int64_t>(indices.rank());
  if (b >= std::min(r, q)) c.fail("batch_dims {} must be less than the ranks of data {} and indices {}", b,
                                  data.to_string(), indices.to_string());
  for (int64_t i = 0; i < b; ++i)
    if (!merge_dim(data[static_cast<size_t>(i)], indices[static_cast<size_t>(i)]))
      c.fail("batch dim {} differs between data {} and indices {}", i, data.to_string(), indices.to_string());
  const Dim& last = indices[static_cast<size_t>(q - 1)];
  if (!last.is_static()) return c.set_output(0, dtype, Shape::unknown_rank());
  if (last.value() < 1 || last.value() > r - b)
    c.fail("indices {} has last dim {}, expected 1..{}", indices.to_string(), last.value(), r - b);
  std::vector<Dim> out(indices.dims().begin(), indices.dims().end() - 1);
  out.insert(out.end(), data.dims().begin() + b + last.value(), data.dims().end());
  c.set_output(0, dtype, Shape(std::move(out)));
}

void check_reduction(InferContext& c) {
  if (c.node().op_type() == "Scatter") return;  // no reduction attribute
  forbid_attr_before(c, "reduction", 16);
  std::string r = c.attr_string("reduction");
  bool ok = r == "none" || r == "add" || r == "mul" || (c.opset() >= 18 && (r == "max" || r == "min"));
  if (!ok) c.fail("reduction is '{}', expected none, add or mul{}", r, c.opset() >= 18 ? ", max or min" : "");
}

void infer_scatter_elements(InferContext& c) {
  check_reduction(c);
  require_index(c, 1, true);
  require_same_dtype(c, 0, 2);
  const Shape& data = c.input_shape(0);
  const Shape& indices = c.input_shape(1);
  const Shape& updates = c.input_shape(2);
  require_rank(c, 0, data, 1);
  if (data.has_rank() && indices.has_rank() && data.rank() != indices.rank())
    c.fail("indices {} must have the rank of data {}", indices.to_string(), data.to_string());
  if (indices.has_rank() && updates.has_rank() && indices.rank() == updates.rank()) {
    for (size_t i = 0; i < indices.rank(); ++i)
      if (!merge_dim(indices[i], updates[i]))
        c.fail("updates {} must have the shape of indices {}", updates.to_string(), indices.to_string());
  } else if (indices.has_rank() && updates.has_rank()) {
    c.fail("updates {} must have the shape of indices {}", updates.to_string(), indices.to_string());
  }
  if (data.has_rank()) c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(data.rank()));
  c.set_output(0, c.input_dtype(0), data);
}

void infer_scatter_nd(InferContext& c) {
  check_reduction(c);
  require_index(c, 1);
  require_same_dtype(c, 0, 2);
  const Shape& data = c.input_shape(0);
  const Shape& indices = c.input_shape(1);
  const Shape& updates = c.input_shape(2);
  require_rank(c, 0, data, 1);
  require_rank(c, 1, indices, 1);
  if (data.has_rank() && indices.has_rank() && updates.has_rank() && indices[indices.rank() - 1].is_static()) {
    int64_t k = indices[indices.rank() - 1].value();
    auto r = static_cast<int64_t>(data.rank());
    if (k < 1 || k > r) c.fail("indices {} has last dim {}, expected 1..{}", indices.to_string(), k, r);
    std::vector<Dim> want(indices.dims().begin(), indices.dims().end() - 1);
    want.insert(want.end(), data.dims().begin() + k, data.dims().end());
    bool ok = want.size() == updates.rank();
    for (size_t i = 0; ok && i < want.size(); ++i) ok = merge_dim(want[i], updates[i]).has_value();
    if (!ok) c.fail("updates {} should have shape {}", updates.to_string(), Shape(want).to_string());
  }
  c.set_output(0, c.input_dtype(0), data);
}

// --- DepthToSpace, SpaceToDepth

void infer_depth_space(InferContext& c, bool to_space) {
  // DepthToSpace takes mode from opset 11, SpaceToDepth from 28 (DCR by default).
  if (to_space || c.has_attr("mode")) {
    forbid_attr_before(c, "mode", to_space ? 11 : 28);
    std::string mode = c.attr_string("mode");
    if (mode != "DCR" && mode != "CRD") c.fail("mode is '{}', expected DCR or CRD", mode);
  }
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  require_rank(c, 0, x, 4, 4);
  int64_t b = c.attr_int("blocksize");
  if (b < 1) c.fail("blocksize is {}, expected >= 1", b);
  if (!x.has_rank()) return c.set_output(0, dtype, unknown_dims(4));
  std::vector<Dim> out = x.dims();
  int64_t bb = checked_mul(c, b, b);
  if (to_space) {
    if (x[1].is_static()) {
      if (x[1].value() % bb != 0) c.fail("channels of {} are not divisible by blocksize^2 = {}", x.to_string(), bb);
      out[1] = x[1].value() / bb;
    } else {
      out[1] = Dim();
    }
    out[2] = dim_scale(c, x[2], b);
    out[3] = dim_scale(c, x[3], b);
  } else {
    for (size_t i = 2; i < 4; ++i) {
      if (x[i].is_static()) {
        if (x[i].value() % b != 0) c.fail("axis {} of {} is not divisible by blocksize {}", i, x.to_string(), b);
        out[i] = x[i].value() / b;
      } else {
        out[i] = Dim();
      }
    }
    out[1] = dim_scale(c, x[1], bb);
  }
  c.set_output(0, dtype, Shape(std::move(out)));
}

// --- Trilu, CumSum, EyeLike, OneHot

void require_scalar_input(InferContext& c, size_t i, const char* what) {
  if (!c.has_input(i)) return;
  require_index(c, i, true);
  const Shape& s = c.input_shape(i);
  if (s.has_rank() && !(s.rank() == 0 || (s.rank() == 1 && s[0] == Dim(int64_t{1}))))
    c.fail("{} must be a scalar, got shape {}", what, s.to_string());
}

void infer_trilu(InferContext& c) {
  require_rank(c, 0, c.input_shape(0), 2);
  require_scalar_input(c, 1, "k");
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

void infer_cumsum(InferContext& c) {
  require_numeric(c, 0);
  require_scalar_input(c, 1, "axis");
  const Shape& x = c.input_shape(0);
  if (std::optional<std::vector<int64_t>> axis = c.input_ints(1); axis && x.has_rank() && axis->size() == 1)
    c.normalize_axis((*axis)[0], static_cast<int64_t>(x.rank()));
  c.set_output(0, c.input_dtype(0), x);
}

void infer_eye_like(InferContext& c) {
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 2, 2);
  DType dtype = c.input_dtype(0);
  if (c.has_attr("dtype")) {
    std::optional<DType> d = dtype_from_onnx(c.attr_int("dtype"));
    if (!d) fail_unsupported(c, fmt::format("dtype {} is not supported", c.attr_int("dtype")));
    dtype = *d;
  }
  c.set_output(0, dtype, x.has_rank() ? x : unknown_dims(2));
}

void infer_one_hot(InferContext& c) {
  require_numeric(c, 0);
  require_numeric(c, 1);
  const Shape& indices = c.input_shape(0);
  const Shape& values = c.input_shape(2);
  if (values.has_rank() && !(values.rank() == 1 && merge_dim(values[0], Dim(int64_t{2}))))
    c.fail("values must have shape [2], got {}", values.to_string());
  const Shape& depth_shape = c.input_shape(1);
  if (depth_shape.has_rank() && !(depth_shape.rank() == 0 || (depth_shape.rank() == 1 && depth_shape[0] == Dim(int64_t{1}))))
    c.fail("depth must be a scalar, got shape {}", depth_shape.to_string());
  DType dtype = c.input_dtype(2);
  if (!indices.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  auto rank = static_cast<int64_t>(indices.rank()) + 1;
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), rank));
  Dim depth;
  if (const Tensor* t = c.input_value(1); t && t->numel() == 1) {
    double d = t->item<double>();
    if (!(d >= 1)) c.fail("depth is {}, expected >= 1", d);
    depth = static_cast<int64_t>(d);
  }
  std::vector<Dim> out = indices.dims();
  out.insert(out.begin() + static_cast<ptrdiff_t>(axis), depth);
  c.set_output(0, dtype, Shape(std::move(out)));
}

void grad_transpose(GradContext& g) {
  const auto rank = static_cast<int64_t>(g.input(0).rank());
  std::vector<int64_t> perm = g.attrs().get_ints("perm", {});
  if (perm.empty())
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i] < 0 ? perm[i] + rank : perm[i])] = static_cast<int64_t>(i);
  g.set_input_grad(0, transpose(g.output_grad(0), inverse));
}

// Slice's gradient scatters the output gradient into zeros: per sliced axis, positions step
// apart (a size-1 axis padded to `step` and folded in), then zeros before start and after end.
void grad_slice(GradContext& g) {
  const Tensor& x = g.input(0);
  const auto rank = static_cast<int64_t>(x.rank());
  std::vector<int64_t> starts = *attr_or_input_ints(g, "starts", 1);
  std::vector<int64_t> ends = *attr_or_input_ints(g, "ends", 2);
  std::vector<int64_t> axes = attr_or_input_ints(g, "axes", 3).value_or(std::vector<int64_t>{});
  std::vector<int64_t> steps = attr_or_input_ints(g, "steps", 4).value_or(std::vector<int64_t>(starts.size(), 1));
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  Tensor grad = g.output_grad(0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t axis = axes[i] < 0 ? axes[i] + rank : axes[i];
    const int64_t size = x.shape()[static_cast<size_t>(axis)];
    const int64_t step = steps[i];
    if (step <= 0) g.fail("negative or zero steps are not differentiable in kiln");
    const int64_t length = grad.shape()[static_cast<size_t>(axis)];
    if (length == 0) return g.set_input_grad(0, zeros_like(x));
    const int64_t start = std::clamp(starts[i] < 0 ? starts[i] + size : starts[i], int64_t{0}, size);
    if (step > 1) {  // [.., L, ..] -> [.., L, step, ..] (zeros after each) -> [.., (L-1)*step+1, ..]
      Dims spread = grad.shape();
      spread[static_cast<size_t>(axis)] = length * step;
      std::vector<int64_t> pads(2 * static_cast<size_t>(rank + 1), 0);
      pads[static_cast<size_t>(rank + 1 + axis + 1)] = step - 1;
      grad = run_op1("Pad", {unsqueeze(grad, {axis + 1}), int_tensor(pads)}).reshape(spread);
      grad = slice(grad, axis, 0, (length - 1) * step + 1);
    }
    std::vector<int64_t> pads(2 * static_cast<size_t>(rank), 0);
    pads[static_cast<size_t>(axis)] = start;
    pads[static_cast<size_t>(rank + axis)] = size - start - grad.shape()[static_cast<size_t>(axis)];
    grad = run_op1("Pad", {grad, int_tensor(pads)});
  }
  g.set_input_grad(0, grad);
}

int64_t attr_axis(const GradContext& g, const Tensor& t) {
  const int64_t axis = g.attr_int("axis");
  return axis < 0 ? axis + static_cast<int64_t>(t.rank()) : axis;
}

// Concat: each input gets its slice of the output gradient along the axis.
void grad_concat(GradContext& g) {
  const Tensor dy = g.output_grad(0);
  const int64_t axis = attr_axis(g, dy);
  int64_t start = 0;
  for (size_t i = 0; i < g.num_inputs(); ++i) {
    const int64_t length = g.input(i).dim(axis);
    if (g.needs_input_grad(i)) g.set_input_grad(i, slice(dy, axis, start, start + length));
    start += length;
  }
}

// Split: the outputs' gradients (zeros for unused outputs) concatenated back; this holds for
// every form of the sizes (split attribute, split input, num_outputs, equal parts).
void grad_split(GradContext& g) {
  std::vector<Tensor> parts;
  for (size_t i = 0; i < g.num_outputs(); ++i) parts.push_back(g.output_grad(i));
  g.set_input_grad(0, concat(parts, attr_axis(g, g.input(0))));
}

Tensor scatter_add(const Tensor& zeros, const Tensor& indices, const Tensor& updates, int64_t axis) {
  Attributes attrs;
  attrs.set("axis", axis);
  attrs.set("reduction", std::string("add"));
  return run_op1("ScatterElements", {zeros, indices, updates}, attrs);
}

// Gather: each output slice is added into the input slice it was read from (repeated indices
// add up; negative ones count from the end, as ScatterElements reads them). With X viewed as
// [outer, n, inner] and dY as [outer, q, inner], that is a ScatterElements-add along axis 1.
void grad_gather(GradContext& g) {
  const Tensor &x = g.input(0), &indices = g.input(1), dy = g.output_grad(0);
  const int64_t axis = attr_axis(g, x), q = indices.numel();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(x.rank()); ++d) {
    if (d < axis) outer *= x.dim(d);
    if (d > axis) inner *= x.dim(d);
  }
  if (dy.numel() == 0) return g.set_input_grad(0, zeros_like(x));
  const Tensor index = expand(indices.reshape({1, q, 1}), {outer, q, inner});
  const Tensor zeros = Tensor::zeros({outer, x.dim(axis), inner}, x.dtype(), x.device());
  g.set_input_grad(0, scatter_add(zeros, index, dy.reshape({outer, q, inner}), 1).reshape(x.shape()));
}

// GatherElements: dY added into zeros at the gathered positions.
void grad_gather_elements(GradContext& g) {
  const Tensor& x = g.input(0);
  if (x.numel() == 0 || g.input(1).numel() == 0) return g.set_input_grad(0, zeros_like(x));
  g.set_input_grad(0, scatter_add(zeros_like(x), g.input(1), g.output_grad(0), attr_axis(g, x)));
}

// Tile: dY viewed as [r0, d0, r1, d1, ...] summed over the repeat axes.
void grad_tile(GradContext& g) {
  const Tensor& x = g.input(0);
  const std::vector<int64_t> repeats = g.input_ints(1);
  Dims split;
  std::vector<int64_t> repeat_axes;
  for (size_t d = 0; d < x.rank(); ++d) {
    repeat_axes.push_back(static_cast<int64_t>(split.size()));
    split.push_back(repeats[d]);
    split.push_back(x.shape()[d]);
  }
  const Tensor dy = g.output_grad(0);
  if (repeat_axes.empty()) return g.set_input_grad(0, dy);  // a scalar: sum() would reduce everything
  g.set_input_grad(0, sum(dy.reshape(split), repeat_axes).reshape(x.shape()));
}

// reflect, edge and wrap (opset 19) copy each output element from one input element, so dX sums
// dY over the outputs each input element was copied to. Which one is read comes from the same Pad
// (same opset, pads and axes) run on X's flat positions as i64; dY is then added at those
// positions into zeros.
void grad_pad_copying(GradContext& g, const std::string& mode) {
  const Tensor& x = g.input(0);
  const Tensor dy = g.output_grad(0);
  const int64_t n = x.numel(), m = dy.numel();
  if (n == 0 || m == 0) return g.set_input_grad(0, zeros_like(x));
  std::vector<int64_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = i;
  Tensor index = Tensor::from_vector<int64_t>(x.shape(), positions);
  if (!x.device().is_host()) index = index.to(x.device());
  Attributes attrs;
  attrs.set("mode", mode);
  std::vector<Tensor> inputs{index};
  if (g.opset() < 11) {
    attrs.set("pads", g.attr_ints("pads"));
  } else {
    inputs.push_back(g.input(1));
    inputs.emplace_back();  // constant_value: unused, and of X's dtype
    if (g.num_inputs() > 3) inputs.push_back(g.input(3));
  }
  const Tensor source = run_op1("Pad", inputs, attrs, "", g.opset()).reshape({m});
  Attributes scatter;
  scatter.set("axis", int64_t{0});
  scatter.set("reduction", std::string("add"));
  const Tensor zeros = Tensor::zeros({n}, x.dtype(), x.device());
  const Tensor dx = run_op1("ScatterElements", {zeros, source, dy.reshape({m})}, scatter);
  g.set_input_grad(0, dx.reshape(x.shape()));
}

// Constant Pad: the gradient is dY with the padding cropped off again (and zeros put back where
// negative pads cropped x), i.e. Pad(dY, -pads); constant_value gets the rest of dY. pads is an
// attribute before opset 11 and input 1 from 11 on; axes (opset 18) names the padded axes.
void grad_pad(GradContext& g) {
  const std::string mode = g.attr_string("mode");
  if (mode != "constant") return grad_pad_copying(g, mode);
  const Tensor& x = g.input(0);
  const auto rank = static_cast<int64_t>(x.rank());
  const std::vector<int64_t> pads = *attr_or_input_ints(g, "pads", 1);
  std::vector<int64_t> axes;
  if (g.opset() >= 18 && g.num_inputs() > 3 && g.input(3).defined())
    axes = g.input_ints(3);
  else
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  std::vector<int64_t> crop(2 * static_cast<size_t>(rank), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
    crop[static_cast<size_t>(a)] = -pads[k];
    crop[static_cast<size_t>(rank + a)] = -pads[axes.size() + k];
  }
  const Tensor dy = g.output_grad(0);
  const Tensor dx = run_op1("Pad", {dy, int_tensor(crop)});
  g.set_input_grad(0, dx);
  if (g.opset() >= 11 && g.needs_input_grad(2)) g.set_input_grad(2, (sum(dy) - sum(dx)).reshape(g.input(2).shape()));
}

// CumSum: each x_i reaches the outputs at and after i (before, when reversed; excluding i when
// exclusive), so dX is the cumulative sum of dY in the other direction.
void grad_cumsum(GradContext& g) {
  Attributes attrs;
  attrs.set("exclusive", g.attr_int("exclusive"));
  attrs.set("reverse", int64_t{g.attr_int("reverse") == 0});
  g.set_input_grad(0, run_op1("CumSum", {g.output_grad(0), g.input(1)}, attrs));
}

// Trilu keeps a fixed triangle of each matrix, so its gradient keeps the same triangle of dY.
void grad_trilu(GradContext& g) {
  Attributes attrs;
  attrs.set("upper", g.attr_int("upper"));
  std::vector<Tensor> inputs{g.output_grad(0)};
  if (g.num_inputs() > 1 && g.input(1).defined()) inputs.push_back(g.input(1));
  g.set_input_grad(0, run_op1("Trilu", inputs, attrs, "", g.opset()));
}

// DepthToSpace and SpaceToDepth are permutations, so each gradient is the inverse permutation:
// SpaceToDepth undoes DepthToSpace-DCR and DepthToSpace-DCR undoes SpaceToDepth. CRD has no
// inverse op: dY [N, C, H*b, W*b] viewed as [N, C, H, b, W, b] goes back to [N, C, b, b, H, W].
void grad_depth_to_space(GradContext& g) {
  const Tensor& x = g.input(0);
  const int64_t b = g.attr_int("blocksize");
  const Tensor dy = g.output_grad(0);
  if (g.opset() < 11 || g.attr_string("mode") == "DCR") {
    Attributes attrs;
    attrs.set("blocksize", b);
    return g.set_input_grad(0, run_op1("SpaceToDepth", {dy}, attrs));
  }
  const int64_t n = x.dim(0), h = x.dim(2), w = x.dim(3), c = x.dim(1) / (b * b);
  g.set_input_grad(0, transpose(dy.reshape({n, c, h, b, w, b}), {0, 1, 3, 5, 2, 4}).reshape(x.shape()));
}

// SpaceToDepth in either mode is undone by DepthToSpace in the same mode.
void grad_space_to_depth(GradContext& g) {
  Attributes attrs;
  attrs.set("blocksize", g.attr_int("blocksize"));
  attrs.set("mode", g.opset() < 28 ? std::string("DCR") : g.attr_string("mode"));
  g.set_input_grad(0, run_op1("DepthToSpace", {g.output_grad(0)}, attrs));
}

// An i64 tensor on `device`.
Tensor index_tensor(const Dims& shape, const std::vector<int64_t>& values, Device device) {
  Tensor t = Tensor::from_vector<int64_t>(shape, values);
  return device.is_host() ? t : t.to(device);
}

// GatherND's indices with batch_dims b folded into the tuples: data viewed as [B, rest...]
// (B the product of the batch dims) and each tuple prefixed with its batch number, so
// ScatterND and GatherND at batch_dims 0 address the same slices.
Tensor unbatched_nd_indices(const GradContext& g, const Tensor& indices, int64_t b) {
  const int64_t depth = indices.dim(static_cast<int64_t>(indices.rank()) - 1);
  int64_t batches = 1;
  for (int64_t d = 0; d < b; ++d) batches *= indices.dim(d);
  const std::vector<int64_t> flat = g.input_ints(1);
  const int64_t tuples = depth > 0 ? static_cast<int64_t>(flat.size()) / depth : 0;
  const int64_t per_batch = batches > 0 ? tuples / batches : 0;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(tuples * (depth + 1)));
  for (int64_t t = 0; t < tuples; ++t) {
    out.push_back(per_batch > 0 ? t / per_batch : 0);
    for (int64_t k = 0; k < depth; ++k) out.push_back(flat[static_cast<size_t>(t * depth + k)]);
  }
  Dims shape(indices.shape().begin() + b, indices.shape().end());
  shape.insert(shape.begin(), batches);
  shape.back() = depth + 1;
  return index_tensor(shape, out, indices.device());
}

Tensor scatter_nd(const Tensor& data, const Tensor& indices, const Tensor& updates, const char* reduction) {
  Attributes attrs;
  attrs.set("reduction", std::string(reduction));
  return run_op1("ScatterND", {data, indices, updates}, attrs);
}

// GatherND: each gathered slice of dY is added back where it was read (ScatterND-add into
// zeros; repeated tuples add up). batch_dims > 0 folds the batch dims into the tuples.
void grad_gather_nd(GradContext& g) {
  const Tensor& x = g.input(0);
  const Tensor dy = g.output_grad(0);
  const int64_t b = g.opset() >= 12 ? g.attr_int("batch_dims") : 0;
  if (dy.numel() == 0) return g.set_input_grad(0, zeros_like(x));
  if (b == 0) return g.set_input_grad(0, scatter_nd(zeros_like(x), g.input(1), dy, "add"));
  const Tensor indices = unbatched_nd_indices(g, g.input(1), b);
  Dims data_shape(x.shape().begin() + b, x.shape().end());
  data_shape.insert(data_shape.begin(), indices.dim(0));
  Dims update_shape(indices.shape().begin(), indices.shape().end() - 1);
  const int64_t depth = indices.dim(static_cast<int64_t>(indices.rank()) - 1);
  update_shape.insert(update_shape.end(), data_shape.begin() + depth, data_shape.end());
  const Tensor zeros = Tensor::zeros(data_shape, x.dtype(), x.device());
  g.set_input_grad(0, scatter_nd(zeros, indices, dy.reshape(update_shape), "add").reshape(x.shape()));
}

// The scatters' reduction: none (Scatter, and the default), or add; the others fail.
std::string scatter_reduction(const GradContext& g) {
  const std::string r = g.def().name() == "Scatter" || g.opset() < 16 ? "none" : g.attr_string("reduction");
  if (r != "none" && r != "add") g.fail(fmt::format("reduction '{}' is not differentiable in kiln (none and add are)", r));
  return r;
}

// ScatterElements (and Scatter): with reduction none, data gets dY with the scattered
// positions zeroed (they were overwritten); with add, all of dY. Updates get dY gathered at
// their indices (for none this assumes distinct indices, as ONNX does).
void grad_scatter_elements(GradContext& g) {
  const Tensor &data = g.input(0), &indices = g.input(1), &updates = g.input(2);
  const Tensor dy = g.output_grad(0);
  const bool none = scatter_reduction(g) == "none";
  const int64_t axis = attr_axis(g, data);
  const bool empty = indices.numel() == 0;
  if (g.needs_input_grad(0)) {
    if (none && !empty) {
      Attributes attrs;
      attrs.set("axis", axis);
      g.set_input_grad(0, run_op1("ScatterElements", {dy, indices, zeros_like(updates)}, attrs));
    } else {
      g.set_input_grad(0, dy);
    }
  }
  if (g.needs_input_grad(2)) {
    if (empty) return g.set_input_grad(2, zeros_like(updates));
    Attributes attrs;
    attrs.set("axis", axis);
    g.set_input_grad(2, run_op1("GatherElements", {dy, indices}, attrs));
  }
}

// ScatterND: as ScatterElements, by slices (ScatterND of zeros into dY; GatherND of dY).
void grad_scatter_nd(GradContext& g) {
  const Tensor &indices = g.input(1), &updates = g.input(2);
  const Tensor dy = g.output_grad(0);
  const bool none = scatter_reduction(g) == "none";
  const bool empty = updates.numel() == 0;
  if (g.needs_input_grad(0)) g.set_input_grad(0, none && !empty ? scatter_nd(dy, indices, zeros_like(updates), "none") : dy);
  if (g.needs_input_grad(2))
    g.set_input_grad(2, empty ? zeros_like(updates) : run_op1("GatherND", {dy, indices}));
}

}  // namespace

void register_movement_ops(OpRegistry& registry) {
  registry.add(OpDef("Transpose")
                   .opsets(1)
                   .optional_attr("perm", AttrType::kInts)
                   .infer(infer_transpose)
                   .grad(grad_transpose));
  // Concat-1 had an optional axis; from opset 4 on it is required.
  registry.add(OpDef("Concat")
                   .opsets(4)
                   .inputs(1, kVariadic)
                   .required_attr("axis", AttrType::kInt)
                   .infer(infer_concat)
                   .grad(grad_concat));
  // Split-1 took split as an input with different rules; kiln starts at 2.
  registry.add(OpDef("Split")
                   .opsets(2)
                   .inputs(1, 2)
                   .outputs(1, kVariadic)
                   .attr("axis", AttrType::kInt, int_attr(0))
                   .optional_attr("split", AttrType::kInts)       // before opset 13
                   .optional_attr("num_outputs", AttrType::kInt)  // since opset 18
                   .shape_inputs({1})
                   .infer(infer_split)
                   .grad(grad_split));
  // starts/ends/axes are attributes before opset 10 and inputs (with steps) from 10 on.
  registry.add(OpDef("Slice")
                   .opsets(1)
                   .inputs(1, 5)
                   .optional_attr("starts", AttrType::kInts)
                   .optional_attr("ends", AttrType::kInts)
                   .optional_attr("axes", AttrType::kInts)
                   .shape_inputs({1, 2, 3, 4})
                   .infer(infer_slice)
                   .grad(grad_slice));
  registry.add(
      OpDef("Gather").opsets(1).inputs(2, 2).attr("axis", AttrType::kInt, int_attr(0)).infer(infer_gather).grad(grad_gather));
  registry.add(OpDef("Expand").opsets(8).inputs(2, 2).shape_inputs({1}).infer(infer_expand).grad([](GradContext& g) {
    g.set_input_grad(0, sum_to(g.output_grad(0), g.input(0).shape()));
  }));
  // Tile-1 took (tiles, axis) inputs; kiln starts at 6 (repeats).
  registry.add(OpDef("Tile").opsets(6).inputs(2, 2).shape_inputs({1}).infer(infer_tile).grad(grad_tile));
  // Pad-1 used `paddings`; kiln starts at 2. pads/value become inputs at 11; axes arrives at 18;
  // mode 'wrap' at 19 (19, 21, 23-25 add only dtypes kiln lacks).
  registry.add(OpDef("Pad")
                   .opsets(2)
                   .inputs(1, 4)
                   .attr("mode", AttrType::kString, string_attr("constant"))
                   .optional_attr("pads", AttrType::kInts)             // before opset 11
                   .attr("value", AttrType::kFloat, float_attr(0.0f))  // before opset 11
                   .shape_inputs({1, 3})
                   .infer(infer_pad)
                   .grad(grad_pad));
  // Gather-like and scatter ops; ScatterElements/ScatterND get `reduction` at 16 (max/min at 18).
  registry.add(OpDef("GatherElements")
                   .opsets(11)
                   .inputs(2, 2)
                   .attr("axis", AttrType::kInt, int_attr(0))
                   .infer(infer_gather_elements)
                   .grad(grad_gather_elements));
  registry.add(OpDef("GatherND")
                   .opsets(11)
                   .inputs(2, 2)
                   .attr("batch_dims", AttrType::kInt, int_attr(0))  // since opset 12
                   .infer(infer_gather_nd)
                   .grad(grad_gather_nd));
  // Scatter (deprecated after opset 10) is ScatterElements-11 under another name.
  registry.add(OpDef("Scatter")
                   .opsets(9, 10)
                   .inputs(3, 3)
                   .attr("axis", AttrType::kInt, int_attr(0))
                   .infer(infer_scatter_elements)
                   .grad(grad_scatter_elements));
  registry.add(OpDef("ScatterElements")
                   .opsets(11)
                   .inputs(3, 3)
                   .attr("axis", AttrType::kInt, int_attr(0))
                   .attr("reduction", AttrType::kString, string_attr("none"))
                   .infer(infer_scatter_elements)
                   .grad(grad_scatter_elements));
  registry.add(OpDef("ScatterND")
                   .opsets(11)
                   .inputs(3, 3)
                   .attr("reduction", AttrType::kString, string_attr("none"))
                   .infer(infer_scatter_nd)
                   .grad(grad_scatter_nd));
  // mode arrives at opset 11 (DCR before).
  registry.add(OpDef("DepthToSpace")
                   .opsets(1)
                   .required_attr("blocksize", AttrType::kInt)
                   .attr("mode", AttrType::kString, string_attr("DCR"))
                   .infer([](InferContext& c) { infer_depth_space(c, true); })
                   .grad(grad_depth_to_space));
  // SpaceToDepth gets mode (DCR or CRD) at 28; DepthToSpace-28 only gains a function body.
  registry.add(OpDef("SpaceToDepth")
                   .opsets(1)
                   .required_attr("blocksize", AttrType::kInt)
                   .attr("mode", AttrType::kString, string_attr("DCR"))
                   .infer([](InferContext& c) { infer_depth_space(c, false); })
                   .grad(grad_space_to_depth));
  registry.add(
      OpDef("Trilu").opsets(14).inputs(1, 2).attr("upper", AttrType::kInt, int_attr(1)).infer(infer_trilu).grad(grad_trilu));
  // CumSum's axis is read by the kernel at run time.
  registry.add(OpDef("CumSum")
                   .opsets(11)
                   .inputs(2, 2)
                   .attr("exclusive", AttrType::kInt, int_attr(0))
                   .attr("reverse", AttrType::kInt, int_attr(0))
                   .infer(infer_cumsum)
                   .grad(grad_cumsum));
  registry.add(OpDef("EyeLike")
                   .opsets(9)
                   .optional_attr("dtype", AttrType::kInt)
                   .attr("k", AttrType::kInt, int_attr(0))
                   .infer(infer_eye_like));
  // depth sets the output's shape: it must be known at plan time.
  registry.add(OpDef("OneHot")
                   .opsets(9)
                   .inputs(3, 3)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .shape_inputs({1})
                   .infer(infer_one_hot));
}

}  // namespace kiln::ops
