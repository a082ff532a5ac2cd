#include "kiln/runtime/autograd.h"

#include <map>
#include <unordered_map>
#include <unordered_set>

#include "kiln/runtime/eager.h"

namespace kiln {

// Where an input's gradient goes: the node that produced it, or the leaf's own state.
struct GradEdge {
  std::shared_ptr<GradNode> node;
  size_t output_nr = 0;
  std::shared_ptr<AutogradMeta> leaf;
};

// One recorded op call. Saved tensors are detached, so nodes never own their outputs' state
// (no reference cycles); edges own the producers, so the tape lives as long as its outputs.
struct GradNode {
  const OpDef* def = nullptr;
  int opset = kLatestOpset;
  Attributes attrs;
  std::vector<Tensor> inputs, outputs;
  std::vector<GradEdge> next;  // one per input; empty edge: no gradient wanted
  bool released = false;
};

namespace {

thread_local bool grad_enabled = true;

bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

GradEdge edge_of(const Tensor& t) {
  if (!wants_grad(t)) return {};
  const auto& meta = t.autograd_meta();
  if (meta->grad_fn) return {meta->grad_fn, meta->output_nr, nullptr};
  return {nullptr, 0, meta};
}

Tensor add_grads(const Tensor& a, const Tensor& b) { return a.defined() ? run_op1("Add", {a, b}) : b; }

}  // namespace

bool GradMode::enabled() { return grad_enabled; }
void GradMode::set_enabled(bool enabled) { grad_enabled = enabled; }

// ---- Tensor's autograd members ----

bool Tensor::requires_grad() const { return autograd_ && autograd_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  if (!defined()) raise(ErrorCode::kInvalidArgument, "set_requires_grad: tensor is undefined");
  if (autograd_ && autograd_->grad_fn) {
    raise(ErrorCode::kInvalidArgument,
          "set_requires_grad: tensor was produced by {} and is not a leaf; use detach() first",
          autograd_->grad_fn->def->name());
  }
  if (requires_grad && !is_floating(dtype_)) {
    raise(ErrorCode::kInvalidArgument, "set_requires_grad: only floating tensors can require grad, not {}",
          kiln::to_string(dtype_));
  }
  if (!autograd_) autograd_ = std::make_shared<AutogradMeta>();
  autograd_->requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return !autograd_ || !autograd_->grad_fn; }

Tensor Tensor::grad() const { return autograd_ ? autograd_->grad : Tensor(); }

void Tensor::set_grad(Tensor grad) {
  if (grad.defined() && (grad.shape() != shape_ || grad.dtype() != dtype_)) {
    raise(ErrorCode::kInvalidArgument, "set_grad: gradient {} {} does not match the tensor's {} {}",
          kiln::to_string(grad.dtype()), kiln::to_string(grad.shape()), kiln::to_string(dtype_),
          kiln::to_string(shape_));
  }
  if (!autograd_) autograd_ = std::make_shared<AutogradMeta>();
  autograd_->grad = std::move(grad);
}

std::string Tensor::grad_fn_name() const {
  return autograd_ && autograd_->grad_fn ? autograd_->grad_fn->def->name() : std::string();
}

void Tensor::backward() const { backward(Tensor()); }

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph);
}

Tensor Tensor::detach() const { return alias(); }

// ---- GradContext ----

GradContext::GradContext(const GradNode& node, std::vector<Tensor> output_grads, std::vector<bool> needs_input_grad)
    : node_(node),
      output_grads_(std::move(output_grads)),
      needs_input_grad_(std::move(needs_input_grad)),
      input_grads_(node.inputs.size()) {}

const OpDef& GradContext::def() const { return *node_.def; }
int GradContext::opset() const { return node_.opset; }
const Attributes& GradContext::attrs() const { return node_.attrs; }

namespace {
const Attribute& required_attr(const GradNode& node, std::string_view name) {
  const Attribute* a = node.attrs.find(name);
  if (!a) raise(ErrorCode::kInternal, "{} gradient: attribute '{}' is not set", node.def->name(), name);
  return *a;
}
}  // namespace

int64_t GradContext::attr_int(std::string_view name) const {
  required_attr(node_, name);
  return node_.attrs.get_int(name, 0, node_.def->name());
}
float GradContext::attr_float(std::string_view name) const {
  required_attr(node_, name);
  return node_.attrs.get_float(name, 0, node_.def->name());
}
std::vector<int64_t> GradContext::attr_ints(std::string_view name) const {
  required_attr(node_, name);
  return node_.attrs.get_ints(name, {}, node_.def->name());
}
std::string GradContext::attr_string(std::string_view name) const {
  required_attr(node_, name);
  return node_.attrs.get_string(name, {}, node_.def->name());
}

size_t GradContext::num_inputs() const { return node_.inputs.size(); }
size_t GradContext::num_outputs() const { return node_.outputs.size(); }
const Tensor& GradContext::input(size_t i) const { return node_.inputs.at(i); }

std::vector<int64_t> GradContext::input_ints(size_t i) const {
  const Tensor& t = input(i);
  if (!t.defined()) fail(fmt::format("input {} is absent", i));
  Tensor host = t.to(Device::host());
  if (t.dtype() == DType::kI64) return host.to_vector<int64_t>();
  if (t.dtype() == DType::kI32) {
    std::vector<int64_t> out;
    for (int32_t v : host.to_vector<int32_t>()) out.push_back(v);
    return out;
  }
  fail(fmt::format("input {} has dtype {}, expected i64 or i32", i, to_string(t.dtype())));
}

const Tensor& GradContext::output(size_t i) const { return node_.outputs.at(i); }

bool GradContext::has_output_grad(size_t i) const { return i < output_grads_.size() && output_grads_[i].defined(); }

Tensor GradContext::output_grad(size_t i) const {
  if (has_output_grad(i)) return output_grads_[i];
  const Tensor& out = output(i);
  return Tensor::zeros(out.shape(), out.dtype(), out.device());
}

bool GradContext::needs_input_grad(size_t i) const { return i < needs_input_grad_.size() && needs_input_grad_[i]; }

void GradContext::set_input_grad(size_t i, Tensor grad) {
  if (!needs_input_grad(i) || !grad.defined()) return;
  const Tensor& in = input(i);
  if (grad.shape() != in.shape() || grad.dtype() != in.dtype()) {
    raise(ErrorCode::kInternal, "{} gradient: input {} got a gradient {} {}, expected {} {}", def().name(), i,
          to_string(grad.dtype()), to_string(grad.shape()), to_string(in.dtype()), to_string(in.shape()));
  }
  input_grads_.at(i) = std::move(grad);
}

void GradContext::fail(const std::string& message) const {
  raise(ErrorCode::kInvalidArgument, "{} gradient: {}", def().name(), message);
}

// ---- Recording ----

namespace autograd {

void record(const OpDef& def, int opset, const Attributes& attrs, const std::vector<Tensor>& inputs,
            std::vector<Tensor>& outputs) {
  if (!GradMode::enabled()) return;
  bool any = false;
  for (const Tensor& t : inputs) any = any || wants_grad(t);
  if (!any) return;
  auto node = std::make_shared<GradNode>();
  node->def = &def;
  node->opset = opset;
  node->attrs = attrs;
  for (const Tensor& t : inputs) {
    node->inputs.push_back(t.defined() ? t.detach() : Tensor());
    node->next.push_back(edge_of(t));
  }
  for (const Tensor& t : outputs) node->outputs.push_back(t.defined() ? t.detach() : Tensor());
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k].defined() || !is_floating(outputs[k].dtype())) continue;
    auto meta = std::make_shared<AutogradMeta>();
    meta->requires_grad = true;
    meta->grad_fn = node;
    meta->output_nr = k;
    outputs[k].set_autograd_meta(std::move(meta));
  }
}

Tensor record_view(const Tensor& base, Tensor view, std::string_view op, std::vector<Tensor> extra_inputs,
                   Attributes attrs) {
  const OpDef* def = OpRegistry::builtin().find(op);
  if (!def) raise(ErrorCode::kInternal, "record_view: op '{}' is not in the registry", op);
  for (const AttrSpec& spec : def->attr_specs())
    if (!attrs.has(spec.name) && spec.default_value) attrs.set(spec.name, *spec.default_value);
  std::vector<Tensor> inputs{base};
  for (Tensor& t : extra_inputs) inputs.push_back(std::move(t));
  std::vector<Tensor> outputs{std::move(view)};
  record(*def, kLatestOpset, attrs, inputs, outputs);
  return std::move(outputs[0]);
}

// ---- Backward ----

namespace {

// Every node reachable from the roots, with how many edges from other reachable nodes point
// at it: a node runs once all of its consumers have passed their gradients on.
std::unordered_map<GradNode*, size_t> count_dependencies(const std::vector<GradNode*>& roots) {
  std::unordered_map<GradNode*, size_t> deps;
  std::vector<GradNode*> stack;
  for (GradNode* r : roots)
    if (deps.emplace(r, 0).second) stack.push_back(r);
  while (!stack.empty()) {
    GradNode* n = stack.back();
    stack.pop_back();
    for (const GradEdge& e : n->next) {
      if (!e.node) continue;
      auto [it, fresh] = deps.emplace(e.node.get(), 0);
      ++it->second;
      if (fresh) stack.push_back(e.node.get());
    }
  }
  return deps;
}

void accumulate_leaf(AutogradMeta& leaf, const Tensor& grad) { leaf.grad = add_grads(leaf.grad, grad); }

Tensor seed_for(const Tensor& root, const Tensor& given) {
  if (!given.defined()) {
    if (root.numel() != 1) {
      raise(ErrorCode::kInvalidArgument,
            "backward: a gradient can be implied only for a tensor with one element; this one has shape {}",
            to_string(root.shape()));
    }
    if (root.dtype() == DType::kF64) return Tensor::from_vector<double>(root.shape(), {1.0}).to(root.device());
    if (root.dtype() == DType::kF32) return Tensor::from_vector<float>(root.shape(), {1.0f}).to(root.device());
    raise(ErrorCode::kUnsupported, "backward: an implied gradient for dtype {} is not supported; pass one",
          to_string(root.dtype()));
  }
  if (given.shape() != root.shape() || given.dtype() != root.dtype()) {
    raise(ErrorCode::kInvalidArgument, "backward: gradient {} {} does not match the tensor's {} {}",
          to_string(given.dtype()), to_string(given.shape()), to_string(root.dtype()), to_string(root.shape()));
  }
  return given.clone();  // the caller's tensor never becomes (part of) a leaf's .grad
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;  // gradient formulas are not themselves recorded
  std::unordered_map<GradNode*, std::vector<Tensor>> pending;  // output grads per node
  std::vector<GradNode*> starts;
  std::vector<std::shared_ptr<GradNode>> keep;  // roots' nodes stay alive during the walk
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    if (!wants_grad(root)) {
      raise(ErrorCode::kInvalidArgument,
            "backward: tensor does not require grad (no input of the ops that made it requires grad)");
    }
    Tensor seed = seed_for(root, i < grads.size() ? grads[i] : Tensor());
    const auto& meta = root.autograd_meta();
    if (!meta->grad_fn) {
      accumulate_leaf(*meta, seed);
      continue;
    }
    GradNode* n = meta->grad_fn.get();
    keep.push_back(meta->grad_fn);
    auto& slots = pending[n];
    slots.resize(n->outputs.size());
    slots[meta->output_nr] = add_grads(slots[meta->output_nr], seed);
    starts.push_back(n);
  }
  std::unordered_map<GradNode*, size_t> deps = count_dependencies(starts);
  std::vector<GradNode*> ready;
  for (GradNode* n : starts)
    if (deps[n] == 0 && std::find(ready.begin(), ready.end(), n) == ready.end()) ready.push_back(n);
  while (!ready.empty()) {
    GradNode* n = ready.back();
    ready.pop_back();
    if (n->released) {
      raise(ErrorCode::kInvalidArgument,
            "backward: the graph through {} was already freed by an earlier backward; pass retain_graph=true "
            "to the first backward to go through it twice",
            n->def->name());
    }
    std::vector<bool> needs;
    for (const GradEdge& e : n->next) needs.push_back(e.node || e.leaf);
    std::vector<Tensor> out_grads = std::move(pending[n]);
    pending.erase(n);
    out_grads.resize(n->outputs.size());
    GradContext ctx(*n, std::move(out_grads), needs);
    if (!n->def->grad_fn()) {
      raise(ErrorCode::kUnsupported, "backward: op {} has no gradient defined, but an input of it requires grad",
            n->def->name());
    }
    n->def->grad_fn()(ctx);
    for (size_t i = 0; i < n->next.size(); ++i) {
      const GradEdge& e = n->next[i];
      const Tensor& g = ctx.input_grads()[i];
      if (e.leaf) {
        if (g.defined()) accumulate_leaf(*e.leaf, g);
        continue;
      }
      if (!e.node) continue;
      GradNode* producer = e.node.get();
      if (g.defined()) {
        auto& slots = pending[producer];
        slots.resize(producer->outputs.size());
        slots[e.output_nr] = add_grads(slots[e.output_nr], g);
      }
      if (--deps[producer] == 0) ready.push_back(producer);
    }
    if (!retain_graph) {
      n->inputs.assign(n->inputs.size(), Tensor());
      n->outputs.assign(n->outputs.size(), Tensor());
      n->released = true;
    }
  }
}

}  // namespace autograd
}  // namespace kiln
