#include "external_data.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "kiln/runtime/error.h"

namespace kiln::onnx::detail {

namespace fs = std::filesystem;

namespace {
// True when path lies inside (or is) dir; both canonical.
bool is_inside(const fs::path& dir, const fs::path& path) {
  auto d = dir.begin(), p = path.begin();
  for (; d != dir.end(); ++d, ++p)
    if (p == path.end() || *d != *p) return false;
  return true;
}
}  // namespace

std::string resolve_external_path(const std::string& base_dir, const std::string& location,
                                  const std::string& what) {
  if (base_dir.empty())
    raise(
        ErrorCode::kInvalidArgument,
        "{}: the data is stored externally in '{}', but the model was loaded from bytes without a folder to "
        "read it from",
        what, location);
  if (location.empty()) raise(ErrorCode::kInvalidArgument, "{}: external data has an empty location", what);
  if (location.find('\0') != std::string::npos)
    raise(ErrorCode::kInvalidArgument, "{}: external data location contains a NUL byte", what);
  fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
    raise(ErrorCode::kInvalidArgument,
          "{}: external data location '{}' is an absolute path; it must be relative to the model's folder",
          what, location);
  for (const fs::path& part : rel)
    if (part == "..")
      raise(ErrorCode::kInvalidArgument,
            "{}: external data location '{}' contains '..'; it must stay inside the model's folder", what,
            location);
  std::error_code ec;
  fs::path dir = fs::canonical(base_dir, ec);
  if (ec)
    raise(ErrorCode::kIo, "{}: cannot resolve the model's folder '{}': {}", what, base_dir, ec.message());
  fs::path full = dir / rel;
  if (!fs::exists(fs::symlink_status(full, ec)))
    raise(ErrorCode::kNotFound, "{}: external data file '{}' does not exist", what, location);
  // Symlinks are followed, then the real path must still be inside the folder.
  fs::path real = fs::canonical(full, ec);
  if (ec)
    raise(ErrorCode::kNotFound, "{}: external data file '{}' cannot be resolved: {}", what, location,
          ec.message());
  if (!is_inside(dir, real))
    raise(ErrorCode::kInvalidArgument,
          "{}: external data location '{}' resolves to '{}', outside the model's folder '{}' (through a "
          "symlink)",
          what, location, real.string(), dir.string());
  if (!fs::is_regular_file(real, ec))
    raise(ErrorCode::kInvalidArgument, "{}: external data location '{}' is not a regular file", what,
          location);
  return real.string();
}

uint64_t external_file_size(const std::string& path, const std::string& what) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) raise(ErrorCode::kIo, "{}: cannot read the size of '{}': {}", what, path, ec.message());
  return size;
}

void read_external_bytes(const std::string& path, uint64_t offset, uint64_t bytes, void* out,
                         const std::string& what) {
  uint64_t size = external_file_size(path, what);
  if (offset > size || bytes > size - offset)
    raise(ErrorCode::kInvalidArgument,
          "{}: external data wants {} bytes at offset {}, but '{}' has only {} bytes", what, bytes, offset,
          fs::path(path).filename().string(), size);
  if (bytes == 0) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) raise(ErrorCode::kIo, "{}: cannot open '{}': {}", what, path, std::strerror(errno));
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes));
  if (!in || static_cast<uint64_t>(in.gcount()) != bytes)
    raise(ErrorCode::kIo, "{}: reading {} bytes at offset {} of '{}' failed", what, bytes, offset, path);
}

}  // namespace kiln::onnx::detail
