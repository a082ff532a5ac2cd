#pragma once
// Private to onnx/: every conversion between ONNX's protobuf types and kiln's, and the checker.

#include "checker.h"
#include "tensor_proto.h"
