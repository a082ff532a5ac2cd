#pragma once
// Eager dispatch: one op of the registry run at once on its inputs' backend. Frontend tensor
// ops and gradient formulas both go through run_op, which also records the autograd tape.

#include <string_view>
#include <vector>

#include "kiln/runtime/attribute.h"
#include "kiln/runtime/backend.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/tensor.h"

namespace kiln {

/// Runs op on inputs and returns num_outputs new tensors, at `opset` of the op's domain: 0 means
/// the latest opset the op is defined at (kLatestOpset for the default domain's open-ended ops,
/// the definition's until() otherwise); an older opset runs the op's older form (e.g. Clip-6's
/// min/max attributes, ReduceSum-11's axes attribute). An undefined input is an omitted optional
/// input. Inputs on the host run on the "cpu" backend and give host outputs; inputs on a device
/// run on that device's backend and give outputs there. Kernels are prepared once per op,
/// opset, attributes, dtypes and shapes, and reused. When grad mode is on and an input requires
/// grad, the call is recorded on the tape with its opset, so the gradient reads the same form.
/// Throws kiln::Error naming the op on a bad input (dtype, shape, attribute), when no backend
/// can run it, when inputs sit on different non-host devices, or (kUnsupported) when the op is
/// not defined at `opset`.
std::vector<Tensor> run_op(std::string_view op, const std::vector<Tensor>& inputs, const Attributes& attrs = {},
                           size_t num_outputs = 1, std::string_view domain = "", int opset = 0);

/// run_op for an op with one output.
Tensor run_op1(std::string_view op, const std::vector<Tensor>& inputs, const Attributes& attrs = {},
               std::string_view domain = "", int opset = 0);

/// The backends eager ops run on. By default BackendRegistry::global(); a program or test that
/// loads plugins from elsewhere sets its registry here before the first op. Not thread-safe
/// against concurrent run_op calls.
void set_eager_registry(BackendRegistry& registry);

/// Eager kernels prepared so far (for tests and diagnostics).
size_t eager_kernel_count();

}  // namespace kiln
