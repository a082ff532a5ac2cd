// onnx's checker, with its messages folded onto one line.
#include "checker.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>

#include <unordered_map>

#include "kiln/runtime/error.h"

namespace kiln::onnx::detail {

std::string one_line(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string onnx_reason(const std::exception& e) {
  std::string why = one_line(e.what());
  if (auto at = why.find("Assertion `false` failed: "); at != std::string::npos) why = why.substr(at + 26);
  return why;
}

int onnx_checker_max_opset() {
  const auto& ranges = ::onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = ranges.find("");
  return it == ranges.end() ? 0 : it->second.second;
}

bool run_onnx_checker(const ::onnx::ModelProto& model, const std::string& base_dir,
                      const std::string& label) {
  // A newer opset than the library knows would be checked against older schemas and valid
  // models rejected; kiln's own checks then stand alone.
  for (const auto& imp : model.opset_import())
    if (is_default_domain(imp.domain()) && imp.version() > onnx_checker_max_opset()) return false;
  try {
    // What onnx's check_model(path) does, with the folder given instead of re-reading the file,
    // so external data resolves against base_dir. kiln checked ir_version and opset_import.
    ::onnx::checker::CheckerContext ctx;
    if (!base_dir.empty()) ctx.set_model_dir(base_dir + "/");
    ctx.set_ir_version(static_cast<int>(model.ir_version()));
    std::unordered_map<std::string, int> opsets;
    for (const auto& imp : model.opset_import()) opsets[imp.domain()] = static_cast<int>(imp.version());
    ctx.set_opset_imports(opsets);
    ::onnx::checker::LexicalScopeContext lex;
    ::onnx::checker::check_graph(model.graph(), ctx, lex);
    ::onnx::checker::check_model_local_functions(model, ctx, lex);
    ::onnx::checker::check_function_call_cycles(model);
  } catch (const std::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: the onnx checker rejected the model: {}", label,
          one_line(e.what()));
  }
  return true;
}

}  // namespace kiln::onnx::detail
