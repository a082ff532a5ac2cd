// Cast, CastLike, Where, the comparisons Equal, Less, LessOrEqual, Greater and GreaterOrEqual,
// the logical And, Or, Xor and Not (all of which output bool), and BitShift.
#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

// saturate (opset 19) and round_mode (opset 24) only change conversions to float8 types, which
// kiln lacks (a cast to one fails as an unknown dtype), so they are checked and have no effect.
void check_cast_options(const InferContext& c) {
  forbid_attr_before(c, "saturate", 19);
  forbid_attr_before(c, "round_mode", 24);
  const int64_t saturate = c.attr_int("saturate");
  if (saturate != 0 && saturate != 1) c.fail("saturate is {}, expected 0 or 1", saturate);
  const std::string round_mode = c.attr_string("round_mode");
  if (round_mode != "up" && round_mode != "down" && round_mode != "nearest")
    c.fail("round_mode is '{}', expected up, down or nearest", round_mode);
}

void infer_cast(InferContext& c) {
  check_cast_options(c);
  int64_t code = c.attr_int("to");
  std::optional<DType> to = dtype_from_onnx(code);
  if (!to) fail_unsupported(c, fmt::format("cannot cast to ONNX data type {}: kiln has no such dtype", code));
  if (std::optional<IntValue> v = small_int_value(c, 0);
      v && (*to == DType::kI64 || *to == DType::kI32 || *to == DType::kBool)) {
    v->dtype = *to;
    if (*to == DType::kBool)
      for (int64_t& x : v->data) x = x != 0;
    if (*to == DType::kI32)
      for (int64_t& x : v->data) x = static_cast<int32_t>(x);
    return set_int_output(c, 0, std::move(*v));
  }
  c.set_output(0, *to, c.input_shape(0));
}

void infer_where(InferContext& c) {
  require_bool(c, 0);
  require_same_dtype(c, 1, 2);
  Shape shape = broadcast_shapes(c, {c.input_shape(0), c.input_shape(1), c.input_shape(2)});
  DType dtype = c.input_dtype(1);
  auto pick = [](const std::vector<int64_t>& v) { return std::optional<int64_t>(v[0] ? v[1] : v[2]); };
  if (dtype != DType::kBool && is_integral(dtype) && try_fold_elementwise(c, 3, dtype, pick)) return;
  c.set_output(0, dtype, shape);
}

using Compare = bool (*)(int64_t, int64_t);

InferFn compare_infer(Compare op, bool allow_bool) {
  return [op, allow_bool](InferContext& c) {
    require_same_dtype(c, 0, 1);
    if (!allow_bool) require_numeric(c, 0);
    Shape shape = broadcast_shapes(c, {c.input_shape(0), c.input_shape(1)});
    DType in = c.input_dtype(0);
    auto fold = [op](const std::vector<int64_t>& v) {
      return std::optional<int64_t>(op(v[0], v[1]) ? 1 : 0);
    };
    if ((is_integral(in) || in == DType::kBool) && try_fold_elementwise(c, 2, DType::kBool, fold)) return;
    c.set_output(0, DType::kBool, shape);
  };
}

// CastLike: input 0 converted to the dtype of input 1 (whose values are unused).
void infer_cast_like(InferContext& c) {
  check_cast_options(c);
  DType to = c.input_dtype(1);
  c.set_output(0, to, c.input_shape(0));
}

void infer_logical(InferContext& c) {
  require_bool(c, 0);
  require_bool(c, 1);
  Shape shape = broadcast_shapes(c, {c.input_shape(0), c.input_shape(1)});
  c.set_output(0, DType::kBool, shape);
}

void infer_not(InferContext& c) {
  require_bool(c, 0);
  c.set_output(0, DType::kBool, c.input_shape(0));
}

// BitShift takes unsigned integers (of those kiln has u8) and, from opset 28, signed ones too
// (kiln's i8, i32, i64; right shifts are arithmetic).
void infer_bit_shift(InferContext& c) {
  require_same_dtype(c, 0, 1);
  DType dtype = c.input_dtype(0);
  const bool is_signed = dtype == DType::kI8 || dtype == DType::kI32 || dtype == DType::kI64;
  if (is_signed && c.opset() < 28)
    c.fail("BitShift takes signed integers ({}) from opset 28 on; the model has opset {}", to_string(dtype),
           c.opset());
  if (dtype != DType::kUndefined && dtype != DType::kU8 && !is_signed)
    fail_unsupported(
        c, fmt::format("BitShift takes integers; kiln has u8, i8, i32 and i64, not {}", to_string(dtype)));
  const std::string direction = c.attr_string("direction");
  if (direction != "LEFT" && direction != "RIGHT")
    c.fail("BitShift direction must be LEFT or RIGHT, not '{}'", direction);
  Shape shape = broadcast_shapes(c, {c.input_shape(0), c.input_shape(1)});
  c.set_output(0, dtype, shape);
}

// Cast and CastLike: a floating result's gradient is cast back to the input's dtype; an
// integer or bool result has none.
void grad_cast(GradContext& g) {
  if (is_floating(g.output(0).dtype())) g.set_input_grad(0, cast(g.output_grad(0), g.input(0).dtype()));
}

// Where: the gradient goes to X where the condition holds and to Y elsewhere.
void grad_where(GradContext& g) {
  const Tensor &cond = g.input(0), dy = g.output_grad(0), zero = scalar_like(0, dy);
  if (g.needs_input_grad(1)) g.set_input_grad(1, sum_to(where(cond, dy, zero), g.input(1).shape()));
  if (g.needs_input_grad(2)) g.set_input_grad(2, sum_to(where(cond, zero, dy), g.input(2).shape()));
}

}  // namespace

void register_logic_ops(OpRegistry& registry) {
  // Cast-1 took `to` as a string; from opset 6 it is an ONNX TensorProto data type code.
  // Cast/CastLike 19, 21, 23, 24, 25 and 28 add only dtypes kiln lacks (float8, int4, float4,
  // int2, float6) and the float8 options saturate (19) and round_mode (24).
  registry.add(OpDef("Cast")
                   .opsets(6)
                   .required_attr("to", AttrType::kInt)
                   .attr("saturate", AttrType::kInt, int_attr(1))
                   .attr("round_mode", AttrType::kString, string_attr("up"))
                   .infer(infer_cast)
                   .grad(grad_cast));
  registry.add(OpDef("Where").opsets(9).inputs(3, 3).infer(infer_where).grad(grad_where));
  // Opsets before 7 had broadcast/axis attributes; 7 switched to numpy broadcasting.
  registry.add(OpDef("Equal").opsets(7).inputs(2, 2).infer(
      compare_infer([](int64_t a, int64_t b) { return a == b; }, true)));
  registry.add(OpDef("Less").opsets(7).inputs(2, 2).infer(
      compare_infer([](int64_t a, int64_t b) { return a < b; }, false)));
  registry.add(OpDef("Greater").opsets(7).inputs(2, 2).infer(
      compare_infer([](int64_t a, int64_t b) { return a > b; }, false)));
  registry.add(OpDef("LessOrEqual").opsets(12).inputs(2, 2).infer(
      compare_infer([](int64_t a, int64_t b) { return a <= b; }, false)));
  registry.add(OpDef("GreaterOrEqual").opsets(12).inputs(2, 2).infer(
      compare_infer([](int64_t a, int64_t b) { return a >= b; }, false)));
  registry.add(OpDef("CastLike")
                   .opsets(15)
                   .inputs(2, 2)
                   .attr("saturate", AttrType::kInt, int_attr(1))
                   .attr("round_mode", AttrType::kString, string_attr("up"))
                   .infer(infer_cast_like)
                   .grad(grad_cast));
  // Opsets before 7 had broadcast/axis attributes; 7 switched to numpy broadcasting.
  for (const char* op : {"And", "Or", "Xor"}) registry.add(OpDef(op).opsets(7).inputs(2, 2).infer(infer_logical));
  registry.add(OpDef("Not").opsets(1).inputs(1, 1).infer(infer_not));
  registry.add(OpDef("BitShift").opsets(11).inputs(2, 2).required_attr("direction", AttrType::kString).infer(infer_bit_shift));
}

}  // namespace kiln::ops
