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

/// Runs op (at opset kLatestOpset of its domain) on inputs and returns num_outputs new tensors.
/// An undefined input is an omitted optional input. Inputs on the host run on the "cpu"
/// backend and give host outputs; inputs on a device run on that device's backend and give
/// outputs there. Kernels are prepared once per op, attributes, dtypes and shapes, and reused.
/// When grad mode is on and an input requires grad, the call is recorded on the tape.
/// Throws kiln::Error naming the op on a bad input (dtype, shape, attribute), when no backend
/// can run it, or when inputs sit on different non-host devices.
std::vector<Tensor> run_op(std::string_view op, const std::vector<Tensor>& inputs, const Attributes& attrs = {},
                           size_t num_outputs = 1, std::string_view domain = "");

/// run_op for an op with one output.
Tensor run_op1(std::string_view op, const std::vector<Tensor>& inputs, const Attributes& attrs = {},
               std::string_view domain = "");

/// The backends eager ops run on. By default BackendRegistry::global(); a program or test that
/// loads plugins from elsewhere sets its registry here before the first op. Not thread-safe
/// against concurrent run_op calls.
void set_eager_registry(BackendRegistry& registry);

/// Eager kernels prepared so far (for tests and diagnostics).
size_t eager_kernel_count();

}  // namespace kiln
