#pragma once
// Small helpers shared by the inference passes (pass_*.cpp).

#include <string>
#include <vector>

#include "kiln/runtime/graph.h"

namespace kiln::passes {

/// The initializer of v when v is a constant of dtype f32; nullptr otherwise.
const Tensor* f32_constant(const Value* v);
/// True when v feeds exactly one node input and is not a graph output: a pass may consume it.
bool single_use(const Value* v);
/// The one node that reads v (single_use(v) must hold).
Node* only_user(const Value* v);
/// True when node is an op of the default ONNX domain named op_type.
bool is_op(const Node* node, const char* op_type);
/// A value name starting with stem that the graph does not use yet.
std::string unique_name(const Graph& graph, const std::string& stem);
/// Adds an initializer under a fresh name derived from stem; returns its name.
std::string add_constant(Graph& graph, const std::string& stem, Tensor value);
/// Replaces the nodes `old` (removed) by one node that defines spec.outputs; those outputs
/// must be outputs of removed nodes, so their Values and uses carry over.
Node* replace_nodes(Graph& graph, const std::vector<Node*>& old, NodeSpec spec);

}  // namespace kiln::passes
