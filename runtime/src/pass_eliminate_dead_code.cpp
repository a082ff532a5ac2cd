// Dead-code elimination, and the inference pipeline that runs every pass.
#include "kiln/runtime/backend.h"
#include "kiln/runtime/op_registry.h"
#include "kiln/runtime/passes.h"

namespace kiln {
size_t eliminate_dead_code(Graph& graph) {
  size_t removed = graph.remove_dead_nodes();
  for (Value* v : graph.initializers())
    if (v->uses().empty() && !v->is_graph_output() && !v->is_graph_input()) {
      graph.remove_initializer(v);
      ++removed;
    }
  return removed;
}

namespace {

PassReport run_pipeline(Graph& graph, BackendRegistry* registry) {
  validate(graph);
  PassReport report;
  auto step = [&](const char* name, size_t changed) { report.changes.emplace_back(name, changed); };
  step("fold_constants", registry ? fold_constants(graph, *registry) : fold_constants(graph));
  step("eliminate_dead_code", eliminate_dead_code(graph));
  step("remove_identities", remove_identities(graph));
  step("fold_batch_norm", fold_batch_norm(graph));
  step("fuse_gelu", fuse_gelu(graph));
  step("fuse_bias_activation", fuse_bias_activation(graph));
  step("use_channels_last", use_channels_last(graph));
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
