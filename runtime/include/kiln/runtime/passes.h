#pragma once
// Graph passes for inference. Each rewrites a Graph in place and keeps its outputs unchanged
// (up to float rounding); each returns how many nodes it changed so callers can report it.

#include <cstddef>
#include <string>
#include <vector>

#include "kiln/runtime/graph.h"

namespace kiln {

/// Evaluates nodes whose inputs are all constants (initializers) and whose result is small or
/// shape-like, replacing them by initializers; includes PyTorch's shape chains (Shape -> Gather
/// -> Unsqueeze -> Concat) once input shapes are static.
size_t fold_constants(Graph& graph);
/// Folds an inference BatchNormalization into the preceding Conv's weights and bias.
size_t fold_batch_norm(Graph& graph);
/// Fuses Conv, Gemm or MatMul with a following bias Add and Relu or Clip into one node that
/// the CPU backend runs with oneDNN post-ops.
size_t fuse_bias_activation(Graph& graph);
/// Removes nodes whose outputs reach no graph output.
size_t eliminate_dead_code(Graph& graph);

struct PassReport {
  std::vector<std::pair<std::string, size_t>> changes;  // pass name, nodes changed
};

/// Runs every inference pass in order, then validates the graph.
PassReport optimize_for_inference(Graph& graph);

}  // namespace kiln
