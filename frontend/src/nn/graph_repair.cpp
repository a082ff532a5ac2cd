#include "kiln/frontend/nn/graph_repair.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "graph_repair_dynamo.h"
#include "kiln/runtime/op_registry.h"

namespace kiln::nn {
namespace {

bool is_op(const Node* n, std::string_view op) { return n && n->domain().empty() && n->op_type() == op; }
bool exporter_named(const std::string& name) { return name.rfind("onnx::", 0) == 0; }

// Identity(initializer) -> a new initializer named after the Identity's output.
void untie(Graph& g, TrainabilityReport& report) {
  for (Node* n : g.nodes()) {
    if (!is_op(n, "Identity") || !n->input(0) || !n->input(0)->initializer() || !n->output(0)) continue;
    const Value* source = n->input(0);
    const std::string name = n->output(0)->name();
    if (n->output(0)->is_graph_output()) continue;  // the graph returns the tensor itself
    Tensor copy = source->initializer()->clone();
    report.untied.push_back(fmt::format("{} (was shared with {})", name, source->name()));
    g.remove_node(n);
    g.add_initializer(name, std::move(copy));
  }
}

// MatMul(x, onnx::MatMul_N) + <layer>.bias  ->  <layer>.weight = onnx::MatMul_N^T, Transposed back.
void map_transposed_weights(Graph& g, TrainabilityReport& report) {
  for (Node* n : g.nodes()) {
    if (!is_op(n, "MatMul") || !n->input(1) || !n->input(1)->initializer() || !n->output(0)) continue;
    Value* w = n->input(1);
    if (!exporter_named(w->name()) || w->initializer()->rank() != 2 || w->uses().size() != 1) continue;
    const auto& uses = n->output(0)->uses();
    if (uses.size() != 1 || !is_op(uses[0].node, "Add")) continue;
    const Value* bias = uses[0].node->input(1 - uses[0].input_index);
    if (!bias || !bias->initializer() || exporter_named(bias->name())) continue;
    // "fc.bias" -> "fc.weight"; nn.MultiheadAttention's "in_proj_bias" -> "in_proj_weight".
    const std::string& b = bias->name();
    if (b.size() < 5 || (b.compare(b.size() - 5, 5, ".bias") != 0 && b.compare(b.size() - 5, 5, "_bias") != 0)) continue;
    const std::string weight = b.substr(0, b.size() - 4) + "weight";
    if (g.find_value(weight)) continue;
    const std::string old_name = w->name();
    Tensor transposed = w->initializer()->transpose(0, 1).contiguous();
    // The Transpose node takes over the old name, so every consumer stays as it was.
    Value* fresh = g.add_initializer(weight, std::move(transposed));
    Attributes perm;
    perm.set("perm", std::vector<int64_t>{1, 0});
    Value* moved = g.op1("Transpose", {fresh}, perm);
    g.replace_uses(w, moved);
    g.remove_initializer(w);
    report.mapped.push_back(fmt::format("{} <- {} (transposed)", weight, old_name));
  }
}

std::set<const Value*> batchnorm_statistics(const Graph& g) {
  std::set<const Value*> out;
  for (const Node* n : g.nodes())
    if (is_op(n, "BatchNormalization"))
      for (size_t i : {3, 4})
        if (n->input(i)) out.insert(n->input(i));
  return out;
}

// Inputs through which a weight flows into a linear op: what the exporter's renamed weights feed.
bool feeds_weight(const Value* v) {
  for (const Use& u : v->uses()) {
    const Node* n = u.node;
    if ((is_op(n, "MatMul") || is_op(n, "Gemm") || is_op(n, "Conv") || is_op(n, "ConvTranspose")) && u.input_index >= 1)
      return true;
    if (is_op(n, "Add") && n->input(1 - u.input_index) && n->input(1 - u.input_index)->producer() &&
        is_op(n->input(1 - u.input_index)->producer(), "MatMul"))
      return true;  // the bias of a MatMul
  }
  return false;
}

// Inputs that configure an op rather than carry data (Dropout's ratio, Clip's bounds...): a
// floating initializer used only there is a constant of the model, not a parameter.
bool only_configures(const Value* v) {
  auto configures = [](const Use& u) {
    const Node* n = u.node;
    if (is_op(n, "Dropout") || is_op(n, "Upsample")) return u.input_index >= 1;
    if (is_op(n, "Clip") || is_op(n, "Resize")) return u.input_index >= 1;
    if (is_op(n, "Pad")) return u.input_index == 2;
    return false;
  };
  return !v->uses().empty() && std::all_of(v->uses().begin(), v->uses().end(), configures);
}

// Nodes without a gradient between a trainable initializer and a graph output (on floating values).
void find_non_differentiable(const Graph& g, const std::set<const Value*>& trainable, TrainabilityReport& report) {
  std::set<const Value*> reached(trainable.begin(), trainable.end());
  for (const Node* n : g.topological_order()) {
    bool in = false;
    for (const Value* v : n->inputs()) in = in || (v && reached.count(v));
    if (!in) continue;
    bool floating_out = false;
    for (const Value* o : n->outputs())
      if (o && is_floating(o->dtype())) {
        reached.insert(o);
        floating_out = true;
      }
    const OpDef* def = OpRegistry::builtin().find(n->op_type(), n->domain());
    if (floating_out && (!def || !def->grad_fn())) report.non_differentiable.push_back(n->describe());
  }
}

}  // namespace

TrainabilityReport repair_for_training(Graph& graph, std::vector<std::pair<std::string, InitializerRole>>& roles) {
  TrainabilityReport report;
  untie(graph, report);
  map_transposed_weights(graph, report);
  repair_dynamo_export(graph, report);
  validate(graph);
  const std::set<const Value*> statistics = batchnorm_statistics(graph);
  std::set<const Value*> trainable;
  for (const Value* v : graph.initializers()) {
    if (!is_floating(v->dtype())) continue;
    InitializerRole role = InitializerRole::kParameter;
    if (statistics.count(v)) {
      role = InitializerRole::kBuffer;
    } else if (only_configures(v)) {
      role = InitializerRole::kConstant;
    } else if (dynamo_named(v->name())) {
      // A value the dynamo exporter made and no module parameter maps to: a constant (a scale,
      // an exponent, a mask's fill value), except the folded conv's new bias (trained as such).
      const bool folded = std::any_of(v->uses().begin(), v->uses().end(),
                                      [](const Use& u) { return batchnorm_folded_into(*u.node); });
      role = folded ? InitializerRole::kParameter : InitializerRole::kConstant;
      (folded ? report.unmapped_parameters : report.unmapped_constants).push_back(v->name());
    } else if (exporter_named(v->name())) {
      role = feeds_weight(v) && v->initializer()->numel() > 1 ? InitializerRole::kParameter : InitializerRole::kConstant;
      (role == InitializerRole::kParameter ? report.unmapped_parameters : report.unmapped_constants).push_back(v->name());
    }
    if (role == InitializerRole::kParameter) trainable.insert(v);
    roles.emplace_back(v->name(), role);
  }
  for (const Node* n : graph.nodes())
    if (is_op(n, "Conv") && n->input(1) && n->input(1)->initializer() && exporter_named(n->input(1)->name()))
      report.folded_batchnorm.push_back(
          fmt::format("{} ({}): a BatchNorm folded in at export; trained as the folded conv", n->input(1)->name(),
                      n->describe()));
  find_non_differentiable(graph, trainable, report);
  return report;
}

}  // namespace kiln::nn
