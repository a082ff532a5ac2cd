// apply_freezing and preflight (driver.h): what `kiln info MODEL --train` prints and what
// `kiln train` checks before its first step.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fnmatch.h>

#include <set>

#include "kiln/runtime/op_registry.h"
#include "kiln/train/driver.h"

namespace kiln::train {
namespace {

bool matches(const std::string& glob, const std::string& name) {
  return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

std::string described(const std::string& name, const Tensor& t) {
  return fmt::format("{} {}", name, kiln::to_string(t.shape()));
}

// Nodes without a gradient that lie between a trainable parameter and a graph output, on
// floating values (index and shape computations carry no gradient and need none).
std::vector<std::string> non_differentiable(const Graph& g, const std::set<std::string>& trainable) {
  std::set<const Value*> from_params;
  for (const Value* v : g.initializers())
    if (trainable.count(v->name())) from_params.insert(v);
  std::vector<const Node*> order;
  for (const Node* n : g.topological_order()) order.push_back(n);
  for (const Node* n : order) {
    bool in = false;
    for (const Value* v : n->inputs()) in = in || (v && from_params.count(v));
    if (!in) continue;
    for (const Value* o : n->outputs())
      if (o && is_floating(o->dtype())) from_params.insert(o);
  }
  std::set<const Value*> to_output(g.outputs().begin(), g.outputs().end());
  std::vector<std::string> out;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Node* n = *it;
    bool feeds = false, floating_from_params = false;
    for (const Value* o : n->outputs()) {
      feeds = feeds || (o && to_output.count(o));
      floating_from_params = floating_from_params || (o && from_params.count(o) && is_floating(o->dtype()));
    }
    if (!feeds) continue;
    for (const Value* v : n->inputs())
      if (v) to_output.insert(v);
    if (!floating_from_params) continue;
    const OpDef* def = OpRegistry::builtin().find(n->op_type(), n->domain());
    if (!def || !def->grad_fn()) out.push_back(n->describe());
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

FreezeResult apply_freezing(nn::GraphModule& module, const std::vector<std::string>& freeze,
                            const std::vector<std::string>& train_only) {
  std::vector<size_t> freeze_hits(freeze.size()), train_hits(train_only.size());
  for (auto& item : module->named_parameters()) {
    bool trainable = train_only.empty();
    for (size_t i = 0; i < train_only.size(); ++i)
      if (matches(train_only[i], item.first)) trainable = true, ++train_hits[i];
    for (size_t i = 0; i < freeze.size(); ++i)
      if (matches(freeze[i], item.first)) trainable = false, ++freeze_hits[i];
    item.second.set_requires_grad(trainable);
  }
  FreezeResult r;
  for (size_t i = 0; i < freeze.size(); ++i)
    if (!freeze_hits[i]) r.unmatched.push_back(fmt::format("--freeze '{}'", freeze[i]));
  for (size_t i = 0; i < train_only.size(); ++i)
    if (!train_hits[i]) r.unmatched.push_back(fmt::format("--train-only '{}'", train_only[i]));
  return r;
}

PreflightReport preflight(const nn::GraphModule& module, const FreezeResult& freezing) {
  PreflightReport r;
  std::set<std::string> trainable;
  for (const auto& item : module->named_parameters()) {
    if (item.second.requires_grad()) {
      trainable.insert(item.first);
      r.trainable.push_back(described(item.first, item.second));
    } else {
      r.frozen.push_back(described(item.first, item.second));
    }
  }
  for (const auto& item : module->named_buffers()) r.buffers.push_back(described(item.first, item.second));
  const nn::TrainabilityReport& rep = module->report();
  r.unmapped_constants = rep.unmapped_constants;
  r.unmapped_parameters = rep.unmapped_parameters;
  r.non_differentiable = non_differentiable(module->graph(), trainable);
  for (const std::string& s : rep.untied) r.notes.push_back("untied: " + s);
  for (const std::string& s : rep.mapped) r.notes.push_back("mapped: " + s);
  for (const std::string& s : rep.folded_batchnorm) r.notes.push_back("folded BatchNorm: " + s);
  for (const std::string& s : rep.unmapped_parameters)
    r.notes.push_back("unmapped: " + s + " is trained under its ONNX name (PyTorch has no name for it)");
  for (const std::string& s : rep.missing_parameters)
    r.notes.push_back(
        "missing: " + s +
        " is a parameter of the PyTorch module that the file no longer has (the exporter folded or "
        "dropped it); not trained");
  for (const std::string& g : freezing.unmatched)
    r.notes.push_back("warning: " + g + " matches no parameter");
  if (trainable.empty()) {
    r.problems.push_back(
        module->named_parameters().empty()
            ? "the model has no parameters to train"
            : fmt::format("every parameter is frozen ({} frozen); nothing would train", r.frozen.size()));
  }
  if (!r.non_differentiable.empty()) {
    r.problems.push_back(
        fmt::format("ops without a gradient lie between the trainable parameters and the output: {} (freeze "
                    "the parameters "
                    "before them, e.g. --train-only on the layers after them)",
                    fmt::join(r.non_differentiable, ", ")));
  }
  return r;
}

}  // namespace kiln::train
