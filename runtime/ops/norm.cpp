// BatchNormalization and LayerNormalization.
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
}

}  // namespace kiln::ops
