#include "kiln/runtime/graph.h"

#include <algorithm>
#include <deque>
#include <set>

#include "kiln/runtime/error.h"

namespace kiln {

std::string Node::describe() const { return fmt::format("node '{}' ({})", name_, op_type_); }

Value* Graph::value_named(const std::string& name) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  values_.push_back(std::unique_ptr<Value>(new Value(name)));
  Value* v = values_.back().get();
  by_name_.emplace(name, v);
  return v;
}

std::string Graph::fresh_name(std::string_view stem) {
  std::string name;
  do {
    name = fmt::format("{}_{}", stem, counter_++);
  } while (by_name_.count(name));
  return name;
}

namespace {
bool is_defined(const Value& v) {
  return v.producer() != nullptr || v.is_graph_input() || v.initializer() != nullptr;
}
}  // namespace

Value* Graph::add_input(const std::string& name, DType dtype, Shape shape) {
  Value* v = value_named(name);
  if (is_defined(*v)) raise(ErrorCode::kInvalidArgument, "{}: input '{}' is already defined", label_, name);
  v->is_input_ = true;
  v->set_type(dtype, std::move(shape));
  inputs_.push_back(v);
  return v;
}

Value* Graph::add_initializer(const std::string& name, Tensor value) {
  if (!value.defined()) raise(ErrorCode::kInvalidArgument, "{}: initializer '{}' has no data", label_, name);
  Value* v = value_named(name);
  if (is_defined(*v)) raise(ErrorCode::kInvalidArgument, "{}: initializer '{}' is already defined", label_, name);
  v->set_type(value.dtype(), Shape::of(value.shape()));
  v->initializer_ = std::move(value);
  return v;
}

Node* Graph::add_node(NodeSpec spec) {
  auto node = std::make_unique<Node>();
  node->op_type_ = std::move(spec.op_type);
  node->domain_ = std::move(spec.domain);
  node->name_ = spec.name.empty() ? fresh_name(node->op_type_) : std::move(spec.name);
  node->attrs_ = std::move(spec.attrs);
  node->metadata_ = std::move(spec.metadata);
  if (std::all_of(spec.outputs.begin(), spec.outputs.end(), [](const std::string& o) { return o.empty(); }))
    raise(ErrorCode::kInvalidArgument, "{}: {} has no outputs", label_, node->describe());
  for (const std::string& name : spec.outputs) {
    if (name.empty()) {  // an omitted optional output, as ONNX writes it
      node->outputs_.push_back(nullptr);
      continue;
    }
    Value* v = value_named(name);
    if (is_defined(*v))
      raise(ErrorCode::kInvalidArgument, "{}: {}: output '{}' is already defined (the graph must be SSA)", label_,
            node->describe(), name);
    v->producer_ = node.get();
    v->producer_output_ = node->outputs_.size();
    node->outputs_.push_back(v);
  }
  for (const std::string& name : spec.inputs) {
    if (name.empty()) {
      node->inputs_.push_back(nullptr);
      continue;
    }
    Value* v = value_named(name);
    v->uses_.push_back({node.get(), node->inputs_.size()});
    node->inputs_.push_back(v);
  }
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

void Graph::add_output(const std::string& name) {
  Value* v = value_named(name);
  v->is_output_ = true;
  outputs_.push_back(v);
}

std::vector<Value*> Graph::op(const std::string& op_type, const std::vector<Value*>& inputs, Attributes attrs,
                              size_t num_outputs) {
  NodeSpec spec{op_type, {}, {}, std::move(attrs)};
  for (Value* v : inputs) spec.inputs.push_back(v ? v->name() : "");
  for (size_t i = 0; i < num_outputs; ++i) spec.outputs.push_back(fresh_name(op_type + "_out"));
  Node* node = add_node(std::move(spec));
  return node->outputs();
}

void Graph::replace_uses(Value* from, Value* to) {
  for (const Use& use : from->uses_) {
    use.node->inputs_[use.input_index] = to;
    to->uses_.push_back(use);
  }
  from->uses_.clear();
  for (Value*& out : outputs_) {
    if (out == from) {
      out = to;
      to->is_output_ = true;
      from->is_output_ = false;
    }
  }
}

void Graph::remove_node(Node* node) {
  for (size_t i = 0; i < node->inputs_.size(); ++i) {
    Value* in = node->inputs_[i];
    if (!in) continue;
    auto& uses = in->uses_;
    uses.erase(std::remove_if(uses.begin(), uses.end(), [&](const Use& u) { return u.node == node; }), uses.end());
  }
  for (Value* out : node->outputs_)
    if (out) out->producer_ = nullptr;
  nodes_.erase(std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n.get() == node; }));
}

void Graph::set_initializer(Value* value, Tensor tensor) {
  if (!value->initializer_) raise(ErrorCode::kInvalidArgument, "{}: '{}' is not an initializer", label_, value->name());
  if (tensor.dtype() != value->initializer_->dtype() || tensor.shape() != value->initializer_->shape()) {
    raise(ErrorCode::kInvalidArgument, "{}: initializer '{}' is {} {}, the new value {} {}", label_, value->name(),
          to_string(value->initializer_->dtype()), to_string(value->initializer_->shape()), to_string(tensor.dtype()),
          to_string(tensor.shape()));
  }
  value->initializer_ = std::move(tensor);
}

void Graph::remove_initializer(Value* value) {
  if (!value->initializer_ || !value->uses_.empty() || value->is_output_ || value->is_input_)
    raise(ErrorCode::kInvalidArgument, "{}: '{}' is not an unused initializer", label_, value->name());
  by_name_.erase(value->name());
  values_.erase(std::find_if(values_.begin(), values_.end(), [&](const auto& v) { return v.get() == value; }));
}

size_t Graph::remove_dead_nodes() {
  size_t removed = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = nodes_.size(); i-- > 0;) {
      Node* n = nodes_[i].get();
      bool live = std::any_of(n->outputs_.begin(), n->outputs_.end(),
                              [](const Value* v) { return v && (!v->uses().empty() || v->is_graph_output()); });
      if (!live) {
        remove_node(n);
        ++removed;
        changed = true;
      }
    }
  }
  return removed;
}

Value* Graph::find_value(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<Value*> Graph::initializers() const {
  std::vector<Value*> out;
  for (const auto& v : values_)
    if (v->initializer_) out.push_back(v.get());
  return out;
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

std::vector<Node*> Graph::topological_order() const {
  // Kahn's algorithm over node->node edges; a min-heap on insertion index keeps ties stable.
  std::map<const Node*, size_t> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;
  std::vector<size_t> pending(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (const Value* in : nodes_[i]->inputs_)
      if (in && in->producer_ && index.count(in->producer_)) ++pending[i];
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (pending[i] == 0) ready.insert(i);
  std::vector<Node*> order;
  order.reserve(nodes_.size());
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    Node* n = nodes_[i].get();
    order.push_back(n);
    for (const Value* out : n->outputs_)
      for (const Use& use : out ? out->uses_ : std::vector<Use>{}) {
        size_t j = index.at(use.node);
        if (--pending[j] == 0) ready.insert(j);
      }
  }
  if (order.size() != nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (pending[i] != 0)
        raise(ErrorCode::kInvalidArgument, "{}: the graph has a cycle through {}", label_, nodes_[i]->describe());
  }
  return order;
}

int Graph::opset(const std::string& domain) const {
  auto it = opsets_.find(domain);
  if (it == opsets_.end())
    raise(ErrorCode::kInvalidArgument, "{}: no opset is declared for domain '{}'", label_, domain);
  return it->second;
}

Graph Graph::clone() const {
  Graph g;
  g.opsets_ = opsets_;
  g.label_ = label_;
  g.metadata_ = metadata_;
  g.counter_ = counter_;
  for (const Value* in : inputs_) g.add_input(in->name(), in->dtype(), in->shape());
  for (const Value* init : initializers()) g.add_initializer(init->name(), *init->initializer());
  for (const auto& n : nodes_) {
    NodeSpec spec{n->op_type_, {}, {}, n->attrs_, n->name_, n->domain_, n->metadata_};
    for (const Value* v : n->inputs_) spec.inputs.push_back(v ? v->name() : "");
    for (const Value* v : n->outputs_) spec.outputs.push_back(v ? v->name() : "");
    g.add_node(std::move(spec));
  }
  for (const Value* out : outputs_) g.add_output(out->name());
  // Keep inferred types of intermediate values.
  for (const auto& v : values_)
    if (Value* copy = g.find_value(v->name()); copy && !copy->is_graph_input() && !copy->initializer())
      copy->set_type(v->dtype(), v->shape());
  return g;
}

}  // namespace kiln
