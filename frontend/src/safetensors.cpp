#include "kiln/frontend/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "little_endian.h"
#include "npy_file.h"

namespace kiln {
namespace {

using nlohmann::json;

// Bounds a hostile header length (safetensors itself allows 100 MB).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

const char* dtype_code(DType d) {
  switch (d) {
    case DType::kF32:
      return "F32";
    case DType::kF64:
      return "F64";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kI64:
      return "I64";
    case DType::kI32:
      return "I32";
    case DType::kI8:
      return "I8";
    case DType::kU8:
      return "U8";
    case DType::kBool:
      return "BOOL";
    default:
      return nullptr;
  }
}

DType dtype_from_code(const std::string& code, const std::string& where) {
  for (DType d : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI64, DType::kI32, DType::kI8,
                  DType::kU8, DType::kBool})
    if (code == dtype_code(d)) return d;
  for (const char* known : {"I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2"})
    if (code == known) raise(ErrorCode::kUnsupported, "{}: dtype {} is not supported by kiln", where, code);
  raise(ErrorCode::kInvalidArgument, "{}: unknown dtype '{}'", where, code);
}

}  // namespace

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::vector<Tensor> host;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      raise(ErrorCode::kInvalidArgument, "{}: '{}' cannot name a tensor", path, name);
    if (!t.defined()) raise(ErrorCode::kInvalidArgument, "{}: tensor '{}' is undefined", path, name);
    const char* code = dtype_code(t.dtype());
    if (!code)
      raise(ErrorCode::kUnsupported, "{}: tensor '{}' has dtype {}, which safetensors cannot hold", path,
            name, to_string(t.dtype()));
    Tensor h = t.detach().to(Device::host()).contiguous();
    const uint64_t bytes = h.nbytes();
    header[name] = {{"dtype", code}, {"shape", h.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(std::move(h));
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<uint8_t> prefix;
  put64(prefix, text.size());
  npy::FileSink sink(path);
  sink.write(prefix.data(), prefix.size());
  sink.write(text.data(), text.size());
  for (const Tensor& h : host) sink.write(h.raw_data(), h.nbytes());
  sink.commit();
}

SafetensorsFile read_safetensors(const std::string& path) {
  npy::FileSource src(path);
  if (src.size() < 8)
    raise(ErrorCode::kInvalidArgument,
          "{}: {} bytes is too short for a safetensors file (8-byte header length)", path, src.size());
  uint8_t prefix[8];
  src.read(0, prefix, 8);
  const uint64_t header_bytes = get64(prefix);
  if (header_bytes > kMaxHeaderBytes || header_bytes > src.size() - 8)
    raise(
        ErrorCode::kInvalidArgument,
        "{}: header length {} runs past the end of the file ({} bytes); not a safetensors file or truncated",
        path, header_bytes, src.size());
  std::string text(header_bytes, '\0');
  src.read(8, text.data(), text.size());
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    raise(ErrorCode::kInvalidArgument, "{}: the header is not valid JSON: {}", path, e.what());
  }
  if (!header.is_object()) raise(ErrorCode::kInvalidArgument, "{}: the header is not a JSON object", path);
  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_bytes = src.size() - data_start;
  SafetensorsFile out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::vector<std::string> range_names;
  for (const auto& [name, entry] : header.items()) {
    const std::string where = fmt::format("{}: tensor '{}'", path, name);
    if (name == "__metadata__") {
      if (!entry.is_object()) raise(ErrorCode::kInvalidArgument, "{}: __metadata__ is not an object", path);
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string())
          raise(ErrorCode::kInvalidArgument, "{}: __metadata__ '{}' is not a string", path, key);
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      raise(ErrorCode::kInvalidArgument, "{}: expected an object with dtype, shape and data_offsets", where);
    const json& dt = entry["dtype"];
    const json& sh = entry["shape"];
    const json& off = entry["data_offsets"];
    if (!dt.is_string()) raise(ErrorCode::kInvalidArgument, "{}: dtype is not a string", where);
    const DType dtype = dtype_from_code(dt.get<std::string>(), where);
    if (!sh.is_array()) raise(ErrorCode::kInvalidArgument, "{}: shape is not an array", where);
    Dims shape;
    uint64_t numel = 1;
    for (const json& d : sh) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40))
        raise(ErrorCode::kInvalidArgument, "{}: shape {} holds a dim that is not a size", where, sh.dump());
      const uint64_t v = d.get<uint64_t>();
      shape.push_back(static_cast<int64_t>(v));
      if (v != 0 && numel > (uint64_t{1} << 62) / v)
        raise(ErrorCode::kInvalidArgument, "{}: shape {} is too large", where, sh.dump());
      numel *= v;
    }
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      raise(ErrorCode::kInvalidArgument, "{}: data_offsets {} is not [begin, end]", where, off.dump());
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_bytes)
      raise(ErrorCode::kInvalidArgument, "{}: data_offsets [{}, {}] are outside the {} data bytes", where,
            begin, end, data_bytes);
    if (end - begin != numel * size_of(dtype))
      raise(ErrorCode::kInvalidArgument, "{}: data_offsets [{}, {}] hold {} bytes, {} {} needs {}", where,
            begin, end, end - begin, to_string(dtype), to_string(shape), numel * size_of(dtype));
    Tensor t = Tensor::empty(shape, dtype);
    if (end > begin) src.read(data_start + begin, t.raw_data(), end - begin);
    ranges.emplace_back(begin, end);
    range_names.push_back(name);
    out.tensors.emplace(name, std::move(t));
  }
  // The tensors must tile the data section: no overlaps, no holes, nothing after the last.
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  uint64_t covered = 0;
  for (size_t i : order) {
    if (ranges[i].first != covered)
      raise(ErrorCode::kInvalidArgument, "{}: tensor '{}' starts at data byte {}, expected {} ({} data)",
            path, range_names[i], ranges[i].first, covered,
            ranges[i].first < covered ? "overlapping" : "a hole in the");
    covered = ranges[i].second;
  }
  if (covered != data_bytes)
    raise(ErrorCode::kInvalidArgument,
          "{}: the tensors cover {} of the {} data bytes (truncated or trailing data)", path, covered,
          data_bytes);
  return out;
}

}  // namespace kiln
