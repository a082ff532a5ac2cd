#pragma once
// Byte sources and sinks under the .npy and .npz code: a file read at offsets, bytes in memory, and
// a file written through a temporary that replaces the target only when complete.

#include <cstdint>
#include <span>
#include <string>

namespace kiln::npy {

/// Random-access bytes. read() throws Error(kInvalidArgument) naming where() when the range runs
/// past the end (a truncated file), and Error(kIo) when the underlying read fails.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  virtual void read(uint64_t offset, void* dst, size_t bytes) const = 0;
  /// Names the source in messages: a path, or "a.npz: member 'x.npy'".
  virtual const std::string& where() const = 0;

 protected:
  void check_range(uint64_t offset, size_t bytes) const;
};

/// A regular file, opened read-only. Throws Error(kIo) naming the path when it cannot be opened
/// or is not a regular file.
class FileSource final : public ByteSource {
 public:
  explicit FileSource(std::string path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t bytes) const override;
  const std::string& where() const override { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/// Bytes owned by the caller, which must outlive this source.
class MemorySource final : public ByteSource {
 public:
  MemorySource(std::span<const uint8_t> bytes, std::string where) : bytes_(bytes), where_(std::move(where)) {}

  uint64_t size() const override { return bytes_.size(); }
  void read(uint64_t offset, void* dst, size_t bytes) const override;
  const std::string& where() const override { return where_; }

 private:
  std::span<const uint8_t> bytes_;
  std::string where_;
};

/// Writes to a temporary file next to path; commit() fsyncs it, renames it over path and fsyncs
/// the folder. Destroying an uncommitted sink removes the temporary, so a failed write never
/// leaves a half-written file under the target name. Every failure throws Error(kIo) naming path.
class FileSink {
 public:
  explicit FileSink(std::string path);
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::span<const uint8_t> bytes) { write(bytes.data(), bytes.size()); }
  /// Bytes written so far.
  uint64_t position() const { return position_; }
  void commit();
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void fail(const char* what) const;
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t position_ = 0;
};

}  // namespace kiln::npy
