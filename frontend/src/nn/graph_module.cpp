#include "kiln/frontend/nn/graph_module.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include "batch_norm_stats.h"
#include "kiln/runtime/autograd.h"
#include "kiln/runtime/eager.h"
#include "kiln/runtime/op_registry.h"

namespace kiln::nn {
namespace {

// A named level of PyTorch's module tree ("layer1", "0"): holds what is registered under it.
class ScopeImpl : public Module {
 public:
  ScopeImpl() : Module("Scope") {}
};

bool is_op(const Node& n, std::string_view op) { return n.domain().empty() && n.op_type() == op; }

std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
    parts.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(name.substr(start));
  return parts;
}

}  // namespace

GraphModuleImpl::GraphModuleImpl(Graph graph, Generator* dropout_generator)
    : Module("GraphModule"), graph_(std::move(graph)), dropout_generator_(dropout_generator) {
  validate(graph_);
  std::vector<std::pair<std::string, InitializerRole>> roles;
  report_ = repair_for_training(graph_, roles);
  for (const auto& [name, role] : roles) {
    if (role == InitializerRole::kConstant) continue;
    const Value* v = graph_.find_value(name);
    slots_[v] = &register_initializer(name, *v->initializer(), role);
  }
  for (const Node* n : graph_.topological_order()) order_.push_back(n);
}

// Registers under nested scopes: "layer1.0.conv1.weight" is parameter "weight" of module
// "layer1" -> "0" -> "conv1", as PyTorch names it. A name whose parts are empty or taken by a
// parameter stays whole, registered with its dots replaced (it cannot nest).
Tensor& GraphModuleImpl::register_initializer(const std::string& name, const Tensor& value, InitializerRole role) {
  std::vector<std::string> parts = split_dots(name);
  Module* scope = this;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto children = scope->named_children();
    if (std::shared_ptr<Module>* child = children.find(parts[i])) {
      scope = child->get();
      continue;
    }
    scope = scope->register_module(parts[i], std::make_shared<ScopeImpl>()).get();
  }
  Tensor t = value.clone();
  return role == InitializerRole::kBuffer ? scope->register_buffer(parts.back(), t)
                                          : scope->register_parameter(parts.back(), t, true);
}

void GraphModuleImpl::check_inputs(const std::vector<Tensor>& inputs) const {
  const auto& declared = graph_.inputs();
  std::vector<const Value*> real;  // graph inputs that are not initializers
  for (const Value* v : declared)
    if (!v->initializer()) real.push_back(v);
  if (inputs.size() != real.size()) {
    raise(ErrorCode::kInvalidArgument, "{}: the model takes {} inputs, {} were given", graph_.label(), real.size(),
          inputs.size());
  }
  std::map<std::string, int64_t> symbols;
  for (size_t i = 0; i < real.size(); ++i) {
    const Value* v = real[i];
    const Tensor& t = inputs[i];
    if (!t.defined()) raise(ErrorCode::kInvalidArgument, "{}: input '{}' is undefined", graph_.label(), v->name());
    if (t.dtype() != v->dtype()) {
      raise(ErrorCode::kInvalidArgument, "{}: input '{}' has dtype {}, the model expects {}", graph_.label(), v->name(),
            kiln::to_string(t.dtype()), kiln::to_string(v->dtype()));
    }
    const Shape& s = v->shape();
    if (!s.has_rank()) continue;
    bool fits = s.rank() == t.rank();
    for (size_t d = 0; fits && d < s.rank(); ++d) {
      const Dim& dim = s[d];
      if (dim.is_static()) {
        fits = dim.value() == t.shape()[d];
      } else if (!dim.symbol().empty()) {
        auto [it, fresh] = symbols.emplace(dim.symbol(), t.shape()[d]);
        fits = fresh || it->second == t.shape()[d];
      }
    }
    if (!fits) {
      raise(ErrorCode::kInvalidArgument, "{}: input '{}' has shape {}, the model expects {}", graph_.label(), v->name(),
            kiln::to_string(t.shape()), s.to_string());
    }
  }
}

std::vector<Tensor> GraphModuleImpl::run_node(const Node& node, const std::vector<Tensor>& in) {
  const int opset = graph_.opset(node.domain());
  if (is_training() && is_op(node, "BatchNormalization")) {
    // Batch statistics, and the running statistics updated as PyTorch does (ONNX momentum):
    // the op's running_var (biased batch variance) turned into PyTorch's (unbiased).
    const float momentum = node.attrs().get_float("momentum", 0.9f);
    const int64_t count = in[0].numel() / std::max<int64_t>(in[0].rank() > 1 ? in[0].dim(1) : 1, 1);
    if (count <= 1)
      raise(ErrorCode::kInvalidArgument,
            "{}: node '{}' (BatchNormalization): expected more than 1 value per channel when training, got "
            "input {}",
            graph_.label(), node.name(), kiln::to_string(in[0].shape()));
    Attributes a;
    a.set("epsilon", node.attrs().get_float("epsilon", 1e-5f));
    a.set("momentum", momentum);
    a.set("training_mode", int64_t{1});
    std::vector<Tensor> out = run_op("BatchNormalization", {in[0], in[1], in[2], in[3], in[4]}, a, 3, "", 15);
    out[2] = pytorch_running_var(out[2], in[4], momentum, count);
    NoGradGuard no_grad;
    for (size_t i : {3, 4})
      if (auto it = slots_.find(node.input(i)); it != slots_.end()) it->second->copy_from(out[i - 2].detach());
    out.resize(node.outputs().size());
    return out;
  }
  if (is_op(node, "BatchNormalization") && (node.attrs().get_int("training_mode", 0) != 0 || node.outputs().size() > 1)) {
    // A file exported in training mode, run in eval: running statistics, which the extra
    // outputs (the running statistics) pass through unchanged.
    Attributes a;
    a.set("epsilon", node.attrs().get_float("epsilon", 1e-5f));
    std::vector<Tensor> out{run_op("BatchNormalization", {in[0], in[1], in[2], in[3], in[4]}, a, 1, "", 15)[0]};
    out.resize(node.outputs().size());
    for (size_t i = 1; i < out.size() && i < 3; ++i) out[i] = in[i + 2];
    return out;
  }
  if (is_op(node, "Dropout")) {
    double p = node.attrs().get_float("ratio", 0.5f);
    if (in.size() > 1 && in[1].defined()) p = in[1].item<double>();
    const Tensor& x = in[0];
    std::vector<Tensor> out(node.outputs().size());
    if (!is_training() || p == 0 || !dropout_enabled_) {
      out[0] = x;
      if (out.size() > 1) out[1] = cast(full(x.shape(), 1.0, DType::kI64), DType::kBool);
      return out;
    }
    Generator& gen = dropout_generator_ ? *dropout_generator_ : default_generator();
    Tensor keep = greater(uniform(x.shape(), 0.0, 1.0, gen, x.dtype()), scalar_like(p, x).to(Device::host()));
    out[0] = x * (cast(keep, x.dtype()) * (1.0 / (1.0 - p))).to(x.device());
    if (out.size() > 1) out[1] = keep;
    return out;
  }
  return run_op(node.op_type(), in, node.attrs(), node.outputs().size(), node.domain(), opset);
}

std::vector<Tensor> GraphModuleImpl::forward_all(const std::vector<Tensor>& inputs) {
  check_inputs(inputs);
  std::map<const Value*, Tensor> values;
  size_t next = 0;
  for (const Value* v : graph_.inputs())
    if (!v->initializer()) values[v] = inputs[next++];
  auto value_of = [&](const Value* v) -> Tensor {
    if (!v) return Tensor();
    if (auto it = slots_.find(v); it != slots_.end()) return *it->second;
    if (auto it = values.find(v); it != values.end()) return it->second;
    if (v->initializer()) return *v->initializer();
    raise(ErrorCode::kInternal, "{}: value '{}' was not computed", graph_.label(), v->name());
  };
  for (const Node* n : order_) {
    std::vector<Tensor> in;
    for (const Value* v : n->inputs()) in.push_back(value_of(v));
    std::vector<Tensor> out;
    try {
      out = run_node(*n, in);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{}: {}: {}", graph_.label(), n->describe(), e.what()));
    }
    for (size_t i = 0; i < n->outputs().size(); ++i)
      if (n->output(i)) values[n->output(i)] = out[i];
  }
  std::vector<Tensor> outputs;
  for (const Value* v : graph_.outputs()) outputs.push_back(value_of(v));
  return outputs;
}

std::map<std::string, Tensor> GraphModuleImpl::forward_named(const std::map<std::string, Tensor>& inputs) {
  std::vector<Tensor> ordered;
  size_t used = 0;
  for (const Value* v : graph_.inputs()) {
    if (v->initializer()) continue;
    auto it = inputs.find(v->name());
    if (it == inputs.end()) raise(ErrorCode::kInvalidArgument, "{}: input '{}' is missing", graph_.label(), v->name());
    ordered.push_back(it->second);
    ++used;
  }
  if (used != inputs.size()) {
    for (const auto& [name, t] : inputs) {
      const Value* v = graph_.find_value(name);
      if (!v || !v->is_graph_input() || v->initializer())
        raise(ErrorCode::kInvalidArgument, "{}: the model has no input '{}'", graph_.label(), name);
    }
  }
  std::vector<Tensor> outs = forward_all(ordered);
  std::map<std::string, Tensor> named;
  for (size_t i = 0; i < outs.size(); ++i) named[graph_.outputs()[i]->name()] = outs[i];
  return named;
}

Tensor GraphModuleImpl::forward(const Tensor& input) {
  if (graph_.outputs().size() != 1) {
    raise(ErrorCode::kInvalidArgument, "{}: forward(x) needs a model with one output; it has {} (use forward_all)",
          graph_.label(), graph_.outputs().size());
  }
  return forward_all({input})[0];
}

size_t GraphModuleImpl::freeze(const std::string& glob) {
  size_t matched = 0;
  for (auto& item : named_parameters()) {
    if (fnmatch(glob.c_str(), item.first.c_str(), 0) != 0) continue;
    item.second.set_requires_grad(false);
    ++matched;
  }
  return matched;
}

size_t GraphModuleImpl::train_only(const std::string& glob) {
  size_t matched = 0;
  for (auto& item : named_parameters()) {
    const bool keep = fnmatch(glob.c_str(), item.first.c_str(), 0) == 0;
    item.second.set_requires_grad(keep);
    matched += keep;
  }
  return matched;
}

std::vector<Tensor> GraphModuleImpl::trainable_parameters() const {
  std::vector<Tensor> out;
  for (const auto& item : named_parameters())
    if (item.second.requires_grad()) out.push_back(item.second);
  return out;
}

std::vector<std::string> GraphModuleImpl::trainable_names() const {
  std::vector<std::string> out;
  for (const auto& item : named_parameters())
    if (item.second.requires_grad()) out.push_back(item.first);
  return out;
}

std::vector<std::string> GraphModuleImpl::frozen_names() const {
  std::vector<std::string> out;
  for (const auto& item : named_parameters())
    if (!item.second.requires_grad()) out.push_back(item.first);
  return out;
}

Graph GraphModuleImpl::to_graph(ExportForm form) const {
  Graph g = graph_.clone();
  for (const auto& [value, tensor] : slots_)
    g.set_initializer(g.find_value(value->name()), tensor->detach().to(Device::host()));
  if (form == ExportForm::kInference) {
    // Dropout becomes an Identity, which keeps the value's name (it may be a graph output).
    for (Node* n : g.nodes()) {
      if (!is_op(*n, "Dropout") || !n->output(0)) continue;
      if (n->output(1) && !n->output(1)->uses().empty()) continue;  // the mask is read: keep the node
      const std::string in = n->input(0)->name(), out = n->output(0)->name(), name = n->name();
      g.remove_node(n);
      g.add_node({"Identity", {in}, {out}, {}, name});
    }
    g.remove_dead_nodes();
    for (Value* v : g.initializers())
      if (v->uses().empty() && !v->is_graph_output() && !v->is_graph_input()) g.remove_initializer(v);
  }
  validate(g);
  return g;
}

std::string GraphModuleImpl::extra_repr() const {
  return fmt::format("graph={}, nodes={}, parameters={}", graph_.label(), order_.size(), parameters().size());
}

}  // namespace kiln::nn
