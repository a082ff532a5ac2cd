#pragma once
// Reverse-mode autograd over a tape. Every eager op call whose inputs require grad records a
// GradNode (its op definition, attributes and saved tensors); backward() walks the nodes in
// reverse topological order and calls each op's gradient from the registry (DESIGN.md,
// decisions 2 and 5). Gradients of a value used several times are summed.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/runtime/attribute.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/tensor.h"

namespace kiln {

/// Whether eager ops record the tape on this thread (on by default).
class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool enabled);
};

/// Turns recording off for its scope (optimizer steps, evaluation), like torch.no_grad().
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

struct GradNode;

/// Per-tensor autograd state, shared by the copies of one Tensor handle.
struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                         // accumulated gradient of a leaf
  std::shared_ptr<GradNode> grad_fn;   // the op that made this tensor; null for a leaf
  size_t output_nr = 0;                // which output of grad_fn
};

/// What an op's gradient function sees: the forward call (definition, opset, attributes with
/// the schema's defaults filled in, saved inputs and outputs) and the gradients of its outputs.
/// It computes input gradients with eager ops (kiln/runtime/tensor_ops.h).
class GradContext {
 public:
  GradContext(const GradNode& node, std::vector<Tensor> output_grads, std::vector<bool> needs_input_grad);

  const OpDef& def() const;
  int opset() const;
  const Attributes& attrs() const;
  /// Attribute getters; throw Error(kInternal) naming the op when the attribute is absent.
  int64_t attr_int(std::string_view name) const;
  float attr_float(std::string_view name) const;
  std::vector<int64_t> attr_ints(std::string_view name) const;
  std::string attr_string(std::string_view name) const;

  size_t num_inputs() const;
  size_t num_outputs() const;
  /// The forward input i (undefined when it was omitted); no autograd history.
  const Tensor& input(size_t i) const;
  /// input(i) as int64 values (shape inputs such as Reshape's shape or Slice's starts).
  std::vector<int64_t> input_ints(size_t i) const;
  const Tensor& output(size_t i) const;
  /// The gradient flowing into output i; zeros of the output's shape when none reached it.
  Tensor output_grad(size_t i) const;
  bool has_output_grad(size_t i) const;
  /// False for inputs that do not require grad (or are integer), so their gradient is skipped.
  bool needs_input_grad(size_t i) const;
  /// Sets input i's gradient. Throws Error(kInternal) naming the op when its shape or dtype
  /// differs from the input's (a bug in the gradient formula).
  void set_input_grad(size_t i, Tensor grad);
  std::vector<Tensor>& input_grads() { return input_grads_; }

  /// Throws Error(kInvalidArgument) prefixed with the op ("Conv gradient: ...").
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const GradNode& node_;
  std::vector<Tensor> output_grads_;
  std::vector<bool> needs_input_grad_;
  std::vector<Tensor> input_grads_;
};

namespace autograd {

/// Records one eager call on the tape when grad mode is on and an input requires grad: each
/// floating output then requires grad and has the call as its grad_fn. attrs must hold the
/// schema's defaults. Outputs are modified in place.
void record(const OpDef& def, int opset, const Attributes& attrs, const std::vector<Tensor>& inputs,
            std::vector<Tensor>& outputs);

/// Records a view (Tensor::reshape, slice, transpose...) of base as the registry op that
/// computes the same thing, so views of tensors that require grad are differentiable.
/// extra_inputs follow base as the op's inputs (Reshape's shape, Slice's starts...).
Tensor record_view(const Tensor& base, Tensor view, std::string_view op, std::vector<Tensor> extra_inputs = {},
                   Attributes attrs = {});

/// Backpropagates from roots, seeded with grads (ones for a scalar root when grads[i] is
/// undefined), and accumulates into the .grad of every leaf that requires grad. Without
/// retain_graph the saved tensors are freed and a second backward through the same nodes throws.
/// Throws Error(kInvalidArgument) when a root does not require grad, a seed's shape or dtype
/// differs from its root's, or an implicit seed is asked for a non-scalar root; and
/// Error(kUnsupported) naming the op when a needed gradient is not defined.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads = {}, bool retain_graph = false);

}  // namespace autograd
}  // namespace kiln
