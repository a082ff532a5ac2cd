// The Reduce* family and ArgMax/ArgMin. `axes` is an attribute until it becomes input 1
// (opset 13 for ReduceSum, 18 for the others); noop_with_empty_axes arrives with the input.
#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

InferFn reduce_infer(int axes_input_opset) {
  return [axes_input_opset](InferContext& c) {
    const std::string& op = c.node().op_type();
    DType in = c.input_dtype(0);
    // ReduceMax/ReduceMin take bool from opset 20 (False < True).
    if (!(in == DType::kBool && c.opset() >= 20 && (op == "ReduceMax" || op == "ReduceMin")))
      require_numeric(c, 0);
    // ReduceLogSum/ReduceLogSumExp-28 are defined for floating-point inputs only.
    if (c.opset() >= 28 && (op == "ReduceLogSum" || op == "ReduceLogSumExp")) require_floating(c, 0);
    forbid_attr_before(c, "noop_with_empty_axes", axes_input_opset);
    std::optional<std::vector<int64_t>> axes = read_axes(c, axes_input_opset, 1);
    const Shape& x = c.input_shape(0);
    DType dtype = c.input_dtype(0);
    bool keepdims = c.attr_int("keepdims") != 0;
    bool noop_if_empty = c.attr_int("noop_with_empty_axes") != 0;
    if (!axes) {
      // Axes come from an input whose value is unknown: only the rank may be known.
      std::optional<int64_t> count = shape_input_length(c, 1);
      if (!x.has_rank()) return c.set_output(0, dtype, Shape::unknown_rank());
      if (keepdims) return c.set_output(0, dtype, unknown_dims(x.rank()));
      if (count && *count == 0) return c.set_output(0, dtype, noop_if_empty ? x : Shape());
      if (count && static_cast<size_t>(*count) <= x.rank())
        return c.set_output(0, dtype, unknown_dims(x.rank() - static_cast<size_t>(*count)));
      return c.set_output(0, dtype, Shape::unknown_rank());
    }
    if (axes->empty() && noop_if_empty) return c.set_output(0, dtype, x);
    if (!x.has_rank()) {
      bool all = axes->empty();
      return c.set_output(0, dtype, all && !keepdims ? Shape() : Shape::unknown_rank());
    }
    auto rank = static_cast<int64_t>(x.rank());
    std::vector<bool> reduced(x.rank(), axes->empty());
    for (int64_t a : normalize_axes(c, *axes, rank)) reduced[static_cast<size_t>(a)] = true;
    std::vector<Dim> out;
    for (size_t i = 0; i < x.rank(); ++i) {
      if (!reduced[i])
        out.push_back(x[i]);
      else if (keepdims)
        out.emplace_back(int64_t{1});
    }
    c.set_output(0, dtype, Shape(std::move(out)));
  };
}

OpDef reduce_def(const char* name, int axes_input_opset) {
  return OpDef(name)
      .opsets(1)
      .inputs(1, 2)
      .optional_attr("axes", AttrType::kInts)  // before axes_input_opset
      .attr("keepdims", AttrType::kInt, int_attr(1))
      .attr("noop_with_empty_axes", AttrType::kInt, int_attr(0))  // from axes_input_opset
      .shape_inputs({1})
      .infer(reduce_infer(axes_input_opset));
}

// ArgMax/ArgMin: one axis (negative from opset 11), keepdims, select_last_index (opset 12);
// the output is i64.
void infer_arg_reduce(InferContext& c) {
  require_numeric(c, 0);
  forbid_attr_before(c, "select_last_index", 12);
  const Shape& x = c.input_shape(0);
  bool keepdims = c.attr_int("keepdims") != 0;
  if (!x.has_rank()) return c.set_output(0, DType::kI64, Shape::unknown_rank());
  auto rank = static_cast<int64_t>(x.rank());
  int64_t axis = normalize_axes(c, {c.attr_int("axis")}, rank)[0];
  std::vector<Dim> out;
  for (size_t i = 0; i < x.rank(); ++i) {
    if (static_cast<int64_t>(i) != axis)
      out.push_back(x[i]);
    else if (keepdims)
      out.emplace_back(int64_t{1});
  }
  c.set_output(0, DType::kI64, Shape(std::move(out)));
}

OpDef arg_reduce_def(const char* name) {
  return OpDef(name)
      .opsets(1)
      .inputs(1, 1)
      .attr("axis", AttrType::kInt, int_attr(0))
      .attr("keepdims", AttrType::kInt, int_attr(1))
      .attr("select_last_index", AttrType::kInt, int_attr(0))  // from opset 12
      .infer(infer_arg_reduce);
}

// The reduced axes of a Reduce* call (all axes when none are given); empty when it was a no-op.
std::vector<int64_t> reduced_axes(const GradContext& g) {
  const auto rank = static_cast<int64_t>(g.input(0).rank());
  std::vector<int64_t> axes = attr_or_input_ints(g, "axes", 1).value_or(std::vector<int64_t>{});
  if (axes.empty()) {
    if (g.attr_int("noop_with_empty_axes") != 0) return {};
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  return normalized_axes(std::move(axes), rank);
}

Tensor unreduced_grad(const GradContext& g, const std::vector<int64_t>& axes) {
  return unreduce(g.output_grad(0), g.input(0).shape(), axes, g.attr_int("keepdims") != 0);
}

void grad_reduce_sum(GradContext& g) { g.set_input_grad(0, unreduced_grad(g, reduced_axes(g))); }

void grad_reduce_mean(GradContext& g) {
  std::vector<int64_t> axes = reduced_axes(g);
  int64_t count = 1;
  for (int64_t a : axes) count *= g.input(0).shape()[static_cast<size_t>(a)];
  g.set_input_grad(0, unreduced_grad(g, axes) / static_cast<double>(std::max<int64_t>(count, 1)));
}

// A Reduce* gradient: the output gradient brought back to x's shape times dy/dx, which
// `derivative` gives from x, the output brought back to x's shape, and the (kept) reduced axes.
using ReduceDerivative = Tensor (*)(const Tensor& x, const Tensor& y, const std::vector<int64_t>& axes);
GradFn reduce_grad(ReduceDerivative derivative) {
  return [derivative](GradContext& g) {
    std::vector<int64_t> axes = reduced_axes(g);
    if (axes.empty()) return g.set_input_grad(0, g.output_grad(0));  // noop_with_empty_axes: a copy
    const Tensor& x = g.input(0);
    const Tensor y = unreduce(g.output(0), x.shape(), axes, g.attr_int("keepdims") != 0);
    g.set_input_grad(0, unreduced_grad(g, axes) * derivative(x, y, axes));
  };
}

// ReduceMax/ReduceMin: the gradient is shared equally by the elements equal to the extremum,
// as torch.amax does.
Tensor extremum_derivative(const Tensor& x, const Tensor& y, const std::vector<int64_t>& axes) {
  const Tensor mask = mask_like(equal(x, y), x);
  return mask / sum(mask, axes, /*keepdim=*/true);
}

// d prod / dx_i is the product of the other elements: y / x_i when no element is zero. With
// one zero, that element gets the product of the rest and the others 0; with more, all get 0.
Tensor prod_derivative(const Tensor& x, const Tensor&, const std::vector<int64_t>& axes) {
  const Tensor is_zero = equal(x, scalar_like(0, x));
  const Tensor nonzero = where(is_zero, scalar_like(1, x), x);
  Attributes keep;
  keep.set("keepdims", int64_t{1});
  const Tensor rest = run_op1("ReduceProd", {nonzero, int_tensor(axes)}, keep);  // product of the nonzeros
  const Tensor zeros = sum(mask_like(is_zero, x), axes, /*keepdim=*/true);
  return where(is_zero, rest * mask_like(equal(zeros, scalar_like(1, x)), x),
               rest / nonzero * mask_like(equal(zeros, scalar_like(0, x)), x));
}

Tensor l1_derivative(const Tensor& x, const Tensor&, const std::vector<int64_t>&) { return sign(x); }
Tensor sum_square_derivative(const Tensor& x, const Tensor&, const std::vector<int64_t>&) { return x * 2.0; }
// y = sqrt(sum x^2): x / y, taken as 0 where y = 0.
Tensor l2_derivative(const Tensor& x, const Tensor& y, const std::vector<int64_t>&) {
  const Tensor is_zero = equal(y, scalar_like(0, y));
  return where(is_zero, scalar_like(0, x), x / where(is_zero, scalar_like(1, y), y));
}
// y = log(sum x): 1 / sum x = e^-y.
Tensor log_sum_derivative(const Tensor&, const Tensor& y, const std::vector<int64_t>&) { return exp(-y); }
// y = log(sum e^x): e^(x - y), the softmax over the axes.
Tensor log_sum_exp_derivative(const Tensor& x, const Tensor& y, const std::vector<int64_t>&) { return exp(x - y); }

}  // namespace

void register_reduce_ops(OpRegistry& registry) {
  registry.add(reduce_def("ReduceSum", 13).grad(grad_reduce_sum));
  registry.add(reduce_def("ReduceMean", 18).grad(grad_reduce_mean));
  // New versions above 18: ReduceMax/ReduceMin-20 add bool; ReduceLogSum/ReduceLogSumExp-28
  // drop the integer dtypes (and gain function bodies); the rest have none.
  registry.add(reduce_def("ReduceMax", 18).grad(reduce_grad(extremum_derivative)));
  registry.add(reduce_def("ReduceMin", 18).grad(reduce_grad(extremum_derivative)));
  registry.add(reduce_def("ReduceProd", 18).grad(reduce_grad(prod_derivative)));
  registry.add(reduce_def("ReduceL1", 18).grad(reduce_grad(l1_derivative)));
  registry.add(reduce_def("ReduceL2", 18).grad(reduce_grad(l2_derivative)));
  registry.add(reduce_def("ReduceLogSum", 18).grad(reduce_grad(log_sum_derivative)));
  registry.add(reduce_def("ReduceLogSumExp", 18).grad(reduce_grad(log_sum_exp_derivative)));
  registry.add(reduce_def("ReduceSumSquare", 18).grad(reduce_grad(sum_square_derivative)));
  registry.add(arg_reduce_def("ArgMax"));
  registry.add(arg_reduce_def("ArgMin"));
}

}  // namespace kiln::ops
