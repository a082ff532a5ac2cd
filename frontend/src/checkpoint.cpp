#include "kiln/frontend/checkpoint.h"

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "little_endian.h"
#include "npy_file.h"
#include "npy_format.h"
#include "zip_deflate.h"

namespace kiln {
namespace {

constexpr std::string_view kMagic = "KILNCKPT";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 8 + 4;  // magic, version, payload size, CRC-32
// A tensor of more dims or a name this long means a corrupt file, not a real model.
constexpr uint32_t kMaxRank = 64;

void put_bytes(std::vector<uint8_t>& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

// Reads the payload front to back; every overrun or bad value is a corrupt file.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  std::span<const uint8_t> take(uint64_t n) {
    if (n > bytes_.size() - pos_) corrupt("a record runs past the end of the data");
    const auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  uint32_t u32() { return get32(take(4).data()); }
  uint64_t u64() { return get64(take(8).data()); }
  std::string text(uint64_t n) {
    const auto b = take(n);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  bool at_end() const { return pos_ == bytes_.size(); }
  [[noreturn]] void corrupt(const std::string& why) const {
    raise(ErrorCode::kInvalidArgument, "{}: corrupted checkpoint: {}", path_, why);
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

Tensor read_tensor(Reader& in, const std::string& name) {
  const uint32_t code = in.u32();
  const auto dtype = static_cast<DType>(code);
  const uint32_t rank = in.u32();
  if (size_of(dtype) == 0) {
    in.corrupt(fmt::format("tensor '{}' has unknown dtype code {}", name, code));
  }
  if (rank > kMaxRank) in.corrupt(fmt::format("tensor '{}' has rank {}", name, rank));
  Dims shape(rank);
  uint64_t expected = size_of(dtype);  // bytes the shape needs; checked before allocating anything
  bool overflow = false;
  for (int64_t& d : shape) {
    const uint64_t dim = in.u64();
    if (dim > uint64_t{INT64_MAX}) in.corrupt(fmt::format("tensor '{}' has a negative dim", name));
    d = static_cast<int64_t>(dim);
    overflow = overflow || __builtin_mul_overflow(expected, dim, &expected);
  }
  const uint64_t size = in.u64();
  if (overflow || expected != size) {
    in.corrupt(fmt::format("tensor '{}' ({} {}) holds {} bytes, which does not fit its shape", name,
                           to_string(dtype), to_string(shape), size));
  }
  const auto data = in.take(size);
  Tensor t = Tensor::empty(shape, dtype);
  if (size > 0) std::memcpy(t.raw_data(), data.data(), size);
  return t;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  // Every record's fixed part is encoded first, so bad input fails before the file is touched.
  std::vector<Tensor> hosts;
  std::vector<std::vector<uint8_t>> heads;  // heads[i] precedes hosts[i]'s bytes; one more ends the tensors
  heads.emplace_back();
  put64(heads.back(), checkpoint.tensors.size());
  for (const auto& [name, tensor] : checkpoint.tensors) {
    if (name.empty())
      raise(ErrorCode::kInvalidArgument, "cannot write '{}': a tensor has an empty name", path);
    hosts.push_back(npy::host_contiguous(tensor, fmt::format("cannot write '{}': tensor '{}'", path, name)));
    std::vector<uint8_t>& head = heads.back();
    put32(head, name.size());
    put_bytes(head, name);
    put32(head, static_cast<uint32_t>(hosts.back().dtype()));
    put32(head, hosts.back().rank());
    for (int64_t d : hosts.back().shape()) put64(head, static_cast<uint64_t>(d));
    put64(head, hosts.back().nbytes());
    heads.emplace_back();
  }
  std::vector<uint8_t>& tail = heads.back();
  put64(tail, checkpoint.metadata.size());
  for (const auto& [key, value] : checkpoint.metadata) {
    if (key.empty()) raise(ErrorCode::kInvalidArgument, "cannot write '{}': a metadata key is empty", path);
    put32(tail, key.size());
    put_bytes(tail, key);
    put64(tail, value.size());
    put_bytes(tail, value);
  }
  std::vector<std::span<const uint8_t>> payload;
  uint64_t payload_size = 0;
  for (size_t i = 0; i < heads.size(); ++i) {
    payload.push_back(heads[i]);
    if (i < hosts.size())
      payload.emplace_back(static_cast<const uint8_t*>(hosts[i].raw_data()), hosts[i].nbytes());
  }
  for (const auto& piece : payload) payload_size += piece.size();
  std::vector<uint8_t> header;
  put_bytes(header, kMagic);
  put32(header, kVersion);
  put64(header, payload_size);
  put32(header, zip::crc32_of(payload));

  npy::FileSink sink(path);
  sink.write(header);
  for (const auto& piece : payload) sink.write(piece);
  sink.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  const npy::FileSource file(path);
  std::vector<uint8_t> bytes(file.size());
  file.read(0, bytes.data(), bytes.size());
  if (bytes.size() < kMagic.size() || std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    raise(ErrorCode::kInvalidArgument, "{}: not a kiln checkpoint (no KILNCKPT header)", path);
  }
  if (bytes.size() < kHeaderSize) {
    raise(ErrorCode::kInvalidArgument,
          "{}: checksum mismatch (file corrupted or truncated): header cut short", path);
  }
  const uint32_t version = get32(&bytes[8]);
  if (version != kVersion) {
    raise(ErrorCode::kUnsupported, "{}: checkpoint format version {} is not supported (this kiln reads {})",
          path, version, kVersion);
  }
  const uint64_t payload_size = get64(&bytes[12]);
  const std::span<const uint8_t> payload = std::span(bytes).subspan(kHeaderSize);
  if (payload_size != payload.size() || zip::crc32_of(std::span(&payload, 1)) != get32(&bytes[20])) {
    raise(ErrorCode::kInvalidArgument, "{}: checksum mismatch (file corrupted or truncated)", path);
  }
  Reader in(payload, path);
  Checkpoint out;
  for (uint64_t i = 0, n = in.u64(); i < n; ++i) {
    std::string name = in.text(in.u32());
    Tensor t = read_tensor(in, name);
    if (!out.tensors.emplace(std::move(name), std::move(t)).second) in.corrupt("a tensor name appears twice");
  }
  for (uint64_t i = 0, n = in.u64(); i < n; ++i) {
    std::string key = in.text(in.u32());
    if (!out.metadata.emplace(std::move(key), in.text(in.u64())).second)
      in.corrupt("a metadata key appears twice");
  }
  if (!in.at_end()) in.corrupt("extra bytes after the last record");
  return out;
}

void check_same_tensors(const std::map<std::string, Tensor>& loaded,
                        const std::map<std::string, Tensor>& expected, const std::string& where) {
  auto describe = [](const Tensor& t) {
    return fmt::format("{} {}", to_string(t.dtype()), to_string(t.shape()));
  };
  std::vector<std::string> problems;
  for (const auto& [name, want] : expected) {
    auto it = loaded.find(name);
    if (it == loaded.end()) {
      problems.push_back(fmt::format("missing '{}' ({})", name, describe(want)));
    } else if (it->second.shape() != want.shape() || it->second.dtype() != want.dtype()) {
      problems.push_back(fmt::format("'{}' is {}, expected {}", name, describe(it->second), describe(want)));
    }
  }
  for (const auto& [name, got] : loaded) {
    if (!expected.contains(name))
      problems.push_back(fmt::format("unexpected '{}' ({})", name, describe(got)));
  }
  if (!problems.empty()) {
    raise(ErrorCode::kInvalidArgument, "{}: tensors do not match the model: {}", where,
          fmt::join(problems, "; "));
  }
}

}  // namespace kiln
