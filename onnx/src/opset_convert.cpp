// Opset conversion for export (`kiln export --opset N`): onnx's version converter, which has an
// adapter for each change of what an op computes or of its inputs and attributes, and names the
// op it has no adapter for.
#include "opset_convert.h"

#include <onnx/defs/schema.h>
#include <onnx/version_converter/adapters/compatible.h>
#include <onnx/version_converter/convert.h>

#include "checker.h"
#include "kiln/runtime/error.h"

namespace kiln::onnx::detail {

namespace {

using ::onnx::OpSchema;
using ::onnx::OpSetID;

bool same_parameters(const std::vector<OpSchema::FormalParameter>& a,
                     const std::vector<OpSchema::FormalParameter>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].GetName() != b[i].GetName() || a[i].GetOption() != b[i].GetOption()) return false;
  return true;
}

// Same inputs, outputs and attributes (names, kinds, defaults): the versions differ only in the
// element types they admit.
bool same_signature(const OpSchema& a, const OpSchema& b) {
  if (!same_parameters(a.inputs(), b.inputs()) || !same_parameters(a.outputs(), b.outputs())) return false;
  const auto &x = a.attributes(), &y = b.attributes();
  if (x.size() != y.size()) return false;
  for (const auto& [name, attr] : x) {
    auto it = y.find(name);
    if (it == y.end() || it->second.type != attr.type || it->second.required != attr.required ||
        it->second.default_value.SerializeAsString() != attr.default_value.SerializeAsString())
      return false;
  }
  return true;
}

// onnx's converter lacks adapters for many steps where a version only added element types
// (Relu 14 -> 13 added bfloat16), so it refuses models it could convert. For those steps, and
// only where onnx has no adapter of its own, the node stays as it is (CompatibleAdapter).
class Converter final : public ::onnx::version_conversion::DefaultVersionConverter {
 public:
  Converter() {
    for (const OpSchema& schema : ::onnx::OpSchemaRegistry::get_all_schemas_with_history()) {
      const int v = schema.SinceVersion();
      if (!schema.domain().empty() || schema.Deprecated() || v <= 1) continue;
      const OpSchema* older = ::onnx::OpSchemaRegistry::Schema(schema.Name(), v - 1, "");
      if (!older || older->Deprecated() || !same_signature(schema, *older)) continue;
      add_if_missing(schema.Name(), v, v - 1);
      add_if_missing(schema.Name(), v - 1, v);
    }
  }

 private:
  void add_if_missing(const std::string& op, int from, int to) {
    auto it = adapters.find(op);
    if (it != adapters.end()) {
      auto from_it = it->second.find(OpSetID(from).toString());
      if (from_it != it->second.end() && from_it->second.count(OpSetID(to).toString())) return;
    }
    registerAdapter(std::make_unique<::onnx::version_conversion::CompatibleAdapter>(op, OpSetID(from), OpSetID(to)));
  }
};

}  // namespace

int64_t ir_version_for_opset(int opset) {
  if (opset <= 8) return 3;
  if (opset == 9) return 4;
  if (opset == 10) return 5;
  if (opset == 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  if (opset == 23) return 11;
  if (opset == 24) return 12;
  if (opset <= 27) return 13;
  return 14;
}

void convert_opset(::onnx::ModelProto& model, int target, const std::string& label) {
  int from = 0;
  for (const auto& imp : model.opset_import())
    if (is_default_domain(imp.domain())) from = static_cast<int>(imp.version());
  const int newest = onnx_checker_max_opset();
  if (target < 7 || target > newest)
    raise(ErrorCode::kInvalidArgument, "{}: cannot export at opset {}: kiln writes opsets 7 to {}", label, target,
          newest);
  if (target == from) return;
  try {
    static const Converter converter;
    model = converter.convert_version(model, OpSetID(from), OpSetID(target));
  } catch (const std::exception& e) {
    raise(ErrorCode::kUnsupported, "{}: cannot convert from opset {} to {}: {}", label, from, target,
          onnx_reason(e));
  }
  model.set_ir_version(ir_version_for_opset(target));
  // Graph and node metadata_props came with IR 10; an older IR has no place for them.
  if (model.ir_version() < 10) {
    model.mutable_graph()->clear_metadata_props();
    for (auto& node : *model.mutable_graph()->mutable_node()) node.clear_metadata_props();
  }
}

}  // namespace kiln::onnx::detail
