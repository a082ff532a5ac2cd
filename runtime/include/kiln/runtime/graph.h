#pragma once
// The one IR: an SSA graph of Nodes over Values, plus initializers. ONNX import builds one,
// export consumes one, passes rewrite one and the executor runs one.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/runtime/attribute.h"
#include "kiln/runtime/shape.h"
#include "kiln/runtime/tensor.h"

namespace kiln {

class Node;

struct Use {
  Node* node;
  size_t input_index;
};

class Value {
 public:
  const std::string& name() const { return name_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  void set_type(DType dtype, Shape shape) { dtype_ = dtype; shape_ = std::move(shape); }
  /// The node that produces this value; nullptr for graph inputs and initializers.
  Node* producer() const { return producer_; }
  size_t producer_output() const { return producer_output_; }
  const std::vector<Use>& uses() const { return uses_; }
  bool is_graph_input() const { return is_input_; }
  bool is_graph_output() const { return is_output_; }
  /// The constant value of an initializer; nullptr otherwise.
  const Tensor* initializer() const { return initializer_ ? &*initializer_ : nullptr; }

 private:
  friend class Graph;
  explicit Value(std::string name) : name_(std::move(name)) {}
  std::string name_;
  DType dtype_ = DType::kUndefined;
  Shape shape_ = Shape::unknown_rank();
  Node* producer_ = nullptr;
  size_t producer_output_ = 0;
  std::vector<Use> uses_;
  bool is_input_ = false;
  bool is_output_ = false;
  std::optional<Tensor> initializer_;
};

/// Free-form key/value pairs carried from and to ONNX's metadata_props (the dynamo exporter
/// writes the PyTorch module path and source of each node there).
using Metadata = std::map<std::string, std::string>;

class Node {
 public:
  const std::string& name() const { return name_; }
  const std::string& op_type() const { return op_type_; }
  const std::string& domain() const { return domain_; }
  /// Inputs in order; nullptr marks an omitted optional input.
  const std::vector<Value*>& inputs() const { return inputs_; }
  /// Outputs in order; nullptr marks an omitted optional output.
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  const Attributes& attrs() const { return attrs_; }
  Attributes& attrs() { return attrs_; }
  const Metadata& metadata() const { return metadata_; }
  /// "node 'Conv_3' (Conv)": the prefix of every message about this node.
  std::string describe() const;

 private:
  friend class Graph;
  std::string name_, op_type_, domain_;
  std::vector<Value*> inputs_, outputs_;
  Attributes attrs_;
  Metadata metadata_;
};

/// Spec of one node for Graph::add_node.
struct NodeSpec {
  std::string op_type;
  std::vector<std::string> inputs;   // value names; "" marks an omitted optional input
  std::vector<std::string> outputs;  // value names to define; "" marks an omitted optional output
  Attributes attrs = {};
  std::string name = {};             // generated ("<op>_<n>") when empty
  std::string domain = {};
  Metadata metadata = {};
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;
  /// A deep copy (values, nodes, attributes; initializer storage is shared, it is immutable).
  Graph clone() const;

  // --- Building. Values are found or created by name, so a graph may be built in any order
  // --- (as ONNX lists it); validate() then checks that it is well formed.
  Value* add_input(const std::string& name, DType dtype, Shape shape);
  Value* add_initializer(const std::string& name, Tensor value);
  /// Adds a node. Throws Error(kInvalidArgument) when an output name is already defined
  /// (by a node, an input or an initializer) — the graph stays SSA.
  Node* add_node(NodeSpec spec);
  void add_output(const std::string& name);
  /// Convenience for code and tests: one node, fresh output names, returns its outputs.
  std::vector<Value*> op(const std::string& op_type, const std::vector<Value*>& inputs,
                         Attributes attrs = {}, size_t num_outputs = 1);
  Value* op1(const std::string& op_type, const std::vector<Value*>& inputs, Attributes attrs = {}) {
    return op(op_type, inputs, std::move(attrs), 1)[0];
  }

  // --- Rewriting (for passes).
  /// Points every use of from (and the graph outputs) at to.
  void replace_uses(Value* from, Value* to);
  /// Removes nodes whose outputs are unused and are not graph outputs, repeatedly.
  size_t remove_dead_nodes();
  void remove_node(Node* node);
  /// Replaces an initializer's value (trained weights written back for export). Throws
  /// Error(kInvalidArgument) when value is not an initializer or the dtype or shape differs.
  void set_initializer(Value* value, Tensor tensor);
  /// Removes an initializer nothing reads. Throws Error(kInvalidArgument) when it is used, is a
  /// graph output, or is not an initializer.
  void remove_initializer(Value* value);

  // --- Queries.
  Value* find_value(std::string_view name) const;
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  std::vector<Value*> initializers() const;
  std::vector<Node*> nodes() const;  // insertion order
  size_t num_nodes() const { return nodes_.size(); }
  /// Nodes ordered so each comes after the producers of its inputs, ties in insertion order.
  /// Throws Error(kInvalidArgument) naming a node on a cycle.
  std::vector<Node*> topological_order() const;

  /// Opset version per domain ("" is ONNX's default domain).
  int opset(const std::string& domain = "") const;
  void set_opset(const std::string& domain, int version) { opsets_[domain] = version; }
  const std::map<std::string, int>& opsets() const { return opsets_; }
  const Metadata& metadata() const { return metadata_; }
  void set_metadata(Metadata metadata) { metadata_ = std::move(metadata); }
  /// Label used in messages, e.g. the model's file name.
  const std::string& label() const { return label_; }
  void set_label(std::string label) { label_ = std::move(label); }

 private:
  Value* value_named(const std::string& name);
  std::string fresh_name(std::string_view stem);

  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, Value*, std::less<>> by_name_;
  std::vector<Value*> inputs_, outputs_;
  std::map<std::string, int> opsets_{{"", 17}};
  Metadata metadata_;
  std::string label_ = "graph";
  size_t counter_ = 0;
};

}  // namespace kiln
