#pragma once
// Private to onnx/: a ModelProto moved to another default-domain opset.

#include <onnx/onnx_pb.h>

#include <string>

namespace kiln::onnx::detail {

/// Converts model to default-domain opset `target` with onnx's version converter, and sets the
/// IR version to the one of target's onnx release (ir_version_for_opset). Throws
/// Error(kUnsupported) "<label>: cannot convert from opset A to B: <why, naming the op>".
void convert_opset(::onnx::ModelProto& model, int target, const std::string& label);

/// The IR version of the onnx release that introduced an opset (onnx's helper.VERSION_TABLE):
/// the lowest a runtime expects next to that opset.
int64_t ir_version_for_opset(int opset);

}  // namespace kiln::onnx::detail
