// TensorProto/TypeProto <-> kiln tensors and value types.
#include "tensor_proto.h"

#include <charconv>
#include <cstring>
#include <limits>

#include "external_data.h"
#include "kiln/runtime/error.h"

namespace kiln::onnx::detail {

using ::onnx::TensorProto;

DType dtype_from_onnx(int32_t elem_type, const std::string& what) {
  switch (elem_type) {
    case TensorProto::FLOAT:
      return DType::kF32;
    case TensorProto::DOUBLE:
      return DType::kF64;
    case TensorProto::FLOAT16:
      return DType::kF16;
    case TensorProto::BFLOAT16:
      return DType::kBF16;
    case TensorProto::INT64:
      return DType::kI64;
    case TensorProto::INT32:
      return DType::kI32;
    case TensorProto::INT8:
      return DType::kI8;
    case TensorProto::UINT8:
      return DType::kU8;
    case TensorProto::BOOL:
      return DType::kBool;
    default:
      raise(ErrorCode::kUnsupported,
            "{}: element type {} is not supported (kiln has f32, f64, f16, bf16, i64, i32, "
            "i8, u8 and bool)",
            what, onnx_type_name(elem_type));
  }
}

int32_t dtype_to_onnx(DType dtype, const std::string& what) {
  switch (dtype) {
    case DType::kF32:
      return TensorProto::FLOAT;
    case DType::kF64:
      return TensorProto::DOUBLE;
    case DType::kF16:
      return TensorProto::FLOAT16;
    case DType::kBF16:
      return TensorProto::BFLOAT16;
    case DType::kI64:
      return TensorProto::INT64;
    case DType::kI32:
      return TensorProto::INT32;
    case DType::kI8:
      return TensorProto::INT8;
    case DType::kU8:
      return TensorProto::UINT8;
    case DType::kBool:
      return TensorProto::BOOL;
    case DType::kUndefined:
      break;
  }
  raise(ErrorCode::kInvalidArgument, "{}: has no dtype, so it cannot be written to ONNX", what);
}

std::string onnx_type_name(int32_t elem_type) {
  if (TensorProto::DataType_IsValid(elem_type))
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(elem_type));
  return fmt::format("{} (not an ONNX type)", elem_type);
}

int64_t checked_tensor_numel(const Dims& dims, const LoadLimits& limits, const std::string& what) {
  if (dims.size() > limits.max_rank)
    raise(ErrorCode::kInvalidArgument, "{}: rank {} is over the limit of {}", what, dims.size(),
          limits.max_rank);
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] < 0) raise(ErrorCode::kInvalidArgument, "{}: dim {} is negative ({})", what, i, dims[i]);
  int64_t numel = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(numel, d, &numel))
      raise(ErrorCode::kInvalidArgument, "{}: the element count of dims {} overflows int64", what,
            to_string(dims));
  if (numel > limits.max_elements)
    raise(ErrorCode::kInvalidArgument, "{}: {} elements (dims {}) is over the limit of {}", what, numel,
          to_string(dims), limits.max_elements);
  return numel;
}

namespace {

// Integers stored in int32_data for the narrow types; each must fit its dtype.
template <class T>
void copy_narrow(const google::protobuf::RepeatedField<int32_t>& from, T* to, int64_t lo, int64_t hi,
                 const std::string& what, DType dtype) {
  for (int i = 0; i < from.size(); ++i) {
    int64_t v = from[i];
    if (v < lo || v > hi)
      raise(ErrorCode::kInvalidArgument, "{}: int32_data[{}] = {} does not fit {}", what, i, v,
            to_string(dtype));
    to[i] = static_cast<T>(v);
  }
}

// The one typed field that holds dtype's values, and its length.
int typed_field_size(const TensorProto& p, DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return p.float_data_size();
    case DType::kF64:
      return p.double_data_size();
    case DType::kI64:
      return p.int64_data_size();
    default:
      return p.int32_data_size();
  }
}

const char* typed_field_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "float_data";
    case DType::kF64:
      return "double_data";
    case DType::kI64:
      return "int64_data";
    default:
      return "int32_data";
  }
}

// Names any data field other than the one dtype uses, for a clear message.
std::string other_data_field(const TensorProto& p, DType dtype) {
  std::string own = typed_field_name(dtype);
  if (p.float_data_size() && own != "float_data") return "float_data";
  if (p.double_data_size() && own != "double_data") return "double_data";
  if (p.int64_data_size() && own != "int64_data") return "int64_data";
  if (p.int32_data_size() && own != "int32_data") return "int32_data";
  if (p.uint64_data_size()) return "uint64_data";
  if (p.string_data_size()) return "string_data";
  return {};
}

void copy_typed(const TensorProto& p, DType dtype, void* out, const std::string& what) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, p.float_data().data(), p.float_data_size() * sizeof(float));
      return;
    case DType::kF64:
      std::memcpy(out, p.double_data().data(), p.double_data_size() * sizeof(double));
      return;
    case DType::kI64:
      std::memcpy(out, p.int64_data().data(), p.int64_data_size() * sizeof(int64_t));
      return;
    case DType::kI32:
      std::memcpy(out, p.int32_data().data(), p.int32_data_size() * sizeof(int32_t));
      return;
    case DType::kI8:
      return copy_narrow(p.int32_data(), static_cast<int8_t*>(out), -128, 127, what, dtype);
    case DType::kU8:
      return copy_narrow(p.int32_data(), static_cast<uint8_t*>(out), 0, 255, what, dtype);
    case DType::kBool:
      return copy_narrow(p.int32_data(), static_cast<uint8_t*>(out), 0, 1, what, dtype);
    case DType::kF16:  // the 16 bits of each value
    case DType::kBF16:
      return copy_narrow(p.int32_data(), static_cast<uint16_t*>(out), 0, 65535, what, dtype);
    case DType::kUndefined:
      break;
  }
  raise(ErrorCode::kInternal, "{}: no typed field for dtype {}", what, to_string(dtype));
}

uint64_t parse_u64(const std::string& text, const char* key, const std::string& what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    raise(ErrorCode::kInvalidArgument, "{}: external data {} '{}' is not a non-negative integer", what, key,
          text);
  return v;
}

Tensor read_external(const TensorProto& p, DType dtype, const Dims& dims, uint64_t bytes,
                     const TensorSource& source, const std::string& what) {
  std::string location;
  std::optional<uint64_t> offset, length;
  for (const auto& entry : p.external_data()) {
    if (entry.key() == "location")
      location = entry.value();
    else if (entry.key() == "offset")
      offset = parse_u64(entry.value(), "offset", what);
    else if (entry.key() == "length")
      length = parse_u64(entry.value(), "length", what);
  }
  if (location.empty())
    raise(ErrorCode::kInvalidArgument, "{}: data_location is EXTERNAL but there is no 'location' entry",
          what);
  std::string path = resolve_external_path(source.base_dir, location, what);
  if (length && *length != bytes)
    raise(ErrorCode::kInvalidArgument, "{}: external data length is {} bytes, but {} of {} needs {}", what,
          *length, to_string(dims), to_string(dtype), bytes);
  uint64_t start = offset.value_or(0), size = external_file_size(path, what);
  if (start > size || bytes > size - start)
    raise(ErrorCode::kInvalidArgument,
          "{}: external data wants {} bytes at offset {}, but '{}' has only {} bytes", what, bytes, start,
          location, size);
  Tensor t = Tensor::empty(dims, dtype);
  read_external_bytes(path, start, bytes, t.raw_data(), what);
  return t;
}

}  // namespace

Tensor tensor_from_proto(const TensorProto& p, const TensorSource& source, const std::string& what) {
  if (p.has_segment()) raise(ErrorCode::kUnsupported, "{}: segmented tensors are not supported", what);
  if (!p.has_data_type() || p.data_type() == TensorProto::UNDEFINED)
    raise(ErrorCode::kInvalidArgument, "{}: the tensor has no data_type", what);
  DType dtype = dtype_from_onnx(p.data_type(), what);
  Dims dims(p.dims().begin(), p.dims().end());
  int64_t numel = checked_tensor_numel(dims, source.limits, what);
  const uint64_t bytes = static_cast<uint64_t>(numel) * size_of(dtype);
  if (p.data_location() == TensorProto::EXTERNAL) {
    if (p.has_raw_data() || typed_field_size(p, dtype) || !other_data_field(p, dtype).empty())
      raise(ErrorCode::kInvalidArgument, "{}: data is stored externally and in the model at once", what);
    return read_external(p, dtype, dims, bytes, source, what);
  }
  if (p.has_raw_data()) {
    if (p.raw_data().size() != bytes)
      raise(ErrorCode::kInvalidArgument, "{}: raw_data has {} bytes, but {} of {} needs {}", what,
            p.raw_data().size(), to_string(dims), to_string(dtype), bytes);
    Tensor t = Tensor::empty(dims, dtype);
    if (bytes) std::memcpy(t.raw_data(), p.raw_data().data(), bytes);
    return t;
  }
  const int count = typed_field_size(p, dtype);
  if (count == 0 && numel > 0) {
    std::string other = other_data_field(p, dtype);
    if (!other.empty())
      raise(ErrorCode::kInvalidArgument, "{}: values are in {}, which cannot hold {} (expected {})", what,
            other, to_string(dtype), typed_field_name(dtype));
    raise(ErrorCode::kInvalidArgument, "{}: the tensor has dims {} but no data", what, to_string(dims));
  }
  if (count != numel)
    raise(ErrorCode::kInvalidArgument, "{}: {} has {} values, but dims {} need {}", what,
          typed_field_name(dtype), count, to_string(dims), numel);
  Tensor t = Tensor::empty(dims, dtype);
  if (numel) copy_typed(p, dtype, t.raw_data(), what);
  return t;
}

void tensor_to_proto(const Tensor& tensor, const std::string& name, TensorProto* p) {
  p->set_name(name);
  p->set_data_type(dtype_to_onnx(tensor.dtype(), "tensor '" + name + "'"));
  for (int64_t d : tensor.shape()) p->add_dims(d);
  Tensor host = tensor.to(Device::host()).contiguous();
  // raw_data is little-endian, as is every host kiln runs on.
  p->set_raw_data(std::string(static_cast<const char*>(host.raw_data()), host.nbytes()));
}

ValueTypeProto type_from_proto(const ::onnx::TypeProto& type, const LoadLimits& limits,
                               const std::string& what) {
  if (!type.has_tensor_type()) {
    if (type.value_case() == ::onnx::TypeProto::VALUE_NOT_SET) return {};
    raise(ErrorCode::kUnsupported,
          "{}: only tensor types are supported (this is a sequence, map, optional or "
          "sparse tensor)",
          what);
  }
  const auto& tt = type.tensor_type();
  ValueTypeProto out;
  if (tt.has_elem_type() && tt.elem_type() != TensorProto::UNDEFINED)
    out.dtype = dtype_from_onnx(tt.elem_type(), what);
  if (!tt.has_shape()) return out;
  if (static_cast<size_t>(tt.shape().dim_size()) > limits.max_rank)
    raise(ErrorCode::kInvalidArgument, "{}: rank {} is over the limit of {}", what, tt.shape().dim_size(),
          limits.max_rank);
  std::vector<Dim> dims;
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto& d = tt.shape().dim(i);
    if (d.has_dim_value()) {
      if (d.dim_value() < 0)
        raise(ErrorCode::kInvalidArgument, "{}: dim {} is negative ({})", what, i, d.dim_value());
      dims.emplace_back(d.dim_value());
    } else if (d.has_dim_param() && !d.dim_param().empty()) {
      dims.emplace_back(d.dim_param());
    } else {
      dims.emplace_back();
    }
  }
  out.shape = Shape(std::move(dims));
  return out;
}

void type_to_proto(DType dtype, const Shape& shape, ::onnx::TypeProto* type, const std::string& what) {
  auto* tt = type->mutable_tensor_type();
  tt->set_elem_type(dtype_to_onnx(dtype, what));
  if (!shape.has_rank()) return;
  auto* sp = tt->mutable_shape();
  for (const Dim& d : shape.dims()) {
    auto* dp = sp->add_dim();
    if (d.is_static())
      dp->set_dim_value(d.value());
    else if (d.is_symbolic())
      dp->set_dim_param(d.symbol());
  }
}

}  // namespace kiln::onnx::detail
