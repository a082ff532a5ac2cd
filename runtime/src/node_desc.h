#pragma once
// NodeDesc: a graph Node with concrete types, flattened into the plain C kiln_node that
// backends see. It owns every array the kiln_node points to.

#include <deque>
#include <vector>

#include "kiln/backend_abi.h"
#include "kiln/runtime/graph.h"
#include "kiln/runtime/op_registry.h"

namespace kiln {

/// A contiguous host tensor as a kiln_tensor (shape pointer into the tensor).
kiln_tensor abi_tensor(const Tensor& t);

class NodeDesc {
 public:
  /// types: one per node input (kUndefined dtype for an omitted optional input) and per output.
  /// known: host values per input, or nullptr; every known value is passed as host_value.
  /// Schema defaults fill in absent attributes, so kernels see every attribute the op defines.
  NodeDesc(const Node& node, const OpDef& def, int opset, const std::vector<ValueType>& input_types,
           const std::vector<ValueType>& output_types, const std::vector<const Tensor*>& known);
  NodeDesc(const NodeDesc&) = delete;
  NodeDesc& operator=(const NodeDesc&) = delete;

  const kiln_node& get() const { return node_; }

 private:
  kiln_value make_value(const ValueType& type, const Tensor* known);
  void add_attr(const std::string& name, const Attribute& value);

  kiln_node node_{};
  // deques keep element addresses stable while they grow
  std::deque<Dims> dims_;
  std::deque<Tensor> tensors_;            // contiguous host copies of known values / tensor attrs
  std::deque<kiln_tensor> abi_tensors_;
  std::deque<std::vector<const char*>> strings_;
  std::vector<kiln_value> inputs_, outputs_;
  std::vector<kiln_attr> attrs_;
};

}  // namespace kiln
