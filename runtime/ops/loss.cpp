// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+). Input/scores are
// [N, C, d1..dk], the target/labels [N, d1..dk] (i64 or i32), the optional weight [C].
// reduction "none" gives a loss of the target's shape, "sum" and "mean" (default) a scalar.
// SoftmaxCrossEntropyLoss's optional second output log_prob has the scores' shape.
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

void infer_loss(InferContext& c, bool softmax) {
  require_floating(c, 0);
  require_index(c, 1, /*allow_i32=*/true);
  if (c.has_input(2)) require_same_dtype(c, 0, 2);
  const std::string reduction = c.attr_string("reduction");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    c.fail("reduction is '{}', expected 'none', 'sum' or 'mean'", reduction);
  const Shape& x = c.input_shape(0);
  const Shape& t = c.input_shape(1);
  require_rank(c, 0, x, 2);
  if (x.has_rank()) require_rank(c, 1, t, x.rank() - 1, x.rank() - 1);
  else require_rank(c, 1, t, 1);
  // The loss per element has the target's shape: [N, d1..dk], merged with the input's.
  Shape per_element = t;
  if (x.has_rank() && t.has_rank()) {
    std::vector<Dim> dims;
    for (size_t i = 0; i < t.rank(); ++i) {
      const Dim& xd = x[i == 0 ? 0 : i + 1];
      std::optional<Dim> m = merge_dim(xd, t[i]);
      if (!m) c.fail("target has shape {}, expected one matching input {} without dim 1", t.to_string(), x.to_string());
      dims.push_back(*m);
    }
    per_element = Shape(std::move(dims));
  } else if (x.has_rank()) {
    std::vector<Dim> dims{x[0]};
    for (size_t i = 2; i < x.rank(); ++i) dims.push_back(x[i]);
    per_element = Shape(std::move(dims));
  }
  if (c.has_input(2)) {
    const Shape& w = c.input_shape(2);
    require_rank(c, 2, w, 1, 1);
    if (w.has_rank() && x.has_rank() && !merge_dim(w[0], x[1]))
      c.fail("weight has shape {}, expected [{}] for input {}", w.to_string(), x[1].to_string(), x.to_string());
  }
  c.set_output(0, c.input_dtype(0), reduction == "none" ? per_element : Shape(std::vector<Dim>{}));
  if (softmax && c.num_outputs() > 1) c.set_output(1, c.input_dtype(0), x);
}

OpDef loss_def(const char* name, bool softmax) {
  return OpDef(name)
      .opsets(12)
      .inputs(2, 3)
      .outputs(1, softmax ? 2 : 1)
      .attr("reduction", AttrType::kString, string_attr("mean"))
      .optional_attr("ignore_index", AttrType::kInt)
      .infer([softmax](InferContext& c) { infer_loss(c, softmax); });
}

}  // namespace

void register_loss_ops(OpRegistry& registry) {
  registry.add(loss_def("NegativeLogLikelihoodLoss", false));
  registry.add(loss_def("SoftmaxCrossEntropyLoss", true));
}

}  // namespace kiln::ops
