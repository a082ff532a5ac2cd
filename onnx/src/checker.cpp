// onnx's checker, with its messages folded onto one line.
#include "checker.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>

#include "kiln/runtime/error.h"

// libonnx 1.12 exports this overload (the path-based check_model calls it with the model's
// folder) but its header does not declare it; it lets external data resolve against base_dir
// without parsing the file a second time.
namespace onnx::checker {
void check_model(const ModelProto& model, CheckerContext& ctx);
}  // namespace onnx::checker

namespace kiln::onnx::detail {

namespace {
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
}  // namespace

int onnx_checker_max_opset() {
  const auto& ranges = ::onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = ranges.find("");
  return it == ranges.end() ? 0 : it->second.second;
}

bool run_onnx_checker(const ::onnx::ModelProto& model, const std::string& base_dir,
                      const std::string& label) {
  // onnx 1.12 knows opsets up to 17; for a newer opset it would check each node against an
  // older schema (ReduceMean-13 for a ReduceMean-18) and reject valid models.
  for (const auto& imp : model.opset_import())
    if ((imp.domain().empty() || imp.domain() == "ai.onnx") && imp.version() > onnx_checker_max_opset())
      return false;
  try {
    ::onnx::checker::CheckerContext ctx;
    if (!base_dir.empty()) ctx.set_model_dir(base_dir + "/");
    ::onnx::checker::check_model(model, ctx);
  } catch (const std::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: the onnx checker rejected the model: {}", label,
          one_line(e.what()));
  }
  return true;
}

}  // namespace kiln::onnx::detail
