// Function calls replaced by their bodies with onnx's inliner, so the rest of the import sees
// only ops of kiln's registry (or reports the ones it still lacks).
#include "functions.h"

#include <onnx/defs/schema.h>
#include <onnx/inliner/inliner.h>

#include <set>
#include <utility>
#include <vector>

#include "checker.h"
#include "kiln/runtime/error.h"
#include "kiln/runtime/op_registry.h"

namespace kiln::onnx::detail {

namespace {

// Enough for any nesting ONNX's own function bodies have; a bound so a body that re-creates its
// own op cannot loop.
constexpr int kMaxExpansionRounds = 8;

int default_opset(const ::onnx::ModelProto& model) {
  for (const auto& imp : model.opset_import())
    if (is_default_domain(imp.domain())) return static_cast<int>(imp.version());
  return 0;
}

// A body refers to the op's attributes (Constant<value_int = @periodic>); the inliner binds only
// those the call sets, so the schema's defaults are written into the call first.
void add_default_attributes(::onnx::NodeProto& node, const ::onnx::OpSchema& schema) {
  for (const auto& [name, attr] : schema.attributes()) {
    if (!attr.default_value.has_type()) continue;
    bool set = false;
    for (const auto& a : node.attribute()) set = set || a.name() == name;
    if (!set) *node.add_attribute() = attr.default_value;
  }
}

// A body built for its call (GroupNormalization-21) asks the inliner for its inputs' types, which
// it looks up in the graph's inputs, outputs and value_info, not in the initializers.
void declare_initializer_types(::onnx::ModelProto& model, const ::onnx::NodeProto& node) {
  auto* g = model.mutable_graph();
  for (const auto& in : node.input())
    for (const auto& init : g->initializer()) {
      if (init.name() != in) continue;
      bool declared = false;
      for (const auto& info : g->value_info()) declared = declared || info.name() == in;
      if (declared) break;
      auto* info = g->add_value_info();
      info->set_name(in);
      auto* tt = info->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(init.data_type());
      auto* shape = tt->mutable_shape();
      for (int64_t d : init.dims()) shape->add_dim()->set_dim_value(d);
      break;
    }
}

// Ops of the main graph that kiln cannot run as they are but onnx can expand at this opset.
::onnx::inliner::FunctionIdVector expandable_ops(::onnx::ModelProto& model) {
  const int opset = default_opset(model);
  std::set<std::pair<std::string, std::string>> ids;
  for (auto& node : *model.mutable_graph()->mutable_node()) {
    if (!is_default_domain(node.domain())) continue;
    const OpDef* def = OpRegistry::builtin().find(node.op_type(), "");
    if (def && opset >= def->since() && opset <= def->until()) continue;
    const auto* schema = ::onnx::OpSchemaRegistry::Schema(node.op_type(), opset, "");
    if (!schema || !(schema->HasFunction() || schema->HasContextDependentFunction())) continue;
    add_default_attributes(node, *schema);
    if (schema->HasContextDependentFunction()) declare_initializer_types(model, node);
    ids.emplace(node.domain(), node.op_type());
  }
  return {ids.begin(), ids.end()};
}

}  // namespace

void inline_functions(::onnx::ModelProto& model, const std::string& label) {
  try {
    if (model.functions_size() > 0) ::onnx::inliner::InlineLocalFunctions(model, /*convert_version=*/true);
  } catch (const std::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: cannot inline the model's local functions: {}", label, onnx_reason(e));
  }
  for (int round = 0; round < kMaxExpansionRounds; ++round) {
    auto ids = expandable_ops(model);
    if (ids.empty()) return;
    // On a copy: a body onnx cannot build (Attention-24 wants types its callers' inputs lack)
    // throws half-way through rewriting the graph. The nodes then stay as they were, and the
    // import reports them as ops kiln lacks at this opset. Only models with such ops pay the copy.
    ::onnx::ModelProto attempt = model;
    try {
      auto set = ::onnx::inliner::FunctionIdSet::Create(std::move(ids));
      ::onnx::inliner::InlineSelectedFunctions(attempt, *set, nullptr);
    } catch (const std::exception&) {
      return;
    }
    model = std::move(attempt);
  }
}

}  // namespace kiln::onnx::detail
