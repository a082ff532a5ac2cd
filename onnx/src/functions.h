#pragma once
// Private to onnx/: function calls in a ModelProto replaced by their bodies before import.

#include <onnx/onnx_pb.h>

#include <string>

namespace kiln::onnx::detail {

/// Inlines the model's local functions (FunctionProto; nested calls and attribute references
/// included), then expands every default-domain node whose op kiln's registry lacks at the
/// model's opset but that ONNX defines as a function of other ops (e.g. MeanVarianceNormalization,
/// Shrink), repeating while an expansion brings in more such ops; an op onnx cannot expand stays
/// (the import then reports it as unsupported). Throws Error(kInvalidArgument) "<label>: cannot
/// inline the model's local functions: <onnx's reason>" when a local function does not fit its call.
void inline_functions(::onnx::ModelProto& model, const std::string& label);

}  // namespace kiln::onnx::detail
