#pragma once
// The op registry: one definition per op (name, domain, opsets, attribute schema, shape and
// dtype inference, gradient). Backends only add kernels for ops defined here.

#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/runtime/attribute.h"
#include "kiln/runtime/graph.h"

namespace kiln {

inline constexpr int kLatestOpset = 28;
/// Upper arity bound of variadic inputs/outputs (Concat's inputs, Split's outputs).
inline constexpr int kVariadic = std::numeric_limits<int>::max();

/// A value's static type as inference sees it.
struct ValueType {
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
};

struct AttrSpec {
  std::string name;
  AttrType type;
  std::optional<Attribute> default_value;  // empty and !required: optional with no default
  bool required = false;
};

class OpDef;

/// What an infer function sees: the node, its input types, known host values of its shape
/// inputs, and attribute access with the schema's defaults.
class InferContext {
 public:
  InferContext(const Node& node, const OpDef& def, int opset, std::vector<ValueType> inputs,
               std::vector<const Tensor*> input_values);

  const Node& node() const { return node_; }
  int opset() const { return opset_; }
  size_t num_inputs() const { return inputs_.size(); }
  /// False for an omitted optional input or one past the end.
  bool has_input(size_t i) const;
  /// Throws Error(kInvalidArgument) when input i is absent.
  const ValueType& input(size_t i) const;
  DType input_dtype(size_t i) const { return input(i).dtype; }
  const Shape& input_shape(size_t i) const { return input(i).shape; }
  /// Host value of input i when known (constants, folded shape arithmetic); nullptr otherwise.
  const Tensor* input_value(size_t i) const;
  /// input_value(i) as int64s; std::nullopt when unknown. Accepts i32/i64.
  std::optional<std::vector<int64_t>> input_ints(size_t i) const;

  bool has_attr(std::string_view name) const;
  /// Attribute getters fall back to the schema's default; they throw when the attribute is
  /// required and absent.
  int64_t attr_int(std::string_view name) const;
  float attr_float(std::string_view name) const;
  std::string attr_string(std::string_view name) const;
  std::vector<int64_t> attr_ints(std::string_view name) const;
  std::vector<float> attr_floats(std::string_view name) const;
  const Tensor& attr_tensor(std::string_view name) const;
  const Attributes& attrs() const;

  void set_output(size_t i, DType dtype, Shape shape);
  /// Sets the output's type and its known host value (Shape, Constant...).
  void set_output_value(size_t i, Tensor value);
  size_t num_outputs() const { return outputs_.size(); }
  const std::vector<ValueType>& outputs() const { return outputs_; }
  const std::vector<std::optional<Tensor>>& output_values() const { return output_values_; }

  /// Normalizes a possibly negative axis against rank; fails when out of range.
  int64_t normalize_axis(int64_t axis, int64_t rank) const;

  /// Throws Error(kInvalidArgument) with the node prefixed: "node 'Conv_3' (Conv): ...".
  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    fail_message(fmt::format(format, std::forward<Args>(args)...));
  }
  [[noreturn]] void fail_message(const std::string& message) const;

 private:
  const Attribute& attr_or_default(std::string_view name, AttrType type) const;
  const Node& node_;
  const OpDef& def_;
  int opset_;
  std::vector<ValueType> inputs_;
  std::vector<const Tensor*> input_values_;
  std::vector<ValueType> outputs_;
  std::vector<std::optional<Tensor>> output_values_;
};

class GradContext;  // defined by the autograd layer
using InferFn = std::function<void(InferContext&)>;
using GradFn = std::function<void(GradContext&)>;

class OpDef {
 public:
  explicit OpDef(std::string name, std::string domain = "") : name_(std::move(name)), domain_(std::move(domain)) {}

  OpDef& opsets(int since, int until = kLatestOpset) { since_ = since; until_ = until; return *this; }
  OpDef& inputs(int min, int max) { min_inputs_ = min; max_inputs_ = max; return *this; }
  OpDef& outputs(int min, int max) { min_outputs_ = min; max_outputs_ = max; return *this; }
  OpDef& attr(std::string name, AttrType type, Attribute default_value) {
    attrs_.push_back({std::move(name), type, std::move(default_value), false});
    return *this;
  }
  OpDef& optional_attr(std::string name, AttrType type) {
    attrs_.push_back({std::move(name), type, std::nullopt, false});
    return *this;
  }
  OpDef& required_attr(std::string name, AttrType type) {
    attrs_.push_back({std::move(name), type, std::nullopt, true});
    return *this;
  }
  /// Takes over another op's attribute schema (fused and backward ops take their base op's).
  OpDef& attrs_of(const OpDef& base) {
    attrs_.insert(attrs_.end(), base.attrs_.begin(), base.attrs_.end());
    return *this;
  }
  /// Inputs whose values (not only types) inference reads, e.g. Reshape's shape. The executor
  /// computes them before planning so every other value gets a concrete shape.
  OpDef& shape_inputs(std::vector<int> indices) { shape_inputs_ = std::move(indices); return *this; }
  OpDef& infer(InferFn fn) { infer_ = std::move(fn); return *this; }
  OpDef& grad(GradFn fn) { grad_ = std::move(fn); return *this; }

  const std::string& name() const { return name_; }
  const std::string& domain() const { return domain_; }
  int since() const { return since_; }
  int until() const { return until_; }
  int min_inputs() const { return min_inputs_; }
  int max_inputs() const { return max_inputs_; }
  int min_outputs() const { return min_outputs_; }
  int max_outputs() const { return max_outputs_; }
  const std::vector<AttrSpec>& attr_specs() const { return attrs_; }
  const AttrSpec* find_attr(std::string_view name) const;
  const std::vector<int>& shape_input_indices() const { return shape_inputs_; }
  bool is_shape_input(size_t index) const;
  const InferFn& infer_fn() const { return infer_; }
  const GradFn& grad_fn() const { return grad_; }

 private:
  std::string name_, domain_;
  int since_ = 1, until_ = kLatestOpset;
  int min_inputs_ = 1, max_inputs_ = 1, min_outputs_ = 1, max_outputs_ = 1;
  std::vector<AttrSpec> attrs_;
  std::vector<int> shape_inputs_;
  InferFn infer_;
  GradFn grad_;
};

class OpRegistry {
 public:
  /// Adds a definition. Throws Error(kInternal) when (domain, name) is already defined.
  void add(OpDef def);
  /// nullptr when unknown.
  const OpDef* find(std::string_view name, std::string_view domain = "") const;
  /// The definition for a node at an opset; throws Error(kUnsupported) for an unknown op or an
  /// opset outside the definition's range, naming the node.
  const OpDef& lookup(const Node& node, int opset) const;
  std::vector<const OpDef*> all() const;

  /// The registry with every built-in op, built on first use by register_builtin_ops.
  static const OpRegistry& builtin();

 private:
  std::map<std::pair<std::string, std::string>, OpDef, std::less<>> defs_;
};

/// Explicit registration of all of kiln's ops (runtime/ops/*.cpp).
void register_builtin_ops(OpRegistry& registry);

/// Checks a node against its definition (arity, attribute names, types and required ones).
/// Throws Error(kInvalidArgument) or Error(kUnsupported) naming the node.
void check_node(const Node& node, const OpDef& def);

/// Runs def's inference for node. Input types come from the input values unless given.
InferContext infer_node(const Node& node, const OpDef& def, int opset,
                        std::vector<ValueType> input_types, std::vector<const Tensor*> input_values);

/// Validates the graph and infers every value's type in place:
/// SSA (every value defined once), every input defined, no cycles, known ops at the graph's
/// opset, attribute schemas, and shape/dtype rules. Throws kiln::Error naming the graph
/// label and node on the first problem.
void validate(Graph& graph, const OpRegistry& registry = OpRegistry::builtin());

}  // namespace kiln
