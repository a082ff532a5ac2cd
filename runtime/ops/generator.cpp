// Constant, ConstantOfShape and Range: outputs made from attributes and shape inputs.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

void infer_constant(InferContext& c) {
  static const char* const kForms[] = {"value",      "value_float",  "value_floats", "value_int",
                                       "value_ints", "value_string", "value_strings"};
  std::vector<std::string> given;
  for (const char* name : kForms)
    if (c.has_attr(name)) given.emplace_back(name);
  if (given.size() != 1)
    c.fail("needs exactly one of value, value_float(s), value_int(s), value_string(s); got {}",
           given.empty() ? std::string("none") : fmt::format("{}", fmt::join(given, ", ")));
  for (const char* name :
       {"value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings"})
    forbid_attr_before(c, name, 12);
  const std::string& form = given[0];
  if (form == "value") {
    const Tensor& t = c.attr_tensor("value");
    if (!t.defined()) c.fail("attribute 'value' holds no tensor");
    return c.set_output_value(0, t);
  }
  if (form == "value_float") return c.set_output_value(0, Tensor::scalar<float>(c.attr_float("value_float")));
  if (form == "value_int") return c.set_output_value(0, Tensor::scalar<int64_t>(c.attr_int("value_int")));
  if (form == "value_floats") {
    std::vector<float> v = c.attr_floats("value_floats");
    return c.set_output_value(0, Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v));
  }
  if (form == "value_ints") {
    std::vector<int64_t> v = c.attr_ints("value_ints");
    return c.set_output_value(0, Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v));
  }
  fail_unsupported(c, "string constants are not supported (kiln has no string dtype)");
}

void infer_constant_of_shape(InferContext& c) {
  require_index(c, 0);
  DType dtype = DType::kF32;  // ONNX default: a float 0
  const Tensor* fill = nullptr;
  if (c.has_attr("value")) {
    fill = &c.attr_tensor("value");
    if (!fill->defined() || fill->numel() != 1)
      c.fail("attribute 'value' must hold exactly one element, got {}", fill->defined() ? fill->numel() : 0);
    dtype = fill->dtype();
  }
  std::optional<int64_t> length = shape_input_length(c, 0);
  std::optional<std::vector<int64_t>> dims = c.input_ints(0);
  if (!dims)
    return c.set_output(0, dtype,
                        length ? unknown_dims(static_cast<size_t>(*length)) : Shape::unknown_rank());
  for (int64_t d : *dims)
    if (d < 0) c.fail("shape [{}] has a negative dim", fmt::join(*dims, ","));
  // Small integer fills take part in shape arithmetic (ConstantOfShape -> Mul -> Where -> Expand).
  std::optional<int64_t> count = foldable_numel(*dims);
  if ((dtype == DType::kI64 || dtype == DType::kI32 || dtype == DType::kBool) && count) {
    int64_t v = fill ? (dtype == DType::kI64   ? fill->item<int64_t>()
                        : dtype == DType::kI32 ? fill->item<int32_t>()
                                               : fill->item<bool>())
                     : 0;
    return set_int_output(c, 0, IntValue{dtype, *dims, std::vector<int64_t>(static_cast<size_t>(*count), v)});
  }
  c.set_output(0, dtype, Shape::of(*dims));
}

// Number of elements of Range(start, limit, delta): max(ceil((limit - start) / delta), 0).
int64_t range_length(const InferContext& c, DType dtype) {
  if (is_integral(dtype)) {
    int64_t start = c.input_value(0)->item<int64_t>(), limit = c.input_value(1)->item<int64_t>(),
            delta = c.input_value(2)->item<int64_t>();
    if (delta == 0) c.fail("delta is 0");
    int64_t diff = 0;
    if (__builtin_sub_overflow(limit, start, &diff))
      c.fail("Range({}, {}, {}) overflows int64", start, limit, delta);
    // ceil(|diff| / |delta|) written so that no step can overflow.
    if (delta > 0) return diff > 0 ? 1 + (diff - 1) / delta : 0;
    if (diff >= 0) return 0;
    if (delta == std::numeric_limits<int64_t>::min()) return 1;
    return 1 + (-(diff + 1)) / -delta;
  }
  double start = c.input_value(0)->item<double>(), limit = c.input_value(1)->item<double>(),
         delta = c.input_value(2)->item<double>();
  if (delta == 0) c.fail("delta is 0");
  double n = std::ceil((limit - start) / delta);
  if (!std::isfinite(n) || n > 9e18)
    c.fail("Range({}, {}, {}) has no representable length", start, limit, delta);
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

// stash_type (opset 27) picks the precision in which f16/bf16 ranges accumulate; kiln computes
// neither dtype, and the attribute has no effect on the others.
void infer_range(InferContext& c) {
  forbid_attr_before(c, "stash_type", 27);
  DType dtype = c.input_dtype(0);
  static const char* const kNames[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    require_same_dtype(c, 0, i);
    require_numeric(c, i);
    const Shape& s = c.input_shape(i);
    if (s.has_rank() && !(s.rank() == 0 || (s.rank() == 1 && s[0] == Dim(int64_t{1}))))
      c.fail("{} must be a scalar, got shape {}", kNames[i], s.to_string());
  }
  for (size_t i = 0; i < 3; ++i)
    if (!c.input_value(i)) return c.set_output(0, dtype, unknown_dims(1));
  int64_t n = range_length(c, dtype);
  if ((dtype == DType::kI64 || dtype == DType::kI32) && n <= kMaxFoldElements) {
    int64_t start = c.input_value(0)->item<int64_t>(), delta = c.input_value(2)->item<int64_t>();
    IntValue v{dtype, {n}, {}};
    for (int64_t k = 0; k < n; ++k) v.data.push_back(start + k * delta);
    return set_int_output(c, 0, std::move(v));
  }
  c.set_output(0, dtype, Shape{n});
}

}  // namespace

void register_generator_ops(OpRegistry& registry) {
  // ONNX also has `sparse_value` (opset 11); kiln's IR has no sparse tensors, so a model that
  // uses it is rejected as having an unknown attribute.
  registry.add(OpDef("Constant")
                   .opsets(1)
                   .inputs(0, 0)
                   .optional_attr("value", AttrType::kTensor)
                   .optional_attr("value_float", AttrType::kFloat)  // value_* since opset 12
                   .optional_attr("value_floats", AttrType::kFloats)
                   .optional_attr("value_int", AttrType::kInt)
                   .optional_attr("value_ints", AttrType::kInts)
                   .optional_attr("value_string", AttrType::kString)
                   .optional_attr("value_strings", AttrType::kStrings)
                   .infer(infer_constant));
  registry.add(OpDef("ConstantOfShape")
                   .opsets(9)
                   .optional_attr("value", AttrType::kTensor)
                   .shape_inputs({0})
                   .infer(infer_constant_of_shape));
  // Range-27 adds f16/bf16 and stash_type (and a function body).
  registry.add(OpDef("Range")
                   .opsets(11)
                   .inputs(3, 3)
                   .attr("stash_type", AttrType::kInt, int_attr(1))
                   .shape_inputs({0, 1, 2})
                   .infer(infer_range));
}

}  // namespace kiln::ops
