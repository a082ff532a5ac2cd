// BatchNormalization, LayerNormalization, InstanceNormalization, LpNormalization,
// MeanVarianceNormalization, Dropout (inference) and TopK.
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

void infer_batch_norm(InferContext& c) {
  forbid_attr_since(c, "spatial", 9, "statistics are always per channel");
  forbid_attr_before(c, "training_mode", 14);
  for (size_t i = 0; i < 5; ++i) require_floating(c, i);
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 2);
  bool training = c.attr_int("training_mode") != 0;
  if (c.opset() >= 14) {
    if (c.num_outputs() > 3)
      c.fail("has {} outputs, expected at most 3 at opset {}", c.num_outputs(), c.opset());
    if (c.num_outputs() > 1 && !training) c.fail("outputs running_mean and running_var need training_mode=1");
  }
  Dim channels = x.has_rank() ? x[1] : Dim();
  bool per_channel = c.opset() >= 9 || c.attr_int("spatial") != 0;
  static const char* const kNames[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5 && per_channel; ++i) {
    const Shape& s = c.input_shape(i);
    require_rank(c, i, s, 1, 1);
    if (s.has_rank() && !merge_dim(s[0], channels))
      c.fail("{} has shape {}, expected [{}] for input X {}", kNames[i], s.to_string(), channels.to_string(),
             x.to_string());
  }
  c.set_output(0, c.input_dtype(0), x);
  // Running (opset 14) or updated (opset 7..13) statistics, and the saved batch statistics.
  for (size_t i = 1; i < c.num_outputs(); ++i) c.set_output(i, c.input_dtype(3), Shape{channels});
}

void infer_layer_norm(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  if (c.has_input(2)) require_same_dtype(c, 0, 2);
  const Shape& x = c.input_shape(0);
  std::optional<DType> stash = dtype_from_onnx(c.attr_int("stash_type"));
  if (!stash || !is_floating(*stash))
    c.fail("stash_type {} is not a floating-point type", c.attr_int("stash_type"));
  c.set_output(0, c.input_dtype(0), x);
  if (!x.has_rank()) {
    c.set_output(1, *stash, Shape::unknown_rank());
    c.set_output(2, *stash, Shape::unknown_rank());
    return;
  }
  auto rank = static_cast<int64_t>(x.rank());
  if (rank == 0) c.fail("input X must have rank >= 1");
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), rank));
  Shape normalized(std::vector<Dim>(x.dims().begin() + static_cast<ptrdiff_t>(axis), x.dims().end()));
  check_unidirectional(c, c.input_shape(1), normalized, "Scale");
  if (c.has_input(2)) check_unidirectional(c, c.input_shape(2), normalized, "B");
  // Mean and InvStdDev keep the leading dims and have 1 for each normalized dim.
  std::vector<Dim> stats(x.dims().begin(), x.dims().begin() + static_cast<ptrdiff_t>(axis));
  stats.resize(x.rank(), Dim(int64_t{1}));
  c.set_output(1, *stash, Shape(stats));
  c.set_output(2, *stash, Shape(stats));
}

// --- Dropout (inference), InstanceNormalization, LpNormalization, MeanVarianceNormalization

void infer_dropout(InferContext& c) {
  forbid_attr_since(c, "ratio", 12, "ratio is input 1");
  forbid_attr_before(c, "seed", 12);
  if (c.opset() < 12) limit_inputs(c, 1);
  require_floating(c, 0);
  if (c.has_input(1)) require_floating(c, 1);
  if (c.has_input(2)) require_bool(c, 2);
  const Shape& x = c.input_shape(0);
  c.set_output(0, c.input_dtype(0), x);
  // The mask is bool from opset 10 on, the input's type before.
  if (c.num_outputs() > 1) c.set_output(1, c.opset() >= 10 ? DType::kBool : c.input_dtype(0), x);
}

void infer_instance_norm(InferContext& c) {
  for (size_t i = 0; i < 3; ++i) require_floating(c, i);
  require_same_dtype(c, 0, 1);
  require_same_dtype(c, 0, 2);
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 3);
  Dim channels = x.has_rank() ? x[1] : Dim();
  static const char* const kNames[] = {"input", "scale", "B"};
  for (size_t i = 1; i < 3; ++i) {
    const Shape& s = c.input_shape(i);
    require_rank(c, i, s, 1, 1);
    if (s.has_rank() && !merge_dim(s[0], channels))
      c.fail("{} has shape {}, expected [{}] for input {}", kNames[i], s.to_string(), channels.to_string(), x.to_string());
  }
  c.set_output(0, c.input_dtype(0), x);
}

void infer_lp_norm(InferContext& c) {
  require_floating(c, 0);
  const Shape& x = c.input_shape(0);
  int64_t p = c.attr_int("p");
  if (p != 1 && p != 2) c.fail("p is {}, expected 1 or 2", p);
  if (x.has_rank()) {
    require_rank(c, 0, x, 1);
    c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(x.rank()));
  }
  c.set_output(0, c.input_dtype(0), x);
}

void infer_mvn(InferContext& c) {
  require_floating(c, 0);
  const Shape& x = c.input_shape(0);
  if (x.has_rank()) normalize_axes(c, c.attr_ints("axes"), static_cast<int64_t>(x.rank()));
  c.set_output(0, c.input_dtype(0), x);
}

// --- TopK

void infer_top_k(InferContext& c) {
  forbid_attr_since(c, "k", 10, "k is input 1");
  forbid_attr_before(c, "largest", 11);
  forbid_attr_before(c, "sorted", 11);
  require_numeric(c, 0);
  const Shape& x = c.input_shape(0);
  DType dtype = c.input_dtype(0);
  std::optional<int64_t> k;
  if (c.opset() < 10) {
    limit_inputs(c, 1);
    if (!c.has_attr("k")) c.fail("attribute 'k' is required before opset 10");
    k = c.attr_int("k");
  } else {
    if (!c.has_input(1)) c.fail("input 1 (k) is required from opset 10 on");
    require_index(c, 1);
    const Shape& ks = c.input_shape(1);
    if (ks.has_rank() && !(ks.rank() == 1 && merge_dim(ks[0], Dim(int64_t{1}))))
      c.fail("k must have shape [1], got {}", ks.to_string());
    if (std::optional<std::vector<int64_t>> v = c.input_ints(1); v && v->size() == 1) k = (*v)[0];
  }
  if (k && *k < 0) c.fail("k is {}, expected >= 0", *k);
  if (!x.has_rank()) {
    c.set_output(0, dtype, Shape::unknown_rank());
    return c.set_output(1, DType::kI64, Shape::unknown_rank());
  }
  require_rank(c, 0, x, 1);
  auto axis = static_cast<size_t>(c.normalize_axis(c.attr_int("axis"), static_cast<int64_t>(x.rank())));
  std::vector<Dim> out = x.dims();
  if (k && x[axis].is_static() && *k > x[axis].value())
    c.fail("k {} exceeds axis {} of {}", *k, axis, x.to_string());
  out[axis] = k ? Dim(*k) : Dim();
  c.set_output(0, dtype, Shape(out));
  c.set_output(1, DType::kI64, Shape(out));
}

}  // namespace

void register_norm_ops(OpRegistry& registry) {
  // Opset 6 and older had is_test/consumed_inputs; kiln starts at 7.
  registry.add(OpDef("BatchNormalization")
                   .opsets(7)
                   .inputs(5, 5)
                   .outputs(1, 5)
                   .attr("epsilon", AttrType::kFloat, float_attr(1e-5f))
                   .attr("momentum", AttrType::kFloat, float_attr(0.9f))
                   .attr("spatial", AttrType::kInt, int_attr(1))        // opsets 7 and 8 only
                   .attr("training_mode", AttrType::kInt, int_attr(0))  // since opset 14
                   .infer(infer_batch_norm));
  registry.add(OpDef("LayerNormalization")
                   .opsets(17)
                   .inputs(2, 3)
                   .outputs(1, 3)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .attr("epsilon", AttrType::kFloat, float_attr(1e-5f))
                   .attr("stash_type", AttrType::kInt, int_attr(1))
                   .infer(infer_layer_norm));
  // Dropout-7..11 had a `ratio` attribute; from 12 on ratio and training_mode are inputs.
  // Inference only: identity, with an all-true mask.
  registry.add(OpDef("Dropout")
                   .opsets(7)
                   .inputs(1, 3)
                   .outputs(1, 2)
                   .attr("ratio", AttrType::kFloat, float_attr(0.5f))  // before opset 12
                   .optional_attr("seed", AttrType::kInt)              // since opset 12
                   .infer(infer_dropout));
  registry.add(OpDef("InstanceNormalization")
                   .opsets(6)
                   .inputs(3, 3)
                   .attr("epsilon", AttrType::kFloat, float_attr(1e-5f))
                   .infer(infer_instance_norm));
  registry.add(OpDef("LpNormalization")
                   .opsets(1)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .attr("p", AttrType::kInt, int_attr(2))
                   .infer(infer_lp_norm));
  registry.add(OpDef("MeanVarianceNormalization")
                   .opsets(9)
                   .attr("axes", AttrType::kInts, ints_attr({0, 2, 3}))
                   .infer(infer_mvn));
  // `axis` has no schema default: 1 (2-D coercion) before opset 13, -1 (one axis) from 13 on.
  // k: an attribute before opset 10, input 1 after (known at plan time); largest/sorted since 11.
  registry.add(OpDef("TopK")
                   .opsets(1)
                   .inputs(1, 2)
                   .outputs(2, 2)
                   .optional_attr("k", AttrType::kInt)
                   .attr("axis", AttrType::kInt, int_attr(-1))
                   .attr("largest", AttrType::kInt, int_attr(1))
                   .attr("sorted", AttrType::kInt, int_attr(1))
                   .shape_inputs({1})
                   .infer(infer_top_k));
}

}  // namespace kiln::ops
