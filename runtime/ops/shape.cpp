// Reshape, Flatten, Squeeze, Unsqueeze, Shape and Identity. These only change how elements
// are indexed, so small integer values pass through and keep shape arithmetic folded.
#include <fmt/format.h>

#include <algorithm>

#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

// Sets output 0 to `shape`, carrying input 0's small integer value along when it is static.
void set_reshaped(InferContext& c, const Shape& shape) {
  std::optional<IntValue> v = small_int_value(c, 0);
  if (v && shape.is_static() && foldable_numel(shape.concrete())) {
    v->shape = shape.concrete();
    return set_int_output(c, 0, std::move(*v));
  }
  c.set_output(0, c.input_dtype(0), shape);
}

// The static product and the symbols of a shape's dims; std::nullopt when a dim is unknown.
struct Factors {
  int64_t product = 1;
  std::vector<std::string> symbols;
};
std::optional<Factors> factors(const InferContext& c, const std::vector<Dim>& dims) {
  Factors f;
  for (const Dim& d : dims) {
    if (d.is_static())
      f.product = checked_mul(c, f.product, d.value());
    else if (d.is_symbolic())
      f.symbols.push_back(d.symbol());
    else
      return std::nullopt;
  }
  std::sort(f.symbols.begin(), f.symbols.end());
  return f;
}

// The symbols of `all` that are not in `used` (both sorted); std::nullopt when used has one
// that all lacks.
std::optional<std::vector<std::string>> remaining_symbols(const std::vector<std::string>& all,
                                                          const std::vector<std::string>& used) {
  std::vector<std::string> left;
  size_t j = 0;
  for (const std::string& s : all) {
    if (j < used.size() && used[j] == s)
      ++j;
    else
      left.push_back(s);
  }
  if (j != used.size()) return std::nullopt;
  return left;
}

void infer_reshape(InferContext& c) {
  forbid_attr_before(c, "allowzero", 14);
  require_index(c, 1);
  const Shape& x = c.input_shape(0);
  std::optional<int64_t> length = shape_input_length(c, 1);
  std::optional<std::vector<int64_t>> target = c.input_ints(1);
  if (!target)
    return c.set_output(0, c.input_dtype(0),
                        length ? unknown_dims(static_cast<size_t>(*length)) : Shape::unknown_rank());
  bool allowzero = c.attr_int("allowzero") != 0;
  std::string shown = fmt::format("[{}]", fmt::join(*target, ","));
  std::vector<Dim> out;
  std::optional<size_t> infer_at;
  for (size_t i = 0; i < target->size(); ++i) {
    int64_t v = (*target)[i];
    if (v < -1) c.fail("shape {} has the invalid dim {}", shown, v);
    if (v == -1) {
      if (infer_at) c.fail("shape {} has more than one -1", shown);
      infer_at = i;
      out.emplace_back();
    } else if (v == 0 && !allowzero) {
      if (x.has_rank() && i >= x.rank())
        c.fail("shape {} copies dim {} (a 0), but the input {} has rank {}", shown, i, x.to_string(),
               x.rank());
      out.push_back(x.has_rank() ? x[i] : Dim());
    } else {
      out.emplace_back(v);
    }
  }
  if (allowzero && infer_at && std::count(target->begin(), target->end(), 0) > 0)
    c.fail("shape {} has both 0 and -1, which allowzero=1 forbids", shown);
  if (!x.has_rank()) return c.set_output(0, c.input_dtype(0), Shape(std::move(out)));
  std::optional<Factors> in = factors(c, x.dims());
  if (infer_at) {
    std::vector<Dim> rest = out;
    rest.erase(rest.begin() + static_cast<ptrdiff_t>(*infer_at));
    std::optional<Factors> known = factors(c, rest);
    // -1 is solvable when the other target dims use a subset of the input's symbols: it gets
    // the rest (N x 3 x 4 into -1 x 12 gives N; N x 12 into N x -1 gives 12).
    std::optional<std::vector<std::string>> left =
        in && known ? remaining_symbols(in->symbols, known->symbols) : std::nullopt;
    if (left && left->size() <= 1) {
      if (known->product == 0 || in->product % known->product != 0) {
        if (left->empty() || known->product == 0)
          c.fail("cannot reshape {} to {}: the element counts do not divide", x.to_string(), shown);
      } else {
        int64_t factor = in->product / known->product;
        if (left->empty())
          out[*infer_at] = Dim(factor);
        else if (factor == 1)
          out[*infer_at] = Dim((*left)[0]);
      }
    }
  }
  Shape result(std::move(out));
  std::optional<Factors> res = factors(c, result.dims());
  if (in && res && in->symbols == res->symbols && in->product != res->product)
    c.fail("cannot reshape {} ({} elements) to {} ({} elements)", x.to_string(), in->product,
           result.to_string(), res->product);
  set_reshaped(c, result);
}

void infer_flatten(InferContext& c) {
  const Shape& x = c.input_shape(0);
  if (!x.has_rank()) return c.set_output(0, c.input_dtype(0), unknown_dims(2));
  auto rank = static_cast<int64_t>(x.rank());
  int64_t axis = c.attr_int("axis");
  if (axis < -rank || axis > rank) c.fail("axis {} is out of range [{}, {}]", axis, -rank, rank);
  auto a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
  set_reshaped(c, Shape{dim_product(c, x, 0, a), dim_product(c, x, a, x.rank())});
}

void infer_squeeze(InferContext& c) {
  std::optional<std::vector<int64_t>> axes = read_axes(c, 13, 1);
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  if (!axes) {
    std::optional<int64_t> count = shape_input_length(c, 1);
    if (x.has_rank() && count && static_cast<size_t>(*count) <= x.rank())
      return c.set_output(0, dtype, unknown_dims(x.rank() - static_cast<size_t>(*count)));
    return c.set_output(0, dtype, Shape::unknown_rank());
  }
  if (!x.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  std::vector<Dim> out;
  if (axes->empty()) {
    // Remove every dim of size 1; a non-static dim could be 1, so the result is unknown.
    for (const Dim& d : x.dims()) {
      if (!d.is_static()) return c.set_output(0, dtype, Shape::unknown_rank());
      if (d.value() != 1) out.push_back(d);
    }
    return set_reshaped(c, Shape(std::move(out)));
  }
  std::vector<int64_t> norm = normalize_axes(c, *axes, static_cast<int64_t>(x.rank()));
  for (size_t i = 0; i < x.rank(); ++i) {
    if (std::find(norm.begin(), norm.end(), static_cast<int64_t>(i)) == norm.end()) {
      out.push_back(x[i]);
    } else if (x[i].is_static() && x[i].value() != 1) {
      c.fail("cannot squeeze axis {} of shape {}: its size is {}, not 1", i, x.to_string(), x[i].value());
    }
  }
  set_reshaped(c, Shape(std::move(out)));
}

void infer_unsqueeze(InferContext& c) {
  if (c.opset() < 13 && !c.has_attr("axes")) c.fail("attribute 'axes' is required before opset 13");
  if (c.opset() >= 13 && !c.has_input(1)) c.fail("input 1 (axes) is required from opset 13 on");
  std::optional<std::vector<int64_t>> axes = read_axes(c, 13, 1);
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  if (!axes) {
    std::optional<int64_t> count = shape_input_length(c, 1);
    if (x.has_rank() && count)
      return c.set_output(0, dtype, unknown_dims(x.rank() + static_cast<size_t>(*count)));
    return c.set_output(0, dtype, Shape::unknown_rank());
  }
  if (!x.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
  auto out_rank = static_cast<int64_t>(x.rank() + axes->size());
  std::vector<int64_t> norm = normalize_axes(c, *axes, out_rank);
  std::vector<Dim> out;
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    if (std::find(norm.begin(), norm.end(), i) != norm.end())
      out.emplace_back(int64_t{1});
    else
      out.push_back(x[next++]);
  }
  set_reshaped(c, Shape(std::move(out)));
}

void infer_shape(InferContext& c) {
  forbid_attr_before(c, "start", 15);
  forbid_attr_before(c, "end", 15);
  const Shape& x = c.input_shape(0);
  if (!x.has_rank()) return c.set_output(0, DType::kI64, unknown_dims(1));
  auto rank = static_cast<int64_t>(x.rank());
  auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  int64_t start = clamp(c.attr_int("start"));
  int64_t end = c.has_attr("end") ? clamp(c.attr_int("end")) : rank;
  IntValue value{DType::kI64, {std::max<int64_t>(end - start, 0)}, {}};
  for (int64_t i = start; i < end; ++i) {
    const Dim& d = x[static_cast<size_t>(i)];
    if (!d.is_static()) return c.set_output(0, DType::kI64, Shape{value.shape[0]});
    value.data.push_back(d.value());
  }
  set_int_output(c, 0, std::move(value));
}

void infer_identity(InferContext& c) {
  const Tensor* v = c.input_value(0);
  if (v && v->numel() <= kMaxFoldElements) return c.set_output_value(0, *v);
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

void infer_size(InferContext& c) {
  const Shape& x = c.input_shape(0);
  if (x.has_rank() && x.is_static()) {
    int64_t n = 1;
    for (const Dim& d : x.dims()) n = checked_mul(c, n, d.value());
    return set_int_output(c, 0, IntValue{DType::kI64, {}, {n}});
  }
  c.set_output(0, DType::kI64, Shape(std::vector<Dim>{}));
}

// Reshape, Flatten, Squeeze and Unsqueeze keep the elements in order: the gradient is the
// output gradient reshaped back.
void grad_reshape(GradContext& g) { g.set_input_grad(0, g.output_grad(0).reshape(g.input(0).shape())); }

}  // namespace

void register_shape_ops(OpRegistry& registry) {
  // Reshape-1 took the shape as an attribute; kiln starts at 5 (shape is input 1).
  registry.add(OpDef("Reshape")
                   .opsets(5)
                   .inputs(2, 2)
                   .attr("allowzero", AttrType::kInt, int_attr(0))  // since opset 14
                   .shape_inputs({1})
                   .infer(infer_reshape)
                   .grad(grad_reshape));
  registry.add(OpDef("Flatten").opsets(1).attr("axis", AttrType::kInt, int_attr(1)).infer(infer_flatten).grad(grad_reshape));
  // axes: an attribute before opset 13, input 1 from 13 on.
  registry.add(OpDef("Squeeze")
                   .opsets(1)
                   .inputs(1, 2)
                   .optional_attr("axes", AttrType::kInts)
                   .shape_inputs({1})
                   .infer(infer_squeeze)
                   .grad(grad_reshape));
  registry.add(OpDef("Unsqueeze")
                   .opsets(1)
                   .inputs(1, 2)
                   .optional_attr("axes", AttrType::kInts)
                   .shape_inputs({1})
                   .infer(infer_unsqueeze)
                   .grad(grad_reshape));
  registry.add(OpDef("Shape")
                   .opsets(1)
                   .attr("start", AttrType::kInt, int_attr(0))  // start/end since opset 15
                   .optional_attr("end", AttrType::kInt)
                   .infer(infer_shape));
  registry.add(OpDef("Size").opsets(1).infer(infer_size));
  registry.add(OpDef("Identity").opsets(1).infer(infer_identity).grad([](GradContext& g) {
    g.set_input_grad(0, g.output_grad(0));
  }));
}

}  // namespace kiln::ops
