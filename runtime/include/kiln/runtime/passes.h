#pragma once
// Graph passes for inference. Each rewrites a Graph in place and keeps its outputs unchanged
// (up to float rounding); each returns how many nodes it changed so callers can report it.

#include <cstddef>
#include <string>
#include <vector>

#include "kiln/runtime/graph.h"

namespace kiln {

class BackendRegistry;

/// Evaluates nodes whose inputs are all constants (initializers) and whose result is small or
/// shape-like, replacing them by initializers; includes PyTorch's shape chains (Shape -> Gather
/// -> Unsqueeze -> Concat) once input shapes are static. Shape arithmetic folds through the op
/// definitions; other ops run on the registry's backends (cpu first), and a node that no backend
/// runs stays. A result is folded when it is at most 1 MiB or no larger than the constants it
/// alone consumes (a weight's Transpose or Cast), so big weights are never duplicated. Throws
/// kiln::Error when the graph does not validate.
size_t fold_constants(Graph& graph, BackendRegistry& registry);
/// fold_constants over BackendRegistry::global(); when that cannot load, folds only what the
/// op definitions compute.
size_t fold_constants(Graph& graph);
/// Folds an inference BatchNormalization into the preceding Conv's weights and bias, when the
/// Conv's output feeds only the BatchNormalization and every parameter is an f32 initializer.
size_t fold_batch_norm(Graph& graph);
/// Removes Identity nodes and Pads whose pads are all zero, so their consumers read the input;
/// a node whose output is a graph output stays. Returns how many nodes it removed.
size_t remove_identities(Graph& graph);
/// Replaces PyTorch's exact GELU decomposition, x * (1 + Erf(x / sqrt(2))) * 0.5 (Div by
/// sqrt(2) or Mul by 1/sqrt(2); operands in either order), by one Gelu node. Validates the
/// graph first and throws kiln::Error when it does not validate.
size_t fuse_gelu(Graph& graph);
/// Fuses Conv, Gemm or MatMul with a following bias Add (a constant along the channels or the
/// last dim), for Conv an Add of a residual of the output's exact shape (ResNet's skip
/// connection), and Relu, Clip (constant bounds) or Gelu (exact) into one node that the CPU backend runs with
/// oneDNN post-ops: a bias alone goes into Conv's B or Gemm's C; otherwise the node becomes
/// kiln.FusedConv, kiln.FusedGemm or kiln.FusedMatMul (domain "kiln", declared at opset 1).
/// A chain stops at a value that has another use or is a graph output. Validates the graph
/// first (the rules read inferred shapes) and throws kiln::Error when it does not validate.
size_t fuse_bias_activation(Graph& graph);
/// Runs chains of 2-D convolutions and pools channels-last, the layout oneDNN's convolutions
/// use: each f32 Conv, FusedConv, MaxPool (without Indices) or AveragePool whose input X (or
/// residual Z) comes from another such node, or whose output feeds one, becomes
/// kiln.FusedConv with channels_last = 1, kiln.MaxPoolChannelsLast or
/// kiln.AveragePoolChannelsLast, reading and writing [N, H, W, C]; Transposes convert where a
/// chain meets other nodes or a graph output. For the CPU backend (the kiln ops have no other
/// kernels). Validates the graph first and throws kiln::Error when it does not validate.
/// Returns how many nodes it changed.
size_t use_channels_last(Graph& graph);
/// Removes nodes whose outputs reach no graph output, then initializers that nothing uses.
/// Returns how many nodes and initializers were removed.
size_t eliminate_dead_code(Graph& graph);

struct PassReport {
  std::vector<std::pair<std::string, size_t>> changes;  // pass name, nodes changed
};

/// Runs every inference pass in order (constant folding, dead code, identity removal,
/// BatchNorm folding, GELU fusion, bias and activation fusion, channels-last convolutions, dead
/// code), then validates the graph. Throws kiln::Error when the graph
/// does not validate before or after.
PassReport optimize_for_inference(Graph& graph, BackendRegistry& registry);
/// optimize_for_inference with fold_constants(graph)'s choice of backends.
PassReport optimize_for_inference(Graph& graph);

}  // namespace kiln
