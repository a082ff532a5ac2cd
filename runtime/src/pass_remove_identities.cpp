// Nodes that return their input unchanged: Identity, and a Pad whose pads are all zero (PyTorch
// exports AvgPool2d with one). Their consumers read the input instead, saving a copy per run.
#include <vector>

#include "kiln/runtime/passes.h"
#include "pass_util.h"

namespace kiln {
namespace {

bool all_zero(const std::vector<int64_t>& v) {
  for (int64_t x : v)
    if (x != 0) return false;
  return true;
}

bool is_identity(const Graph& graph, const Node& n) {
  if (passes::is_op(&n, "Identity")) return true;
  if (!passes::is_op(&n, "Pad")) return false;
  if (graph.opset("") < 11) return all_zero(n.attrs().get_ints("pads", {}));
  const Tensor* pads = n.input(1) ? n.input(1)->initializer() : nullptr;
  return pads && pads->dtype() == DType::kI64 && all_zero(pads->to_vector<int64_t>());
}

}  // namespace

size_t remove_identities(Graph& graph) {
  size_t removed = 0;
  for (Node* node : graph.nodes()) {
    Value* in = node->input(0);
    Value* out = node->output(0);
    // A graph output keeps its name, so its producer stays.
    if (!in || !out || out->is_graph_output() || node->outputs().size() != 1 || !is_identity(graph, *node)) continue;
    graph.replace_uses(out, in);
    graph.remove_node(node);
    ++removed;
  }
  return removed;
}

}  // namespace kiln
