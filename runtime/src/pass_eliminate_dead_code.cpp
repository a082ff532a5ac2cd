// Dead-code elimination, and the inference pipeline that runs every pass.
#include <set>

#include "kiln/runtime/backend.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/passes.h"

namespace kiln {
namespace {

// A copy of graph without the initializers in `drop` (Graph has no way to remove one in place).
Graph without_initializers(const Graph& graph, const std::set<const Value*>& drop) {
  Graph g;
  for (const auto& [domain, version] : graph.opsets()) g.set_opset(domain, version);
  g.set_label(graph.label());
  for (const Value* in : graph.inputs()) g.add_input(in->name(), in->dtype(), in->shape());
  for (const Value* init : graph.initializers())
    if (!drop.count(init)) g.add_initializer(init->name(), *init->initializer());
  for (const Node* n : graph.nodes()) {
    NodeSpec spec{n->op_type(), {}, {}, n->attrs(), n->name(), n->domain()};
    for (const Value* v : n->inputs()) spec.inputs.push_back(v ? v->name() : "");
    for (const Value* v : n->outputs()) spec.outputs.push_back(v ? v->name() : "");
    g.add_node(std::move(spec));
  }
  for (const Value* out : graph.outputs()) g.add_output(out->name());
  for (const Node* n : graph.nodes())  // keep inferred types
    for (const Value* v : n->outputs())
      if (v) g.find_value(v->name())->set_type(v->dtype(), v->shape());
  return g;
}

}  // namespace

size_t eliminate_dead_code(Graph& graph) {
  size_t removed = graph.remove_dead_nodes();
  std::set<const Value*> unused;
  for (const Value* v : graph.initializers())
    if (v->uses().empty() && !v->is_graph_output()) unused.insert(v);
  if (!unused.empty()) graph = without_initializers(graph, unused);
  return removed + unused.size();
}

namespace {

PassReport run_pipeline(Graph& graph, BackendRegistry* registry) {
  validate(graph);
  PassReport report;
  auto step = [&](const char* name, size_t changed) { report.changes.emplace_back(name, changed); };
  step("fold_constants", registry ? fold_constants(graph, *registry) : fold_constants(graph));
  step("eliminate_dead_code", eliminate_dead_code(graph));
  step("fold_batch_norm", fold_batch_norm(graph));
  step("fuse_bias_activation", fuse_bias_activation(graph));
  step("eliminate_dead_code", eliminate_dead_code(graph));
  validate(graph);
  return report;
}

}  // namespace

PassReport optimize_for_inference(Graph& graph, BackendRegistry& registry) {
  return run_pipeline(graph, &registry);
}

PassReport optimize_for_inference(Graph& graph) { return run_pipeline(graph, nullptr); }

}  // namespace kiln
