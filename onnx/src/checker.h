#pragma once
// Private to onnx/: onnx's checker behind a kiln::Error.

#include <onnx/onnx_pb.h>

#include <string>

namespace kiln::onnx::detail {

/// ONNX's default domain, which models write as "" or "ai.onnx".
inline bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }
/// text with each run of whitespace (newlines included) folded into one space.
std::string one_line(const std::string& text);
/// An exception message of onnx's library on one line, without the "<source path>:<line>: f:
/// Assertion `false` failed: " its assertions put before the reason.
std::string onnx_reason(const std::exception& e);
/// The newest default-domain opset the linked onnx library knows (28 for onnx 1.23).
int onnx_checker_max_opset();
/// Runs onnx's checker. base_dir resolves external data. Throws Error(kInvalidArgument)
/// "<label>: the onnx checker rejected the model: <its message on one line>". Returns false,
/// checking nothing, when the model's default opset is newer than the checker knows; kiln's own
/// checks then stand alone.
bool run_onnx_checker(const ::onnx::ModelProto& model, const std::string& base_dir, const std::string& label);

}  // namespace kiln::onnx::detail
