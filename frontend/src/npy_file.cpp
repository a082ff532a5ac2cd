#include "npy_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "kiln/runtime/error.h"

namespace kiln::npy {

void ByteSource::check_range(uint64_t offset, size_t bytes) const {
  if (offset > size() || bytes > size() - offset) {
    raise(ErrorCode::kInvalidArgument, "{}: unexpected end of data: {} bytes at offset {} needed, size is {}",
          where(), bytes, offset, size());
  }
}

FileSource::FileSource(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) raise(ErrorCode::kIo, "cannot open '{}': {}", path_, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    raise(ErrorCode::kIo, "cannot stat '{}': {}", path_, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    raise(ErrorCode::kIo, "'{}' is not a regular file", path_);
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

FileSource::~FileSource() { ::close(fd_); }

void FileSource::read(uint64_t offset, void* dst, size_t bytes) const {
  check_range(offset, bytes);
  char* out = static_cast<char*>(dst);
  while (bytes > 0) {
    // pread may return fewer bytes than asked (at most ~2 GiB per call on Linux).
    const ssize_t got = ::pread(fd_, out, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) raise(ErrorCode::kIo, "cannot read '{}': {}", path_, std::strerror(errno));
    if (got == 0) {
      raise(ErrorCode::kInvalidArgument, "{}: file shrank while being read (offset {})", path_, offset);
    }
    out += got;
    offset += static_cast<uint64_t>(got);
    bytes -= static_cast<size_t>(got);
  }
}

void MemorySource::read(uint64_t offset, void* dst, size_t bytes) const {
  check_range(offset, bytes);
  if (bytes > 0) std::memcpy(dst, bytes_.data() + offset, bytes);
}

FileSink::FileSink(std::string path) : path_(std::move(path)) {
  temp_path_ = path_ + ".tmp-XXXXXX";
  fd_ = ::mkostemp(temp_path_.data(), O_CLOEXEC);
  if (fd_ < 0) {
    temp_path_.clear();
    fail("cannot create a temporary file next to it");
  }
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void FileSink::fail(const char* what) const {
  raise(ErrorCode::kIo, "cannot write '{}': {}: {}", path_, what, std::strerror(errno));
}

void FileSink::write(const void* data, size_t bytes) {
  const char* in = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t put = ::write(fd_, in, bytes);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) fail("write failed");
    in += put;
    bytes -= static_cast<size_t>(put);
    position_ += static_cast<uint64_t>(put);
  }
}

void FileSink::commit() {
  // mkostemp creates the file 0600; an array file is usually shared like any other output.
  if (::fchmod(fd_, 0644) != 0) fail("chmod failed");
  if (::fsync(fd_) != 0) fail("fsync failed");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed");
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("rename failed");
  temp_path_.clear();
  // The rename itself is durable only once the folder's entry is on disk.
  const size_t slash = path_.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) fail("cannot open its folder to fsync it");
  const int synced = ::fsync(dir);
  ::close(dir);
  if (synced != 0) fail("fsync of its folder failed");
}

}  // namespace kiln::npy
