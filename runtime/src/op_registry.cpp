#include "kiln/runtime/op_registry.h"

#include <algorithm>

namespace kiln {

// ---------------------------------------------------------------------------------------------
// InferContext

InferContext::InferContext(const Node& node, const OpDef& def, int opset, std::vector<ValueType> inputs,
                           std::vector<const Tensor*> input_values)
    : node_(node),
      def_(def),
      opset_(opset),
      inputs_(std::move(inputs)),
      input_values_(std::move(input_values)),
      outputs_(node.outputs().size()),
      output_values_(node.outputs().size()) {
  input_values_.resize(inputs_.size(), nullptr);
}

bool InferContext::has_input(size_t i) const {
  return i < inputs_.size() && inputs_[i].dtype != DType::kUndefined && node_.input(i) != nullptr;
}

const ValueType& InferContext::input(size_t i) const {
  if (!has_input(i)) fail("input {} is required but missing", i);
  return inputs_[i];
}

const Tensor* InferContext::input_value(size_t i) const {
  return has_input(i) ? input_values_[i] : nullptr;
}

std::optional<std::vector<int64_t>> InferContext::input_ints(size_t i) const {
  const Tensor* t = input_value(i);
  if (!t) return std::nullopt;
  if (t->dtype() == DType::kI64) return t->to_vector<int64_t>();
  if (t->dtype() == DType::kI32) {
    auto v = t->to_vector<int32_t>();
    return std::vector<int64_t>(v.begin(), v.end());
  }
  fail("input {} must be i64 or i32, got {}", i, to_string(t->dtype()));
}

bool InferContext::has_attr(std::string_view name) const { return node_.attrs().has(name); }

const Attribute& InferContext::attr_or_default(std::string_view name, AttrType type) const {
  const AttrSpec* spec = def_.find_attr(name);
  if (!spec) fail("the op has no attribute '{}' (kiln bug: the infer rule reads an undeclared attribute)", name);
  if (spec->type != type)
    fail("attribute '{}' is declared as {}, read as {}", name, to_string(spec->type), to_string(type));
  if (const Attribute* a = node_.attrs().find(name)) {
    if (type_of(*a) != type)
      fail("attribute '{}' has type {}, expected {}", name, to_string(type_of(*a)), to_string(type));
    return *a;
  }
  if (spec->default_value) return *spec->default_value;
  fail("attribute '{}' is required", name);
}

int64_t InferContext::attr_int(std::string_view name) const {
  return std::get<int64_t>(attr_or_default(name, AttrType::kInt));
}
float InferContext::attr_float(std::string_view name) const {
  return std::get<float>(attr_or_default(name, AttrType::kFloat));
}
std::string InferContext::attr_string(std::string_view name) const {
  return std::get<std::string>(attr_or_default(name, AttrType::kString));
}
std::vector<int64_t> InferContext::attr_ints(std::string_view name) const {
  return std::get<std::vector<int64_t>>(attr_or_default(name, AttrType::kInts));
}
std::vector<float> InferContext::attr_floats(std::string_view name) const {
  return std::get<std::vector<float>>(attr_or_default(name, AttrType::kFloats));
}
const Tensor& InferContext::attr_tensor(std::string_view name) const {
  return std::get<Tensor>(attr_or_default(name, AttrType::kTensor));
}
const Attributes& InferContext::attrs() const { return node_.attrs(); }

void InferContext::set_output(size_t i, DType dtype, Shape shape) {
  if (i >= outputs_.size()) return;  // optional output the node does not use
  outputs_[i] = ValueType{dtype, std::move(shape)};
}

void InferContext::set_output_value(size_t i, Tensor value) {
  if (i >= outputs_.size()) return;
  outputs_[i] = ValueType{value.dtype(), Shape::of(value.shape())};
  output_values_[i] = std::move(value);
}

int64_t InferContext::normalize_axis(int64_t axis, int64_t rank) const {
  int64_t r = std::max<int64_t>(rank, 0);
  if (axis < -r || axis >= std::max<int64_t>(r, 1)) fail("axis {} is out of range for rank {}", axis, rank);
  return axis < 0 ? axis + r : axis;
}

void InferContext::fail_message(const std::string& message) const {
  throw Error(ErrorCode::kInvalidArgument, node_.describe() + ": " + message);
}

// ---------------------------------------------------------------------------------------------
// OpDef and OpRegistry

const AttrSpec* OpDef::find_attr(std::string_view name) const {
  for (const AttrSpec& a : attrs_)
    if (a.name == name) return &a;
  return nullptr;
}

bool OpDef::is_shape_input(size_t index) const {
  return std::find(shape_inputs_.begin(), shape_inputs_.end(), static_cast<int>(index)) != shape_inputs_.end();
}

void OpRegistry::add(OpDef def) {
  auto key = std::make_pair(def.domain(), def.name());
  if (defs_.count(key)) raise(ErrorCode::kInternal, "op '{}' is defined twice", def.name());
  defs_.emplace(std::move(key), std::move(def));
}

const OpDef* OpRegistry::find(std::string_view name, std::string_view domain) const {
  auto it = defs_.find(std::make_pair(std::string(domain), std::string(name)));
  return it == defs_.end() ? nullptr : &it->second;
}

const OpDef& OpRegistry::lookup(const Node& node, int opset) const {
  const OpDef* def = find(node.op_type(), node.domain());
  if (!def) {
    if (node.domain().empty()) raise(ErrorCode::kUnsupported, "{}: unknown op '{}'", node.describe(), node.op_type());
    raise(ErrorCode::kUnsupported, "{}: unknown op '{}' in domain '{}'", node.describe(), node.op_type(),
          node.domain());
  }
  if (opset < def->since() || opset > def->until())
    raise(ErrorCode::kUnsupported, "{}: opset {} is not supported (kiln supports {} at opsets {}..{})",
          node.describe(), opset, node.op_type(), def->since(), def->until());
  return *def;
}

std::vector<const OpDef*> OpRegistry::all() const {
  std::vector<const OpDef*> out;
  for (const auto& [key, def] : defs_) out.push_back(&def);
  return out;
}

const OpRegistry& OpRegistry::builtin() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_builtin_ops(r);
    return r;
  }();
  return registry;
}

// ---------------------------------------------------------------------------------------------
// Checks and inference

void check_node(const Node& node, const OpDef& def) {
  auto n_in = static_cast<int>(node.inputs().size());
  auto n_out = static_cast<int>(node.outputs().size());
  auto range = [](int min, int max) {
    return max == kVariadic ? fmt::format("at least {}", min) : fmt::format("{}..{}", min, max);
  };
  if (n_in < def.min_inputs() || n_in > def.max_inputs())
    raise(ErrorCode::kInvalidArgument, "{}: has {} inputs, expected {}", node.describe(), n_in,
          range(def.min_inputs(), def.max_inputs()));
  for (int i = 0; i < std::min(n_in, def.min_inputs()); ++i)
    if (!node.input(static_cast<size_t>(i)))
      raise(ErrorCode::kInvalidArgument, "{}: required input {} is missing", node.describe(), i);
  if (n_out < def.min_outputs() || n_out > def.max_outputs())
    raise(ErrorCode::kInvalidArgument, "{}: has {} outputs, expected {}", node.describe(), n_out,
          range(def.min_outputs(), def.max_outputs()));
  for (const auto& [name, value] : node.attrs().all()) {
    const AttrSpec* spec = def.find_attr(name);
    if (!spec) raise(ErrorCode::kInvalidArgument, "{}: unknown attribute '{}'", node.describe(), name);
    if (type_of(value) != spec->type)
      raise(ErrorCode::kInvalidArgument, "{}: attribute '{}' has type {}, expected {}", node.describe(), name,
            to_string(type_of(value)), to_string(spec->type));
  }
  for (const AttrSpec& spec : def.attr_specs())
    if (spec.required && !node.attrs().has(spec.name))
      raise(ErrorCode::kInvalidArgument, "{}: required attribute '{}' is missing", node.describe(), spec.name);
}

InferContext infer_node(const Node& node, const OpDef& def, int opset, std::vector<ValueType> input_types,
                        std::vector<const Tensor*> input_values) {
  InferContext c(node, def, opset, std::move(input_types), std::move(input_values));
  if (!def.infer_fn()) raise(ErrorCode::kInternal, "{}: op has no inference rule", node.describe());
  try {
    def.infer_fn()(c);
  } catch (const Error& e) {
    // Errors from shared code (tensor access, shape arithmetic) do not know the node: add it.
    std::string prefix = node.describe();
    if (std::string_view(e.what()).starts_with(prefix)) throw;
    throw Error(e.code(), prefix + ": " + e.what());
  }
  for (size_t i = 0; i < c.num_outputs(); ++i)
    if (c.outputs()[i].dtype == DType::kUndefined && node.output(i) && !node.output(i)->uses().empty())
      raise(ErrorCode::kInternal, "{}: inference left output {} without a type", node.describe(), i);
  return c;
}

void validate(Graph& graph, const OpRegistry& registry) {
  const std::string& label = graph.label();
  for (const Node* node : graph.nodes())
    for (const Value* in : node->inputs())
      if (in && !in->producer() && !in->is_graph_input() && !in->initializer())
        raise(ErrorCode::kInvalidArgument, "{}: {}: input '{}' is not defined by any node, input or initializer",
              label, node->describe(), in->name());
  for (const Value* out : graph.outputs())
    if (!out->producer() && !out->is_graph_input() && !out->initializer())
      raise(ErrorCode::kInvalidArgument, "{}: graph output '{}' is not defined", label, out->name());
  std::vector<Node*> order = graph.topological_order();
  // Values that inference already knows (initializers, Constant and Shape outputs) flow into
  // shape inputs so that static shapes stay static.
  std::map<const Value*, Tensor> known;
  for (Value* v : graph.initializers()) known.emplace(v, *v->initializer());
  for (Node* node : order) {
    try {
      const OpDef& def = registry.lookup(*node, graph.opset(node->domain()));
      check_node(*node, def);
      std::vector<ValueType> types;
      std::vector<const Tensor*> values;
      for (const Value* in : node->inputs()) {
        types.push_back(in ? ValueType{in->dtype(), in->shape()} : ValueType{});
        auto it = in ? known.find(in) : known.end();
        values.push_back(it != known.end() ? &it->second : nullptr);
      }
      InferContext c = infer_node(*node, def, graph.opset(node->domain()), std::move(types), std::move(values));
      for (size_t i = 0; i < node->outputs().size(); ++i) {
        if (!node->output(i)) continue;
        node->output(i)->set_type(c.outputs()[i].dtype, c.outputs()[i].shape);
        if (c.output_values()[i]) known.emplace(node->output(i), *c.output_values()[i]);
      }
    } catch (const Error& e) {
      throw Error(e.code(), label + ": " + e.what());
    }
  }
}

}  // namespace kiln
