// A TensorProto stored alone in a file (ONNX's test data: input_0.pb, output_0.pb).
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <climits>
#include <filesystem>
#include <fstream>

#include "kiln/onnx/model.h"
#include "kiln/runtime/error.h"
#include "onnx_proto.h"

namespace kiln::onnx {

namespace fs = std::filesystem;

Tensor read_tensor_proto(const std::string& path, std::string* name) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) raise(ErrorCode::kNotFound, "{}: no such file", path);
  if (!fs::is_regular_file(status)) raise(ErrorCode::kInvalidArgument, "{}: not a regular file", path);
  const LoadLimits limits;
  uint64_t size = fs::file_size(path, ec);
  if (ec) raise(ErrorCode::kIo, "{}: cannot read its size: {}", path, ec.message());
  if (size > limits.max_file_bytes || size > static_cast<uint64_t>(INT_MAX))
    raise(ErrorCode::kInvalidArgument, "{}: the file is {} bytes, over the {} byte limit", path, size,
          std::min<uint64_t>(limits.max_file_bytes, INT_MAX));
  std::string bytes(size, '\0');
  std::ifstream in(path, std::ios::binary);
  if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(size)))
    raise(ErrorCode::kIo, "{}: cannot read the file", path);

  ::onnx::TensorProto proto;
  google::protobuf::io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(INT_MAX);
  if (!proto.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    raise(ErrorCode::kInvalidArgument, "{}: not a TensorProto (the protobuf does not parse; truncated or corrupt?)",
          path);
  // Test data never points at external files; "" as the base folder forbids them.
  detail::TensorSource source{path, "", limits};
  Tensor tensor = detail::tensor_from_proto(proto, source, path);
  if (name) *name = proto.name();
  return tensor;
}

}  // namespace kiln::onnx
