#include "kiln/frontend/npy.h"

#include <set>
#include <span>
#include <vector>

#include "npy_file.h"
#include "npy_format.h"
#include "zip_archive.h"

namespace kiln {
namespace {

constexpr std::string_view kSuffix = ".npy";

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::span<const uint8_t> bytes_of(const Tensor& t) {
  return {static_cast<const uint8_t*>(t.raw_data()), t.nbytes()};
}

}  // namespace

Tensor read_npy(const std::string& path) { return npy::read_array(npy::FileSource(path)); }

void write_npy(const std::string& path, const Tensor& tensor) {
  const std::string where = fmt::format("cannot write '{}'", path);
  const Tensor host = npy::host_contiguous(tensor, where);
  const std::string header = npy::encode_header(host.dtype(), host.shape(), where);
  npy::FileSink sink(path);
  sink.write(bytes_of(header));
  sink.write(bytes_of(host));
  sink.commit();
}

std::map<std::string, Tensor> read_npz(const std::string& path) {
  npy::FileSource archive(path);
  const zip::Directory directory = zip::read_directory(archive);
  // Names first: a duplicate or foreign member is reported before any data is decoded.
  std::vector<std::pair<std::string, const zip::Entry*>> arrays;
  std::set<std::string> keys;
  for (const zip::Entry& entry : directory.entries) {
    if (entry.name.ends_with('/') && entry.uncompressed_size == 0) continue;  // a folder entry
    if (!entry.name.ends_with(kSuffix)) {
      raise(ErrorCode::kInvalidArgument, "{}: member '{}' is not a .npy array", path, entry.name);
    }
    std::string key = entry.name.substr(0, entry.name.size() - kSuffix.size());
    if (!keys.insert(key).second) {
      raise(ErrorCode::kInvalidArgument, "{}: duplicate member '{}'", path, entry.name);
    }
    arrays.emplace_back(std::move(key), &entry);
  }
  std::map<std::string, Tensor> out;
  for (const auto& [key, entry] : arrays) {
    const std::vector<uint8_t> bytes = zip::read_member(archive, directory, *entry);
    out.emplace(key,
                npy::read_array(npy::MemorySource(bytes, fmt::format("{}: member '{}'", path, entry->name))));
  }
  return out;
}

void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays, bool compress) {
  std::vector<Tensor> hosts;
  std::vector<std::string> headers;
  hosts.reserve(arrays.size());
  headers.reserve(arrays.size());
  std::vector<zip::MemberToWrite> members;
  for (const auto& [key, tensor] : arrays) {
    const std::string where = fmt::format("cannot write '{}': array '{}'", path, key);
    if (key.empty() || key.find('\0') != std::string::npos) {
      raise(ErrorCode::kInvalidArgument,
            "cannot write '{}': array names must be non-empty and contain no NUL", path);
    }
    hosts.push_back(npy::host_contiguous(tensor, where));
    headers.push_back(npy::encode_header(hosts.back().dtype(), hosts.back().shape(), where));
    members.push_back({key + std::string(kSuffix), {bytes_of(headers.back()), bytes_of(hosts.back())}});
  }
  npy::FileSink sink(path);
  zip::write_archive(sink, members, compress);
  sink.commit();
}

}  // namespace kiln
