// Add, Sub, Mul and Div with numpy broadcasting. Small integer operands (shape arithmetic)
// are folded so that the shapes they feed stay static.
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
    bool folded =
        is_integral(dtype) && try_fold_elementwise(c, 2, dtype, [op](const std::vector<int64_t>& v) {
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

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  // Opsets before 7 had broadcast/axis attributes; 7 switched to numpy broadcasting.
  registry.add(OpDef("Add").opsets(7).inputs(2, 2).infer(binary_infer(add)));
  registry.add(OpDef("Sub").opsets(7).inputs(2, 2).infer(binary_infer(sub)));
  registry.add(OpDef("Mul").opsets(7).inputs(2, 2).infer(binary_infer(mul)));
  registry.add(OpDef("Div").opsets(7).inputs(2, 2).infer(binary_infer(div)));
}

}  // namespace kiln::ops
