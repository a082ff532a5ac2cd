// Add, Sub, Mul, Div and Mod with numpy broadcasting, and the variadic Max, Min, Sum and Mean.
// Small integer operands (shape arithmetic) are folded so that the shapes they feed stay static.
#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

using IntOp = bool (*)(int64_t, int64_t, int64_t*);

InferFn binary_infer(IntOp op) {
  return [op](InferContext& c) {
    require_same_dtype(c, 0, 1);
    require_numeric(c, 0);
    Shape shape = broadcast_shapes(c, {c.input_shape(0), c.input_shape(1)});
    DType dtype = c.input_dtype(0);
    // i8/u8 are left unfolded: the fold computes in int64 and would not wrap them.
    bool foldable = dtype == DType::kI64 || dtype == DType::kI32;
    bool folded =
        foldable && try_fold_elementwise(c, 2, dtype, [op](const std::vector<int64_t>& v) {
          int64_t r = 0;
          return op(v[0], v[1], &r) ? std::optional<int64_t>() : std::optional<int64_t>(r);
        });
    if (!folded) c.set_output(0, dtype, shape);
  };
}

// Each returns true when it cannot produce a result (overflow, division by zero).
bool add(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
bool sub(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
bool mul(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }
bool div(int64_t a, int64_t b, int64_t* r) {
  if (b == 0 || (a == std::numeric_limits<int64_t>::min() && b == -1)) return true;
  *r = a / b;  // integer Div truncates, as in ONNX Runtime
  return false;
}

// Mod: fmod=0 takes the sign of the divisor (a - floor(a/b)*b; integers only before opset 28),
// fmod=1 that of the dividend (a - trunc(a/b)*b).
void infer_mod(InferContext& c) {
  require_same_dtype(c, 0, 1);
  require_numeric(c, 0);
  Shape shape = broadcast_shapes(c, {c.input_shape(0), c.input_shape(1)});
  DType dtype = c.input_dtype(0);
  bool fmod = c.attr_int("fmod") != 0;
  if (is_floating(dtype) && !fmod && c.opset() < 28)
    c.fail("Mod on floating-point inputs requires fmod=1 before opset 28 (the model has opset {})",
           c.opset());
  bool folded =
      is_integral(dtype) && try_fold_elementwise(c, 2, dtype, [fmod](const std::vector<int64_t>& v) {
        int64_t a = v[0], b = v[1];
        if (b == 0) return std::optional<int64_t>();
        if (b == -1) return std::optional<int64_t>(0);
        int64_t r = a % b;
        if (!fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
        return std::optional<int64_t>(r);
      });
  if (!folded) c.set_output(0, dtype, shape);
}

// Max, Min, Sum, Mean: one or more inputs of one dtype, broadcast together.
InferFn variadic_infer(bool floating_only) {
  return [floating_only](InferContext& c) {
    std::vector<Shape> shapes;
    for (size_t i = 0; i < c.num_inputs(); ++i) {
      require_same_dtype(c, 0, i);
      shapes.push_back(c.input_shape(i));
    }
    if (floating_only) require_floating(c, 0);
    else require_numeric(c, 0);
    c.set_output(0, c.input_dtype(0), broadcast_shapes(c, shapes));
  };
}

// Gradients reduce the broadcast output gradient back to each input's shape.
void set_grads(GradContext& g, const Tensor& ga, const Tensor& gb) {
  if (g.needs_input_grad(0)) g.set_input_grad(0, sum_to(ga, g.input(0).shape()));
  if (g.needs_input_grad(1)) g.set_input_grad(1, sum_to(gb, g.input(1).shape()));
}

void grad_add(GradContext& g) { set_grads(g, g.output_grad(0), g.output_grad(0)); }
void grad_sub(GradContext& g) { set_grads(g, g.output_grad(0), g.needs_input_grad(1) ? -g.output_grad(0) : Tensor()); }
void grad_mul(GradContext& g) {
  const Tensor dy = g.output_grad(0);
  set_grads(g, g.needs_input_grad(0) ? dy * g.input(1) : Tensor(), g.needs_input_grad(1) ? dy * g.input(0) : Tensor());
}
// d(a/b)/db = -a/b^2 = -y/b
void grad_div(GradContext& g) {
  const Tensor dy = g.output_grad(0);
  set_grads(g, g.needs_input_grad(0) ? dy / g.input(1) : Tensor(),
            g.needs_input_grad(1) ? -(dy * g.output(0) / g.input(1)) : Tensor());
}

// Sum and Mean: every input gets the output gradient (divided by the count for Mean).
GradFn grad_sum(bool mean) {
  return [mean](GradContext& g) {
    Tensor dy = g.output_grad(0);
    if (mean) dy = dy / static_cast<double>(g.num_inputs());
    for (size_t i = 0; i < g.num_inputs(); ++i)
      if (g.needs_input_grad(i)) g.set_input_grad(i, sum_to(dy, g.input(i).shape()));
  };
}

// Max and Min: the gradient goes to the inputs equal to the output, split evenly among ties
// (torch.maximum gives half to each of two tied inputs; ReduceMax shares it the same way).
void grad_extremum(GradContext& g) {
  const Tensor dy = g.output_grad(0);
  std::vector<Tensor> masks;
  Tensor ties;
  for (size_t i = 0; i < g.num_inputs(); ++i) {
    masks.push_back(mask_like(equal(g.input(i), g.output(0)), dy));
    ties = ties.defined() ? ties + masks.back() : masks.back();
  }
  for (size_t i = 0; i < g.num_inputs(); ++i)
    if (g.needs_input_grad(i)) g.set_input_grad(i, sum_to(dy * masks[i] / ties, g.input(i).shape()));
}

// Mod on floats: y = a - q*b with q = trunc(a/b) (fmod=1) or floor(a/b) (fmod=0), constant
// between jumps, so dA = dY and dB = -dY * q, with q = round((a - y)/b) read back from the output.
void grad_mod(GradContext& g) {
  const Tensor dy = g.output_grad(0);
  Tensor db;
  if (g.needs_input_grad(1)) db = -(dy * run_op1("Round", {(g.input(0) - g.output(0)) / g.input(1)}));
  set_grads(g, g.needs_input_grad(0) ? dy : Tensor(), db);
}

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  // Opsets before 7 had broadcast/axis attributes; 7 switched to numpy broadcasting.
  registry.add(OpDef("Add").opsets(7).inputs(2, 2).infer(binary_infer(add)).grad(grad_add));
  registry.add(OpDef("Sub").opsets(7).inputs(2, 2).infer(binary_infer(sub)).grad(grad_sub));
  registry.add(OpDef("Mul").opsets(7).inputs(2, 2).infer(binary_infer(mul)).grad(grad_mul));
  registry.add(OpDef("Div").opsets(7).inputs(2, 2).infer(binary_infer(div)).grad(grad_div));
  // Mod-28 defines fmod=0 (floor) for floating-point inputs too.
  registry.add(OpDef("Mod").opsets(10).inputs(2, 2).attr("fmod", AttrType::kInt, int_attr(0)).infer(infer_mod).grad(grad_mod));
  // Opset 8 brought numpy broadcasting to the variadic ops (6 required equal shapes).
  registry.add(OpDef("Max").opsets(8).inputs(1, kVariadic).infer(variadic_infer(false)).grad(grad_extremum));
  registry.add(OpDef("Min").opsets(8).inputs(1, kVariadic).infer(variadic_infer(false)).grad(grad_extremum));
  registry.add(OpDef("Sum").opsets(8).inputs(1, kVariadic).infer(variadic_infer(false)).grad(grad_sum(false)));
  registry.add(OpDef("Mean").opsets(8).inputs(1, kVariadic).infer(variadic_infer(true)).grad(grad_sum(true)));
}

}  // namespace kiln::ops
