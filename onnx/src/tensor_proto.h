#pragma once
// Private to onnx/: conversions between ONNX's protobuf types and kiln's (dtypes, value types,
// tensors).

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>

#include "kiln/onnx/model.h"
#include "kiln/runtime/dtype.h"
#include "kiln/runtime/shape.h"
#include "kiln/runtime/tensor.h"

namespace kiln::onnx::detail {

/// Where tensors are read from: the label for messages, the folder that external data
/// resolves against ("" forbids external data), and the caps.
struct TensorSource {
  std::string label;
  std::string base_dir;
  LoadLimits limits;
};

/// kiln's dtype for an ONNX TensorProto::DataType. Throws Error(kUnsupported) for types kiln
/// has no dtype for (strings, complex, uint16...), naming `what`.
DType dtype_from_onnx(int32_t elem_type, const std::string& what);
/// ONNX's TensorProto::DataType for a kiln dtype. Throws Error(kInvalidArgument) for kUndefined.
int32_t dtype_to_onnx(DType dtype, const std::string& what);
/// "FLOAT", "STRING"... for messages.
std::string onnx_type_name(int32_t elem_type);

/// Checks dims against the caps: rank, negative dims, overflow, elements. Returns numel.
/// Throws Error(kInvalidArgument) prefixed with `what`.
int64_t checked_tensor_numel(const Dims& dims, const LoadLimits& limits, const std::string& what);

/// A tensor from a TensorProto (raw_data, typed fields or external data), every size checked
/// before anything is allocated. Throws kiln::Error prefixed with `what`.
Tensor tensor_from_proto(const ::onnx::TensorProto& proto, const TensorSource& source,
                         const std::string& what);
/// Writes tensor (any device, any strides) into proto as raw_data.
void tensor_to_proto(const Tensor& tensor, const std::string& name, ::onnx::TensorProto* proto);

/// A value's dtype and shape from a TypeProto. Throws Error(kUnsupported) for non-tensor types
/// and Error(kInvalidArgument) for negative dims or a rank over the cap.
struct ValueTypeProto {
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
};
ValueTypeProto type_from_proto(const ::onnx::TypeProto& type, const LoadLimits& limits,
                               const std::string& what);
/// Fills a TypeProto's tensor_type (dim_param for symbols, empty dims for unknown ones).
void type_to_proto(DType dtype, const Shape& shape, ::onnx::TypeProto* type, const std::string& what);

}  // namespace kiln::onnx::detail
