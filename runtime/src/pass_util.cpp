#include "pass_util.h"

namespace kiln::passes {

const Tensor* f32_constant(const Value* v) {
  const Tensor* t = v ? v->initializer() : nullptr;
  return t && t->dtype() == DType::kF32 ? t : nullptr;
}

bool single_use(const Value* v) { return v && v->uses().size() == 1 && !v->is_graph_output(); }

Node* only_user(const Value* v) { return v->uses().front().node; }

bool is_op(const Node* node, const char* op_type) {
  return node && node->domain().empty() && node->op_type() == op_type;
}

std::string unique_name(const Graph& graph, const std::string& stem) {
  if (!graph.find_value(stem)) return stem;
  for (size_t i = 1;; ++i) {
    std::string name = stem + "_" + std::to_string(i);
    if (!graph.find_value(name)) return name;
  }
}

std::string add_constant(Graph& graph, const std::string& stem, Tensor value) {
  std::string name = unique_name(graph, stem);
  graph.add_initializer(name, std::move(value));
  return name;
}

Node* replace_nodes(Graph& graph, const std::vector<Node*>& old, NodeSpec spec) {
  for (Node* n : old) graph.remove_node(n);
  return graph.add_node(std::move(spec));
}

}  // namespace kiln::passes
