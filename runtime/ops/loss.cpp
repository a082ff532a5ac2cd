// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+). Input/scores are
// [N, C, d1..dk], the target/labels [N, d1..dk] (i64 or i32), the optional weight [C].
// reduction "none" gives a loss of the target's shape, "sum" and "mean" (default) a scalar.
// SoftmaxCrossEntropyLoss's optional second output log_prob has the scores' shape.
#include "grad_util.h"
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

// ---- Gradients. Per element e of the target (t_e, class weight w_e = weight[t_e], 0 where
// t_e == ignore_index) the NLL loss is -w_e * input[e, t_e]; "mean" divides the sum by sum(w_e).

// Gradients of the NLL loss with respect to its input (log-probabilities for
// SoftmaxCrossEntropyLoss) and to the class weights, given the loss output and its gradient.
struct NllGrads {
  Tensor input, weight;
};

NllGrads nll_grads(const GradContext& g, const Tensor& input, bool want_weight) {
  const Tensor& weight = g.num_inputs() > 2 ? g.input(2) : Tensor();
  const int64_t rank = static_cast<int64_t>(input.rank());
  Tensor target = cast(g.input(1), DType::kI64);
  Tensor valid = ones_like(target);
  if (g.attrs().has("ignore_index")) {
    Tensor ignored = equal(target, scalar_like(static_cast<double>(g.attr_int("ignore_index")), target));
    target = where(ignored, zeros_like(target), target);  // any class: its weight becomes 0
    valid = where(ignored, zeros_like(target), valid);
  }
  // one_hot[e, c] = (t_e == c), as input's dtype and shape.
  Dims class_shape(input.rank(), 1);
  class_shape[1] = input.dim(1);
  std::vector<int64_t> classes(static_cast<size_t>(input.dim(1)));
  for (size_t c = 0; c < classes.size(); ++c) classes[c] = static_cast<int64_t>(c);
  const Tensor class_ids = Tensor::from_vector<int64_t>(class_shape, classes).to(target.device());
  const Tensor one_hot = cast(equal(unsqueeze(target, {1}), class_ids), input.dtype());
  Tensor w = cast(valid, input.dtype());
  if (weight.defined()) w = w * sum(one_hot * weight.reshape(class_shape), {1});
  // G_e: the gradient reaching loss element e.
  const std::string reduction = g.attr_string("reduction");
  Tensor dloss = g.output_grad(0);
  Tensor total;
  if (reduction != "none") dloss = dloss.expand(w.shape()).contiguous();
  if (reduction == "mean") {
    total = sum(w);
    dloss = dloss / total;
  }
  NllGrads out;
  out.input = one_hot * unsqueeze(-(w * dloss), {1});
  if (want_weight) {
    // d loss / d weight[c] = sum over e with t_e = c of valid_e * (-input[e, t_e] (- loss for mean)) * G_e.
    Tensor picked = -sum(one_hot * input, {1});
    if (reduction == "mean") picked = picked - g.output(0);
    std::vector<int64_t> axes{0};
    for (int64_t d = 2; d < rank; ++d) axes.push_back(d);
    out.weight = sum(one_hot * unsqueeze(cast(valid, input.dtype()) * picked * dloss, {1}), axes);
  }
  return out;
}

bool wants_weight_grad(const GradContext& g) { return g.num_inputs() > 2 && g.needs_input_grad(2); }

void grad_nll_loss(GradContext& g) {
  NllGrads d = nll_grads(g, g.input(0), wants_weight_grad(g));
  g.set_input_grad(0, d.input);
  if (wants_weight_grad(g)) g.set_input_grad(2, d.weight);
}

// The NLL loss of log_prob = LogSoftmax(scores, axis 1); d scores = dlogp - softmax * sum_c(dlogp).
void grad_softmax_cross_entropy(GradContext& g) {
  const Tensor log_prob = log_softmax(g.input(0), 1);
  NllGrads d = nll_grads(g, log_prob, wants_weight_grad(g));
  Tensor dlogp = d.input;
  if (g.num_outputs() > 1 && g.has_output_grad(1)) dlogp = dlogp + g.output_grad(1);
  g.set_input_grad(0, dlogp - exp(log_prob) * sum(dlogp, {1}, true));
  if (wants_weight_grad(g)) g.set_input_grad(2, d.weight);
}

}  // namespace

void register_loss_ops(OpRegistry& registry) {
  registry.add(loss_def("NegativeLogLikelihoodLoss", false).grad(grad_nll_loss));
  registry.add(loss_def("SoftmaxCrossEntropyLoss", true).grad(grad_softmax_cross_entropy));
}

}  // namespace kiln::ops
