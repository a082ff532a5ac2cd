#include "kiln/frontend/nn/loss.h"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::nn {

std::string to_string(Reduction reduction) {
  switch (reduction) {
    case Reduction::kNone:
      return "none";
    case Reduction::kMean:
      return "mean";
    case Reduction::kSum:
      return "sum";
  }
  return "mean";
}

Reduction reduction_from_string(const std::string& name) {
  if (name == "none") return Reduction::kNone;
  if (name == "mean") return Reduction::kMean;
  if (name == "sum") return Reduction::kSum;
  raise(ErrorCode::kInvalidArgument, "reduction is '{}', expected 'none', 'mean' or 'sum'", name);
}

namespace functional {
namespace {

// numpy broadcasting of two shapes; false when they do not broadcast.
bool broadcast_shape(const Dims& a, const Dims& b, Dims& out) {
  const size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

void check_floating_input(const char* loss, const Tensor& input, const Tensor& target) {
  if (!input.defined() || !target.defined())
    raise(ErrorCode::kInvalidArgument, "{}: input or target is undefined", loss);
  if (!is_floating(input.dtype()))
    raise(ErrorCode::kInvalidArgument, "{}: input has dtype {}, expected a floating dtype", loss,
          kiln::to_string(input.dtype()));
}

// The elementwise losses: same floating dtype and (unless allowed) the same shape.
void check_pair(const char* loss, const Tensor& input, const Tensor& target, bool allow_broadcast) {
  check_floating_input(loss, input, target);
  if (target.dtype() != input.dtype())
    raise(ErrorCode::kInvalidArgument,
          "{}: target has dtype {} but input has {}; convert the target with cast()", loss,
          kiln::to_string(target.dtype()), kiln::to_string(input.dtype()));
  if (input.shape() == target.shape()) return;
  Dims both;
  if (!broadcast_shape(input.shape(), target.shape(), both))
    raise(ErrorCode::kInvalidArgument, "{}: input shape {} and target shape {} differ and do not broadcast",
          loss, shape_string(input.shape()), shape_string(target.shape()));
  if (!allow_broadcast)
    raise(ErrorCode::kInvalidArgument,
          "{}: input shape {} and target shape {} differ; PyTorch would silently broadcast them to {}, which "
          "is "
          "usually a bug; reshape the target or set allow_broadcast(true)",
          loss, shape_string(input.shape()), shape_string(target.shape()), shape_string(both));
}

Tensor reduce(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::kNone:
      return loss;
    case Reduction::kSum:
      return sum(loss);
    case Reduction::kMean:
      return mean(loss);
  }
  return loss;
}

// sign(t) without autograd history: |d| = d * sign(d) has PyTorch's gradient sign(d).
Tensor constant_sign(const Tensor& t) {
  NoGradGuard no_grad;
  return sign(t.detach());
}

// A weight that multiplies a loss of shape `shape`: it must broadcast to exactly that shape.
Tensor checked_weight(const char* loss, const char* what, const Tensor& weight, const Tensor& input) {
  Dims both;
  if (!broadcast_shape(weight.shape(), input.shape(), both) || both != input.shape())
    raise(ErrorCode::kInvalidArgument, "{}: {} {} does not broadcast to input {}", loss, what,
          shape_string(weight.shape()), shape_string(input.shape()));
  if (weight.dtype() != input.dtype())
    raise(ErrorCode::kInvalidArgument, "{}: {} has dtype {} but input has {}", loss, what,
          kiln::to_string(weight.dtype()), kiln::to_string(input.dtype()));
  return weight;
}

// The class-index losses: input [N, C, d1..] (or [C]), target [N, d1..] (or []) of class
// indices in [0, C) or ignore_index. Returns input and target with a batch dim.
struct ClassTarget {
  Tensor input, target;
  bool unbatched = false;
};

ClassTarget check_class_target(const char* loss, const Tensor& input, const Tensor& target,
                               const Tensor& weight, int64_t ignore_index) {
  check_floating_input(loss, input, target);
  if (input.rank() == 0)
    raise(ErrorCode::kInvalidArgument, "{}: input is a scalar, expected [N, C, d1..] or [C]", loss);
  if (target.dtype() != DType::kI64 && target.dtype() != DType::kI32)
    raise(
        ErrorCode::kInvalidArgument,
        "{}: target has dtype {}; class indices must be i64 or i32 (class probabilities need a target of the "
        "input's shape with CrossEntropyLoss)",
        loss, kiln::to_string(target.dtype()));
  ClassTarget out{input, target, input.rank() == 1};
  if (out.unbatched) {
    if (target.rank() != 0)
      raise(ErrorCode::kInvalidArgument, "{}: unbatched input {} needs a scalar target, got {}", loss,
            shape_string(input.shape()), shape_string(target.shape()));
    out.input = input.reshape({1, input.dim(0)});
    out.target = target.reshape({1});
  }
  Dims expected{out.input.dim(0)};
  for (size_t i = 2; i < out.input.rank(); ++i) expected.push_back(out.input.shape()[i]);
  if (out.target.shape() != expected)
    raise(ErrorCode::kInvalidArgument,
          "{}: target shape {} does not fit input {}: expected {} (one class index per sample, the input "
          "without "
          "its class dim 1)",
          loss, shape_string(target.shape()), shape_string(input.shape()), shape_string(expected));
  const int64_t classes = out.input.dim(1);
  if (weight.defined()) {
    if (weight.shape() != Dims{classes})
      raise(ErrorCode::kInvalidArgument, "{}: weight has shape {}, expected [{}] (one per class)", loss,
            shape_string(weight.shape()), classes);
    if (weight.dtype() != input.dtype())
      raise(ErrorCode::kInvalidArgument, "{}: weight has dtype {} but input has {}", loss,
            kiln::to_string(weight.dtype()), kiln::to_string(input.dtype()));
  }
  const Tensor host = cast(out.target.detach(), DType::kI64).to(Device::host());
  for (int64_t t : host.to_vector<int64_t>())
    if (t != ignore_index && (t < 0 || t >= classes))
      raise(ErrorCode::kInvalidArgument, "{}: target {} is out of bounds for {} classes (ignore_index is {})",
            loss, t, classes, ignore_index);
  return out;
}

Attributes loss_attrs(Reduction reduction, int64_t ignore_index) {
  Attributes attrs;
  attrs.set("reduction", to_string(reduction));
  attrs.set("ignore_index", ignore_index);
  return attrs;
}

Tensor unbatch(const Tensor& loss, const ClassTarget& ct, Reduction reduction) {
  return ct.unbatched && reduction == Reduction::kNone ? loss.reshape({}) : loss;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options) {
  check_pair("MSELoss", input, target, options.allow_broadcast());
  Tensor d = input - target;
  return reduce(d * d, options.reduction());
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options) {
  check_pair("L1Loss", input, target, options.allow_broadcast());
  Tensor d = input - target;
  return reduce(d * constant_sign(d), options.reduction());
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options) {
  check_pair("HuberLoss", input, target, options.allow_broadcast());
  const double delta = options.delta();
  if (!(delta > 0)) raise(ErrorCode::kInvalidArgument, "HuberLoss: delta={} must be positive", delta);
  Tensor d = input - target;
  Tensor ad = d * constant_sign(d);
  Tensor linear_part;  // 1 where |d| >= delta (PyTorch's linear branch), else 0
  {
    NoGradGuard no_grad;
    linear_part = 1.0 - cast(less(ad.detach(), scalar_like(delta, ad)), ad.dtype());
  }
  Tensor quadratic = d * d * 0.5;
  Tensor linear = (ad - 0.5 * delta) * delta;
  return reduce(quadratic * (1.0 - linear_part) + linear * linear_part, options.reduction());
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options) {
  ClassTarget ct = check_class_target("NLLLoss", input, target, options.weight(), options.ignore_index());
  std::vector<Tensor> inputs{ct.input, ct.target};
  if (options.weight().defined()) inputs.push_back(options.weight());
  Tensor loss =
      run_op1("NegativeLogLikelihoodLoss", inputs, loss_attrs(options.reduction(), options.ignore_index()));
  return unbatch(loss, ct, options.reduction());
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options) {
  const double ls = options.label_smoothing();
  if (!(ls >= 0.0 && ls <= 1.0))
    raise(ErrorCode::kInvalidArgument, "CrossEntropyLoss: label_smoothing={} is outside [0, 1]", ls);
  const Tensor& weight = options.weight();
  if (target.defined() && is_floating(target.dtype()) && target.shape() == input.shape()) {
    // Class probabilities of the input's shape.
    check_pair("CrossEntropyLoss", input, target, false);
    if (input.rank() == 0) raise(ErrorCode::kInvalidArgument, "CrossEntropyLoss: input is a scalar");
    const int64_t class_dim = input.rank() == 1 ? 0 : 1;
    const int64_t classes = input.dim(class_dim);
    Tensor y = ls > 0 ? target * (1.0 - ls) + ls / static_cast<double>(classes) : target;
    Tensor logp = log_softmax(input, class_dim);
    Tensor terms = logp * y;
    if (weight.defined()) {
      if (weight.shape() != Dims{classes})
        raise(ErrorCode::kInvalidArgument, "CrossEntropyLoss: weight has shape {}, expected [{}]",
              shape_string(weight.shape()), classes);
      Dims wshape(input.rank(), 1);
      wshape[static_cast<size_t>(class_dim)] = classes;
      terms = terms * weight.reshape(wshape);
    }
    return reduce(-sum(terms, {class_dim}), options.reduction());
  }
  ClassTarget ct = check_class_target("CrossEntropyLoss", input, target, weight, options.ignore_index());
  std::vector<Tensor> inputs{ct.input, ct.target};
  if (weight.defined()) inputs.push_back(weight);
  const Attributes attrs = loss_attrs(options.reduction(), options.ignore_index());
  if (ls == 0.0) return unbatch(run_op1("SoftmaxCrossEntropyLoss", inputs, attrs), ct, options.reduction());
  // torch 1.13: (1 - ls) * nll + ls / C * smooth, smooth_e = -sum_c weight[c] * log_prob[e, c]
  // (0 for ignored targets), reduced like nll ("mean" divides by the nll's weight sum).
  std::vector<Tensor> outs = run_op("SoftmaxCrossEntropyLoss", inputs, attrs, 2);
  const Tensor& log_prob = outs[1];
  const int64_t classes = ct.input.dim(1);
  Tensor terms = log_prob;
  if (weight.defined()) {
    Dims wshape(ct.input.rank(), 1);
    wshape[1] = classes;
    terms = terms * weight.reshape(wshape);
  }
  Tensor kept, denominator;
  {
    NoGradGuard no_grad;
    const Tensor t = ct.target.detach();
    Tensor ignored = equal(t, scalar_like(static_cast<double>(options.ignore_index()), t));
    kept = cast(where(ignored, zeros_like(t), ones_like(t)), input.dtype());
    if (options.reduction() == Reduction::kMean) {
      if (weight.defined()) {
        Tensor safe = where(ignored, zeros_like(t), t);
        denominator = sum(gather(weight.detach(), safe, 0) * kept);
      } else {
        denominator = sum(kept);
      }
    }
  }
  Tensor smooth = -sum(terms, {1}) * kept;
  if (options.reduction() == Reduction::kSum) smooth = sum(smooth);
  if (options.reduction() == Reduction::kMean) smooth = sum(smooth) / denominator;
  Tensor loss = outs[0] * (1.0 - ls) + smooth * (ls / static_cast<double>(classes));
  return unbatch(loss, ct, options.reduction());
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& options) {
  const char* name = "BCEWithLogitsLoss";
  check_pair(name, input, target, options.allow_broadcast());
  const Tensor& x = input;
  const Tensor& y = target;
  // softplus(-x) = m + log(exp(-m) + exp(-x - m)), m = max(-x, 0): no overflow for any x.
  Tensor m = relu(-x);
  Tensor softplus_neg = m + log(exp(-m) + exp(-x - m));
  Tensor loss;
  if (options.pos_weight().defined()) {
    Tensor pw = checked_weight(name, "pos_weight", options.pos_weight(), x);
    Tensor log_weight = (pw - 1.0) * y + 1.0;
    loss = (1.0 - y) * x + log_weight * softplus_neg;
  } else {
    loss = (1.0 - y) * x + softplus_neg;
  }
  if (options.weight().defined()) loss = loss * checked_weight(name, "weight", options.weight(), x);
  return reduce(loss, options.reduction());
}

}  // namespace functional
}  // namespace kiln::nn
