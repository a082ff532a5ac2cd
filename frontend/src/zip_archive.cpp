#include "zip_archive.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "kiln/runtime/error.h"
#include "little_endian.h"
#include "zip_deflate.h"

namespace kiln::zip {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;         // "PK\3\4"
constexpr uint32_t kCentralSig = 0x02014b50;       // "PK\1\2"
constexpr uint32_t kEndSig = 0x06054b50;           // "PK\5\6"
constexpr uint32_t kZip64EndSig = 0x06064b50;      // "PK\6\6"
constexpr uint32_t kZip64LocatorSig = 0x07064b50;  // "PK\6\7"
constexpr size_t kLocalSize = 30;
constexpr size_t kCentralSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EndSize = 56;
constexpr uint16_t kZip64ExtraTag = 0x0001;
constexpr uint16_t kFlagEncrypted = 1 << 0;
constexpr uint16_t kFlagUtf8 = 1 << 11;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;
constexpr uint32_t kMax32 = 0xffffffff;
constexpr uint16_t kMax16 = 0xffff;

std::string member_where(const npy::ByteSource& archive, const std::string& name) {
  return fmt::format("{}: member '{}'", archive.where(), name);
}

struct EndRecord {
  uint64_t entries = 0;
  uint64_t directory_size = 0;
  uint64_t directory_offset = 0;
  uint64_t limit = 0;  // the directory must end here: at the (zip64) end record
};

EndRecord read_end_record(const npy::ByteSource& archive) {
  const std::string& where = archive.where();
  const uint64_t size = archive.size();
  // The record is the last thing in the file, followed only by a comment of up to 65535 bytes.
  const uint64_t window = std::min<uint64_t>(size, kEndSize + kMax16);
  std::vector<uint8_t> tail(static_cast<size_t>(window));
  archive.read(size - window, tail.data(), tail.size());
  std::optional<size_t> found;
  for (size_t i = tail.size() >= kEndSize ? tail.size() - kEndSize + 1 : 0; i-- > 0;) {
    if (get32(&tail[i]) == kEndSig && i + kEndSize + get16(&tail[i + 20]) == tail.size()) {
      found = i;
      break;
    }
  }
  if (!found) {
    raise(ErrorCode::kInvalidArgument, "{}: not a ZIP archive (no end-of-central-directory record)", where);
  }
  const uint8_t* p = &tail[*found];
  const uint64_t end_offset = size - window + *found;
  EndRecord end;
  uint32_t disk = get16(p + 4), directory_disk = get16(p + 6);
  uint64_t disk_entries = get16(p + 8);
  end.entries = get16(p + 10);
  end.directory_size = get32(p + 12);
  end.directory_offset = get32(p + 16);
  end.limit = end_offset;

  const bool has_locator = end_offset >= kZip64LocatorSize && [&] {
    uint8_t sig[4];
    archive.read(end_offset - kZip64LocatorSize, sig, 4);
    return get32(sig) == kZip64LocatorSig;
  }();
  if (has_locator) {
    uint8_t loc[kZip64LocatorSize];
    archive.read(end_offset - kZip64LocatorSize, loc, sizeof(loc));
    const uint64_t record_offset = get64(loc + 8);
    if (get32(loc + 4) != 0 || get32(loc + 16) != 1) {
      raise(ErrorCode::kInvalidArgument, "{}: multi-disk ZIP archives are not supported", where);
    }
    if (record_offset > end_offset - kZip64LocatorSize ||
        end_offset - kZip64LocatorSize - record_offset < kZip64EndSize) {
      raise(ErrorCode::kInvalidArgument,
            "{}: corrupt ZIP archive: zip64 end record offset {} is out of range", where, record_offset);
    }
    uint8_t rec[kZip64EndSize];
    archive.read(record_offset, rec, sizeof(rec));
    if (get32(rec) != kZip64EndSig) {
      raise(ErrorCode::kInvalidArgument, "{}: corrupt ZIP archive: no zip64 end record at offset {}", where,
            record_offset);
    }
    disk = get32(rec + 16);
    directory_disk = get32(rec + 20);
    disk_entries = get64(rec + 24);
    end.entries = get64(rec + 32);
    end.directory_size = get64(rec + 40);
    end.directory_offset = get64(rec + 48);
    end.limit = record_offset;
  }
  if (disk != 0 || directory_disk != 0 || disk_entries != end.entries) {
    raise(ErrorCode::kInvalidArgument, "{}: multi-disk ZIP archives are not supported", where);
  }
  if (end.directory_offset > end.limit || end.directory_size != end.limit - end.directory_offset) {
    raise(ErrorCode::kInvalidArgument,
          "{}: corrupt ZIP archive: central directory at offset {} with {} bytes does not end at the end "
          "record "
          "(offset {})",
          where, end.directory_offset, end.directory_size, end.limit);
  }
  if (end.entries > end.directory_size / kCentralSize) {
    raise(ErrorCode::kInvalidArgument,
          "{}: corrupt ZIP archive: {} entries cannot fit in a {} byte directory", where, end.entries,
          end.directory_size);
  }
  return end;
}

// Replaces the 32-bit fields saturated at 0xffffffff with their zip64 extra field values.
void apply_zip64_extra(const uint8_t* extra, size_t extra_len, Entry& entry, const std::string& where) {
  uint64_t* fields[] = {&entry.uncompressed_size, &entry.compressed_size, &entry.local_header_offset};
  bool need = false;
  for (uint64_t* f : fields) need = need || *f == kMax32;
  if (!need) return;
  size_t at = 0;
  while (at + 4 <= extra_len) {
    const uint16_t tag = get16(extra + at), len = get16(extra + at + 2);
    if (at + 4 + len > extra_len) break;
    if (tag == kZip64ExtraTag) {
      size_t field = at + 4;
      for (uint64_t* f : fields) {
        if (*f != kMax32) continue;
        if (field + 8 > at + 4 + len) {
          raise(ErrorCode::kInvalidArgument, "{}: corrupt ZIP archive: zip64 extra field is too short",
                where);
        }
        *f = get64(extra + field);
        field += 8;
      }
      return;
    }
    at += 4 + len;
  }
  raise(ErrorCode::kInvalidArgument,
        "{}: corrupt ZIP archive: size or offset is 0xffffffff without a zip64 field", where);
}

}  // namespace

Directory read_directory(const npy::ByteSource& archive) {
  const EndRecord end = read_end_record(archive);
  std::vector<uint8_t> dir(static_cast<size_t>(end.directory_size));
  archive.read(end.directory_offset, dir.data(), dir.size());
  Directory out;
  out.data_end = end.directory_offset;
  size_t at = 0;
  for (uint64_t i = 0; i < end.entries; ++i) {
    if (dir.size() - at < kCentralSize || get32(&dir[at]) != kCentralSig) {
      raise(ErrorCode::kInvalidArgument,
            "{}: corrupt ZIP archive: bad central directory entry {} at offset {}", archive.where(), i,
            end.directory_offset + at);
    }
    const uint8_t* p = &dir[at];
    Entry e;
    e.flags = get16(p + 8);
    e.method = get16(p + 10);
    e.crc = get32(p + 16);
    e.compressed_size = get32(p + 20);
    e.uncompressed_size = get32(p + 24);
    const size_t name_len = get16(p + 28), extra_len = get16(p + 30), comment_len = get16(p + 32);
    e.local_header_offset = get32(p + 42);
    if (dir.size() - at - kCentralSize < name_len + extra_len + comment_len) {
      raise(ErrorCode::kInvalidArgument,
            "{}: corrupt ZIP archive: central directory entry {} overruns the directory", archive.where(), i);
    }
    e.name.assign(reinterpret_cast<const char*>(p + kCentralSize), name_len);
    apply_zip64_extra(p + kCentralSize + name_len, extra_len, e, member_where(archive, e.name));
    // A disk number other than 0 (0xffff means "in the zip64 field") would be a multi-disk archive,
    // which the end record has already ruled out.
    out.entries.push_back(std::move(e));
    at += kCentralSize + name_len + extra_len + comment_len;
  }
  if (at != dir.size()) {
    raise(ErrorCode::kInvalidArgument,
          "{}: corrupt ZIP archive: {} stray bytes after the central directory entries", archive.where(),
          dir.size() - at);
  }
  return out;
}

std::vector<uint8_t> read_member(const npy::ByteSource& archive, const Directory& directory,
                                 const Entry& entry) {
  const std::string where = member_where(archive, entry.name);
  if (entry.flags & kFlagEncrypted)
    raise(ErrorCode::kInvalidArgument, "{}: encrypted members are not supported", where);
  if (entry.method != kMethodStored && entry.method != kMethodDeflate) {
    raise(ErrorCode::kInvalidArgument, "{}: compression method {} is not supported (only stored and deflate)",
          where, entry.method);
  }
  if (entry.local_header_offset > directory.data_end ||
      directory.data_end - entry.local_header_offset < kLocalSize) {
    raise(ErrorCode::kInvalidArgument, "{}: local header offset {} is out of range", where,
          entry.local_header_offset);
  }
  uint8_t local[kLocalSize];
  archive.read(entry.local_header_offset, local, sizeof(local));
  if (get32(local) != kLocalSig) {
    raise(ErrorCode::kInvalidArgument, "{}: no local file header at offset {}", where,
          entry.local_header_offset);
  }
  const size_t name_len = get16(local + 26), extra_len = get16(local + 28);
  const uint64_t data_offset = entry.local_header_offset + kLocalSize + name_len + extra_len;
  if (data_offset > directory.data_end || directory.data_end - data_offset < entry.compressed_size) {
    raise(ErrorCode::kInvalidArgument, "{}: data ({} bytes at offset {}) runs past the central directory",
          where, entry.compressed_size, data_offset);
  }
  std::string local_name(name_len, '\0');
  archive.read(entry.local_header_offset + kLocalSize, local_name.data(), name_len);
  if (local_name != entry.name) {
    raise(ErrorCode::kInvalidArgument, "{}: local header names it '{}'", where, local_name);
  }
  if (entry.method == kMethodStored && entry.compressed_size != entry.uncompressed_size) {
    raise(ErrorCode::kInvalidArgument, "{}: stored member has compressed size {} but size {}", where,
          entry.compressed_size, entry.uncompressed_size);
  }
  // Sizes are bounded by the archive's size here (checked above), so this allocation is safe.
  std::vector<uint8_t> raw(static_cast<size_t>(entry.compressed_size));
  archive.read(data_offset, raw.data(), raw.size());
  std::vector<uint8_t> data =
      entry.method == kMethodStored ? std::move(raw) : inflate_raw(raw, entry.uncompressed_size, where);
  const std::span<const uint8_t> whole(data);
  const uint32_t crc = crc32_of(std::span(&whole, 1));
  if (crc != entry.crc) {
    raise(ErrorCode::kInvalidArgument,
          "{}: CRC-32 mismatch (archive says {:08x}, data has {:08x}); the file is corrupt", where, entry.crc,
          crc);
  }
  return data;
}

void write_archive(npy::FileSink& sink, std::span<const MemberToWrite> members, bool compress) {
  if (members.size() >= kMax16) {
    raise(ErrorCode::kUnsupported, "cannot write '{}': {} members need zip64, which is not supported",
          sink.path(), members.size());
  }
  constexpr uint16_t kVersion = 20;                  // 2.0: deflate, no zip64
  constexpr uint16_t kMadeBy = (3 << 8) | kVersion;  // 3: Unix, so external attributes are mode bits
  constexpr uint32_t kMode = 0100644u << 16;         // regular file, rw-r--r--
  constexpr uint16_t kDosDate = (1 << 5) | 1;        // 1980-01-01 00:00: output depends only on the data
  std::vector<uint8_t> directory;
  for (const MemberToWrite& m : members) {
    uint64_t size = 0;
    for (std::span<const uint8_t> piece : m.pieces) size += piece.size();
    const uint32_t crc = crc32_of(m.pieces);
    std::vector<uint8_t> deflated;
    if (compress) deflated = deflate_raw(m.pieces, fmt::format("{}: member '{}'", sink.path(), m.name));
    const uint64_t stored_size = compress ? deflated.size() : size;
    const uint64_t offset = sink.position();
    if (size >= kMax32 || stored_size >= kMax32 || offset >= kMax32 || m.name.size() > kMax16) {
      raise(ErrorCode::kUnsupported,
            "cannot write '{}': member '{}' ({} bytes at offset {}) needs zip64, which is not supported",
            sink.path(), m.name, size, offset);
    }
    const bool utf8 =
        std::any_of(m.name.begin(), m.name.end(), [](char c) { return static_cast<uint8_t>(c) >= 0x80; });
    const uint16_t flags = utf8 ? kFlagUtf8 : 0;
    const uint16_t method = compress ? kMethodDeflate : kMethodStored;

    std::vector<uint8_t> local;
    put32(local, kLocalSig);
    put16(local, kVersion);
    put16(local, flags);
    put16(local, method);
    put16(local, 0);  // time
    put16(local, kDosDate);
    put32(local, crc);
    put32(local, stored_size);
    put32(local, size);
    put16(local, m.name.size());
    put16(local, 0);  // extra length
    local.insert(local.end(), m.name.begin(), m.name.end());
    sink.write(local);
    if (compress) {
      sink.write(deflated);
    } else {
      for (std::span<const uint8_t> piece : m.pieces) sink.write(piece);
    }

    put32(directory, kCentralSig);
    put16(directory, kMadeBy);
    put16(directory, kVersion);
    put16(directory, flags);
    put16(directory, method);
    put16(directory, 0);
    put16(directory, kDosDate);
    put32(directory, crc);
    put32(directory, stored_size);
    put32(directory, size);
    put16(directory, m.name.size());
    put16(directory, 0);  // extra length
    put16(directory, 0);  // comment length
    put16(directory, 0);  // disk number
    put16(directory, 0);  // internal attributes
    put32(directory, kMode);
    put32(directory, offset);
    directory.insert(directory.end(), m.name.begin(), m.name.end());
  }
  const uint64_t directory_offset = sink.position();
  if (directory_offset >= kMax32 || directory.size() >= kMax32) {
    raise(ErrorCode::kUnsupported,
          "cannot write '{}': the archive exceeds 4 GiB and needs zip64, which is not supported",
          sink.path());
  }
  sink.write(directory);
  std::vector<uint8_t> end;
  put32(end, kEndSig);
  put16(end, 0);  // this disk
  put16(end, 0);  // disk with the directory
  put16(end, members.size());
  put16(end, members.size());
  put32(end, directory.size());
  put32(end, directory_offset);
  put16(end, 0);  // comment length
  sink.write(end);
}

}  // namespace kiln::zip
