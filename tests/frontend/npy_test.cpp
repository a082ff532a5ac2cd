// .npy/.npz reading and writing: round trips, bytes numpy writes (hand-written here, so no numpy
// is needed at test time), hand-assembled ZIP archives, and every kind of bad file.

#include "kiln/frontend/npy.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "frontend/frontend_test_util.h"
#include "test_errors.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using Bytes = std::string;

Bytes le16(uint32_t v) { return {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)}; }
Bytes le32(uint32_t v) { return le16(v & 0xffff) + le16(v >> 16); }
Bytes le64(uint64_t v) { return le32(static_cast<uint32_t>(v)) + le32(static_cast<uint32_t>(v >> 32)); }

// A .npy file from its parts: major version 1 has a 2-byte header length, 2 and 3 a 4-byte one.
Bytes npy_file(const Bytes& header, const Bytes& data, int major = 1) {
  Bytes out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  out += major == 1 ? le16(static_cast<uint32_t>(header.size())) : le32(static_cast<uint32_t>(header.size()));
  return out + header + data;
}

Bytes raw_of(const Tensor& t) { return Bytes(static_cast<const char*>(t.raw_data()), t.nbytes()); }

// Bytes of np.save(np.arange(6, dtype='<f4').reshape(2, 3)) under numpy 1.24: 10 bytes of magic,
// version and length 118 ('v'), the dict padded with spaces and '\n' to 128, then the data.
const Bytes kArange23F32 =
    std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') + "\n" +
    std::string(
        "\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\xa0\x40",
        24);

// np.save(np.arange(3)) (int64), the member of numpy's savez example below.
const Bytes kArange3I64 = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                          "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }" + std::string(60, ' ') +
                          "\n" + le64(0) + le64(1) + le64(2);

TEST(Npy, GoldenBytesFromNumpyRead) {
  ASSERT_EQ(kArange23F32.size(), 128u + 24u);
  TempDir dir;
  write_bytes(dir.file("a.npy"), kArange23F32);
  Tensor t = read_npy(dir.file("a.npy"));
  EXPECT_EQ(t.dtype(), DType::kF32);
  EXPECT_EQ(t.shape(), (Dims{2, 3}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(Npy, WritesNumpysExactBytes) {
  TempDir dir;
  write_npy(dir.file("a.npy"), Tensor::from_vector<float>({2, 3}, {0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(read_bytes(dir.file("a.npy")), kArange23F32);
  write_npy(dir.file("b.npy"), Tensor::from_vector<int64_t>({3}, {0, 1, 2}));
  EXPECT_EQ(read_bytes(dir.file("b.npy")), kArange3I64);
  // Rank 0 (no spare digits) and a size-0 dim, as np.save writes them.
  write_npy(dir.file("c.npy"), Tensor::scalar<bool>(true));
  EXPECT_EQ(read_bytes(dir.file("c.npy")), std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                                               "{'descr': '|b1', 'fortran_order': False, 'shape': (), }" +
                                               std::string(62, ' ') + "\n\x01");
  write_npy(dir.file("d.npy"), Tensor::empty({2, 0, 3}, DType::kI32));
  EXPECT_EQ(read_bytes(dir.file("d.npy")),
            std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 0, 3), }" + std::string(55, ' ') +
                "\n");
}

// Deterministic values of every dtype, with some negatives and fractions where the type has them.
Tensor sample(DType dtype, const Dims& shape) {
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::kF32:
        t.data<float>()[i] = static_cast<float>(i) * 0.25f - 3.0f;
        break;
      case DType::kF64:
        t.data<double>()[i] = static_cast<double>(i) * -1.5 + 1e-300;
        break;
      case DType::kI64:
        t.data<int64_t>()[i] = (int64_t{1} << 40) - i * 7;
        break;
      case DType::kI32:
        t.data<int32_t>()[i] = -100000 + static_cast<int32_t>(i) * 3;
        break;
      case DType::kBool:
        t.data<bool>()[i] = (i % 3) == 1;
        break;
      case DType::kU8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(250 + i);
        break;
      case DType::kI8:
        t.data<int8_t>()[i] = static_cast<int8_t>(-128 + i);
        break;
      default:
        static_cast<uint8_t*>(t.raw_data())[i * 2] = static_cast<uint8_t>(i);
        break;  // f16 bits
    }
  }
  return t;
}

TEST(Npy, RoundTripEveryDtypeAndRank) {
  TempDir dir;
  const std::vector<Dims> shapes = {{}, {0}, {5}, {2, 3}, {3, 0}, {2, 3, 4}, {1, 2, 3, 2}, {2, 0, 1, 3}};
  for (DType dtype : {DType::kF32, DType::kF64, DType::kI64, DType::kI32, DType::kBool, DType::kU8,
                      DType::kI8, DType::kF16}) {
    for (const Dims& shape : shapes) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " " + to_string(shape));
      const Tensor t = sample(dtype, shape);
      const std::string path = dir.file("t.npy");
      write_npy(path, t);
      const Bytes file = read_bytes(path);
      EXPECT_EQ(file.size() % 64, t.nbytes() % 64) << "the data must start on a 64-byte boundary";
      const Tensor back = read_npy(path);
      EXPECT_EQ(back.dtype(), dtype);
      EXPECT_EQ(back.shape(), shape);
      EXPECT_EQ(raw_of(back), raw_of(t));
    }
  }
}

TEST(Npy, WritesViewsInCOrder) {
  TempDir dir;
  const Tensor t = Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6}).transpose(0, 1);
  write_npy(dir.file("t.npy"), t);
  const Tensor back = read_npy(dir.file("t.npy"));
  EXPECT_EQ(back.shape(), (Dims{3, 2}));
  EXPECT_EQ(back.to_vector<int32_t>(), (std::vector<int32_t>{1, 4, 2, 5, 3, 6}));
}

TEST(Npy, OverwritesAndLeavesNoTemporaryFiles) {
  TempDir dir;
  write_npy(dir.file("t.npy"), Tensor::from_vector<float>({4}, {1, 2, 3, 4}));
  write_npy(dir.file("t.npy"), Tensor::scalar<int64_t>(7));
  EXPECT_EQ(read_npy(dir.file("t.npy")).item<int64_t>(), 7);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);
}

// Headers other writers produce: any key order, double quotes, no trailing comma, old 16-byte
// alignment, versions 2.0 and 3.0, Python 2 longs, big-endian data.
TEST(Npy, ReadsHeaderVariants) {
  TempDir dir;
  const std::string path = dir.file("v.npy");
  const Bytes f32_data = le32(0x3f800000) + le32(0x40000000) + le32(0xc0400000);  // 1, 2, -3
  struct Case {
    Bytes header;
    int major;
  };
  const std::vector<Case> cases = {
      {"{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}\n", 1},
      {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}   \n", 1},
      {"{ 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 3 , ) , }", 1},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }    \n", 1},
      {"{'descr': 'f4', 'fortran_order': False, 'shape': (3,), }\n", 2},
      {"{'descr': '=f4', 'fortran_order': False, 'shape': (3,), }\n", 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    write_bytes(path, npy_file(c.header, f32_data, c.major));
    const Tensor t = read_npy(path);
    EXPECT_EQ(t.shape(), (Dims{3}));
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, -3}));
  }
  // Big-endian files are converted to the host's order.
  write_bytes(path, npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n",
                             std::string("\x3f\x80\x00\x00\xc0\x40\x00\x00", 8)));
  EXPECT_EQ(read_npy(path).to_vector<float>(), (std::vector<float>{1, -3}));
  write_bytes(path, npy_file("{'descr': '>i8', 'fortran_order': False, 'shape': (1, 1), }\n",
                             std::string("\x00\x00\x00\x00\x00\x00\x01\x02", 8)));
  EXPECT_EQ(read_npy(path).to_vector<int64_t>(), (std::vector<int64_t>{0x0102}));
  // Rank 0, and bools stored as nonzero bytes other than 1.
  write_bytes(path, npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (), }\n", le32(42)));
  const Tensor scalar = read_npy(path);
  EXPECT_EQ(scalar.rank(), 0u);
  EXPECT_EQ(scalar.item<int32_t>(), 42);
  write_bytes(path, npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n",
                             std::string("\x00\x02\x01", 3)));
  EXPECT_EQ(read_npy(path).to_vector<bool>(), (std::vector<bool>{false, true, true}));
}

TEST(NpyErrors, MissingFileNamesThePath) {
  TempDir dir;
  expect_error([&] { read_npy(dir.file("nope.npy")); }, ErrorCode::kIo, dir.file("nope.npy"));
  expect_error([&] { read_npy(dir.path()); }, ErrorCode::kIo, dir.path());
  expect_error([&] { read_npz(dir.file("nope.npz")); }, ErrorCode::kIo, dir.file("nope.npz"));
}

TEST(NpyErrors, BadMagic) {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  for (const Bytes& bytes : {Bytes(), Bytes("\x93NUMP"), Bytes("PK\x03\x04 this is a zip, not an npy"),
                             "\x93NUMPZ\x01\x00" + kArange23F32.substr(8)}) {
    write_bytes(path, bytes);
    expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "bad magic"});
  }
}

TEST(NpyErrors, UnknownVersion) {
  TempDir dir;
  const std::string path = dir.file("v.npy");
  write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", le32(0), 4));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "version 4.0"});
}

TEST(NpyErrors, TruncatedHeader) {
  TempDir dir;
  const std::string path = dir.file("t.npy");
  for (size_t keep : {9, 10, 50, 127}) {
    write_bytes(path, kArange23F32.substr(0, keep));
    expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "truncated .npy header"});
  }
  // A version 2.0 length of 4 GiB: refused before anything is read or allocated.
  write_bytes(path, std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "header length"});
}

TEST(NpyErrors, MalformedHeaderDict) {
  TempDir dir;
  const std::string path = dir.file("m.npy");
  const std::vector<std::pair<Bytes, std::string>> cases = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", "expected ','"},
      {"descr: <f4, fortran_order: False, shape: (3,)\n", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} extra\n", "after '}'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (3,)}\n", "malformed"},
      {"{'descr': '<f4', 'fortran_order': False}\n", "lacks key 'shape'"},
      {"{'descr': '<f4', 'shape': (3,)}\n", "lacks key 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}\n", "unknown key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n", "'descr' twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3)}\n", "expected a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [3]}\n", "expected a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}\n", "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3.5,)}\n", "expected ','"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}\n", "64 bits"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}\n", "expected True or False"},
      {"{'descr': 4, 'fortran_order': False, 'shape': (3,)}\n", "expected a string"},
  };
  for (const auto& [header, needle] : cases) {
    SCOPED_TRACE(header);
    write_bytes(path, npy_file(header, std::string(12, '\0')));
    expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, needle});
  }
}

TEST(NpyErrors, UnsupportedDtype) {
  TempDir dir;
  const std::string path = dir.file("d.npy");
  for (const char* descr : {"<c8", "|O", "O", "<U5", "<u4", "|f4"}) {
    write_bytes(path,
                npy_file(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,), }\n",
                         std::string(8, '\0')));
    expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, descr});
  }
  write_bytes(path,
              npy_file("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }\n",
                       std::string(8, '\0')));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "structured dtype"});
}

TEST(NpyErrors, FortranOrder) {
  TempDir dir;
  const std::string path = dir.file("f.npy");
  write_bytes(
      path, npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", std::string(16, '\0')));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "Fortran"});
}

TEST(NpyErrors, DataShorterOrLongerThanTheShape) {
  TempDir dir;
  const std::string path = dir.file("s.npy");
  write_bytes(path, kArange23F32.substr(0, kArange23F32.size() - 1));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "truncated", "needs 24"});
  write_bytes(path, kArange23F32 + "x");
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "trailing bytes", "25 bytes"});
  // A shape of 10^12 floats over 4 bytes of data: reported, never allocated.
  write_bytes(path,
              npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }\n", le32(0)));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "file truncated"});
}

TEST(NpyErrors, DimsOverflow) {
  TempDir dir;
  const std::string path = dir.file("o.npy");
  write_bytes(path,
              npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }\n",
                       le32(0)));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "[4294967296,4294967296,16]"});
  // The element count fits in int64 but not its byte size.
  write_bytes(path, npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }\n",
                             le32(0)));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "too large"});
}

TEST(NpyErrors, WriteFailures) {
  TempDir dir;
  const std::string missing_dir = dir.file("no/such/dir/a.npy");
  expect_error([&] { write_npy(missing_dir, Tensor::scalar<float>(1)); }, ErrorCode::kIo, missing_dir);
  expect_error([&] { write_npy(dir.file("u.npy"), Tensor()); }, ErrorCode::kInvalidArgument, "undefined");
  expect_error([&] { write_npy(dir.file("b.npy"), Tensor::zeros({2}, DType::kBF16)); },
               ErrorCode::kUnsupported, "bf16");
  EXPECT_FALSE(fs::exists(dir.file("u.npy")));
  EXPECT_FALSE(fs::exists(dir.file("b.npy")));
  expect_error(
      [&] {
        write_npz(dir.file("e.npz"), {{"", Tensor::scalar<float>(1)}});
      },
      ErrorCode::kInvalidArgument, "non-empty");
  expect_error(
      [&] {
        write_npz(missing_dir, {{"a", Tensor::scalar<float>(1)}});
      },
      ErrorCode::kIo, missing_dir);
  expect_error(
      [&] {
        write_npz(dir.file("b.npz"), {{"w", Tensor::zeros({2}, DType::kBF16)}});
      },
      ErrorCode::kUnsupported, {dir.file("b.npz"), "array 'w'", "bf16"});
  EXPECT_FALSE(fs::exists(dir.file("b.npz")));
  expect_error([&] { write_npy(dir.file("r.npy"), Tensor::zeros(Dims(65, 1), DType::kF32)); },
               ErrorCode::kInvalidArgument, "rank 65");
  // Only the failed writes' target names were touched, and nothing was left behind.
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(NpyErrors, RankOverLimit) {
  TempDir dir;
  const std::string path = dir.file("r.npy");
  std::string dims;
  for (int i = 0; i < 65; ++i) dims += "1,";
  write_bytes(path,
              npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }\n", le32(0)));
  expect_error([&] { read_npy(path); }, ErrorCode::kInvalidArgument, {path, "more than 64 dimensions"});
}

// ---- npz ----

uint32_t crc_of(const Bytes& data) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

Bytes deflate_with_zlib(const Bytes& data) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&s, data.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// One member of a hand-assembled archive; the fields are written as given, so tests can lie.
struct ZipMember {
  Bytes name;
  Bytes data;         // as stored in the archive (compressed when method is 8)
  uint32_t size = 0;  // uncompressed size
  uint32_t crc = 0;
  uint16_t method = 0;
  uint16_t flags = 0;
  Bytes local_extra;
  Bytes central_extra;
  uint32_t central_compressed = 0;  // 0: data.size()
  uint32_t central_size = 0;        // 0: size
  uint32_t central_offset = 0;      // 0: the real offset
};

ZipMember stored(const Bytes& name, const Bytes& data) {
  ZipMember m;
  m.name = name;
  m.data = data;
  m.size = static_cast<uint32_t>(data.size());
  m.crc = crc_of(data);
  return m;
}
ZipMember deflated(const Bytes& name, const Bytes& data) {
  ZipMember m = stored(name, data);
  m.data = deflate_with_zlib(data);
  m.method = 8;
  return m;
}

// APPNOTE 4.3.7 local header, 4.3.12 central directory header, 4.3.16 end of central directory.
Bytes zip_archive(const std::vector<ZipMember>& members, const Bytes& zip64_tail = "") {
  Bytes out, central;
  for (const ZipMember& m : members) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    out += "PK\x03\x04" + le16(20) + le16(m.flags) + le16(m.method) + le16(0) + le16(0x21) + le32(m.crc) +
           le32(static_cast<uint32_t>(m.data.size())) + le32(m.size) +
           le16(static_cast<uint32_t>(m.name.size())) + le16(static_cast<uint32_t>(m.local_extra.size())) +
           m.name + m.local_extra + m.data;
    central += "PK\x01\x02" + le16(0x0314) + le16(20) + le16(m.flags) + le16(m.method) + le16(0) +
               le16(0x21) + le32(m.crc) +
               le32(m.central_compressed ? m.central_compressed : static_cast<uint32_t>(m.data.size())) +
               le32(m.central_size ? m.central_size : m.size) + le16(static_cast<uint32_t>(m.name.size())) +
               le16(static_cast<uint32_t>(m.central_extra.size())) + le16(0) + le16(0) + le16(0) + le32(0) +
               le32(m.central_offset ? m.central_offset : offset) + m.name + m.central_extra;
  }
  const uint32_t central_offset = static_cast<uint32_t>(out.size());
  const auto count = static_cast<uint32_t>(members.size());
  if (!zip64_tail.empty()) return out + central + zip64_tail;
  return out + central + "PK\x05\x06" + le16(0) + le16(0) + le16(count) + le16(count) +
         le32(static_cast<uint32_t>(central.size())) + le32(central_offset) + le16(0);
}

Bytes f32_npy(const std::vector<float>& values) {
  Bytes data;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    data += le32(bits);
  }
  return npy_file(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(values.size()) + ",), }\n",
      data);
}

TEST(Npz, ReadsHandAssembledStoredArchive) {
  TempDir dir;
  const std::string path = dir.file("s.npz");
  write_bytes(path, zip_archive({stored("x.npy", f32_npy({1, 2, 3})), stored("y.npy", kArange23F32),
                                 stored("sub/", "")}));
  const auto arrays = read_npz(path);
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays.at("x").to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(arrays.at("y").shape(), (Dims{2, 3}));
  EXPECT_EQ(arrays.at("y").to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(Npz, ReadsHandAssembledDeflatedArchive) {
  TempDir dir;
  const std::string path = dir.file("d.npz");
  std::vector<float> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 7);
  const ZipMember member = deflated("big.npy", f32_npy(big));
  ASSERT_LT(member.data.size(), member.size / 4) << "test data should compress";
  write_bytes(path, zip_archive({member, deflated("empty.npy", f32_npy({})), stored("s.npy", kArange3I64)}));
  const auto arrays = read_npz(path);
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays.at("big").to_vector<float>(), big);
  EXPECT_EQ(arrays.at("empty").shape(), (Dims{0}));
  EXPECT_EQ(arrays.at("s").to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

// np.savez('x.npz', a=np.arange(3)) under numpy 1.24 / Python 3.11: zipfile writes a zip64 extra
// field (tag 1, both sizes) in the local header but a plain central directory entry.
TEST(Npz, ReadsNumpySavezLayout) {
  TempDir dir;
  const std::string path = dir.file("numpy.npz");
  ZipMember m = stored("a.npy", kArange3I64);
  ASSERT_EQ(m.crc, 0xea1240f7u);  // the CRC numpy's archive holds
  m.local_extra = le16(1) + le16(16) + le64(kArange3I64.size()) + le64(kArange3I64.size());
  write_bytes(path, zip_archive({m}));
  EXPECT_EQ(read_npz(path).at("a").to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

// Sizes and offsets in zip64 fields, with the zip64 end record and its locator (APPNOTE 4.3.14,
// 4.3.15), as large archives have them.
TEST(Npz, ReadsZip64Directory) {
  TempDir dir;
  const std::string path = dir.file("z64.npz");
  ZipMember m = stored("a.npy", kArange3I64);
  m.central_compressed = m.central_size = m.central_offset = 0xffffffff;
  m.central_extra = le16(1) + le16(24) + le64(m.size) + le64(m.data.size()) + le64(0);
  // Member length is 30 + 5 + 152; its central entry is 46 + 5 + 28.
  const uint64_t central_offset = 30 + 5 + kArange3I64.size();
  const uint64_t central_size = 46 + 5 + 28;
  const uint64_t record_offset = central_offset + central_size;
  const Bytes tail = "PK\x06\x06" + le64(44) + le16(45) + le16(45) + le32(0) + le32(0) + le64(1) + le64(1) +
                     le64(central_size) + le64(central_offset) +               // zip64 end record
                     "PK\x06\x07" + le32(0) + le64(record_offset) + le32(1) +  // locator
                     "PK\x05\x06" + le16(0xffff) + le16(0xffff) + le16(0xffff) + le16(0xffff) +
                     le32(0xffffffff) + le32(0xffffffff) + le16(0);
  write_bytes(path, zip_archive({m}, tail));
  EXPECT_EQ(read_npz(path).at("a").to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

TEST(Npz, RoundTripStoredAndDeflated) {
  TempDir dir;
  std::map<std::string, Tensor> arrays;
  for (DType dtype : {DType::kF32, DType::kF64, DType::kI64, DType::kI32, DType::kBool, DType::kU8}) {
    arrays[std::string(to_string(dtype))] = sample(dtype, {3, 4});
    arrays[std::string(to_string(dtype)) + "_scalar"] = sample(dtype, {});
    arrays[std::string(to_string(dtype)) + "_empty"] = sample(dtype, {0, 2});
  }
  arrays["nested/name with spaces"] = sample(DType::kF32, {2, 1, 1, 2});
  std::vector<float> zeros(10000, 0.0f);
  arrays["zeros"] = Tensor::from_vector<float>({100, 100}, zeros);
  for (bool compress : {false, true}) {
    SCOPED_TRACE(compress ? "deflated" : "stored");
    const std::string path = dir.file(compress ? "c.npz" : "s.npz");
    write_npz(path, arrays, compress);
    const Bytes file = read_bytes(path);
    ASSERT_EQ(file.substr(0, 4), "PK\x03\x04");
    EXPECT_EQ(file[8], compress ? 8 : 0) << "compression method of the first member";
    if (compress) {
      EXPECT_LT(file.size(), 20000u) << "zeros should deflate";
    }
    const auto back = read_npz(path);
    ASSERT_EQ(back.size(), arrays.size());
    for (const auto& [name, tensor] : arrays) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(back.contains(name));
      EXPECT_EQ(back.at(name).dtype(), tensor.dtype());
      EXPECT_EQ(back.at(name).shape(), tensor.shape());
      EXPECT_EQ(raw_of(back.at(name)), raw_of(tensor));
    }
  }
  write_npz(dir.file("none.npz"), {});
  EXPECT_TRUE(read_npz(dir.file("none.npz")).empty());
}

// The member layout write_npz produces, checked field by field against the APPNOTE layout, so
// that other readers (numpy's zipfile) see what this reader sees.
TEST(Npz, WritesStandardZipFields) {
  TempDir dir;
  const std::string path = dir.file("w.npz");
  write_npz(path, {{"a", Tensor::from_vector<int64_t>({3}, {0, 1, 2})}});
  const Bytes file = read_bytes(path);
  const Bytes expected_member = "PK\x03\x04" + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) +
                                le32(0xea1240f7) + le32(152) + le32(152) + le16(5) + le16(0) + "a.npy" +
                                kArange3I64;
  ASSERT_GE(file.size(), expected_member.size());
  EXPECT_EQ(file.substr(0, expected_member.size()), expected_member);
  const Bytes central = file.substr(expected_member.size(), 46 + 5);
  EXPECT_EQ(central.substr(0, 4), "PK\x01\x02");
  EXPECT_EQ(central.substr(16, 12), le32(0xea1240f7) + le32(152) + le32(152));
  EXPECT_EQ(central.substr(42, 4), le32(0)) << "local header offset";
  EXPECT_EQ(central.substr(46), "a.npy");
  EXPECT_EQ(file.substr(expected_member.size() + central.size()),
            "PK\x05\x06" + le16(0) + le16(0) + le16(1) + le16(1) + le32(51) +
                le32(static_cast<uint32_t>(expected_member.size())) + le16(0));
}

TEST(NpzErrors, CrcMismatchNamesTheMember) {
  TempDir dir;
  const std::string path = dir.file("crc.npz");
  ZipMember bad = stored("bad.npy", kArange23F32);
  bad.data[bad.data.size() - 1] ^= 0x01;  // flip one bit of the last float
  write_bytes(path, zip_archive({stored("good.npy", kArange3I64), bad}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "'bad.npy'", "CRC-32 mismatch"});
  // The same in a deflated member.
  ZipMember d = deflated("d.npy", kArange23F32);
  d.crc ^= 0x100;
  write_bytes(path, zip_archive({d}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "'d.npy'", "CRC-32 mismatch"});
}

TEST(NpzErrors, NotAZip) {
  TempDir dir;
  const std::string path = dir.file("x.npz");
  Bytes noise;
  for (int i = 0; i < 1000; ++i) noise += static_cast<char>((i * 7919) % 251);
  for (const Bytes& bytes : {Bytes(), noise, kArange23F32}) {
    write_bytes(path, bytes);
    expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "not a ZIP archive"});
  }
  // Cut short: the end record is gone.
  const Bytes whole = zip_archive({stored("a.npy", kArange3I64)});
  write_bytes(path, whole.substr(0, whole.size() - 10));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "not a ZIP archive"});
}

TEST(NpzErrors, DuplicateMemberNames) {
  TempDir dir;
  const std::string path = dir.file("dup.npz");
  write_bytes(path, zip_archive({stored("a.npy", kArange3I64), stored("a.npy", kArange23F32)}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "duplicate member 'a.npy'"});
}

TEST(NpzErrors, BadMembers) {
  TempDir dir;
  const std::string path = dir.file("m.npz");
  write_bytes(path, zip_archive({stored("notes.txt", "hello")}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "'notes.txt' is not a .npy"});
  // A member whose .npy content is bad names both the archive and the member.
  write_bytes(path, zip_archive({stored("t.npy", kArange23F32.substr(0, 140))}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "member 't.npy'", "truncated"});
  ZipMember bzip2 = stored("b.npy", kArange3I64);
  bzip2.method = 12;
  write_bytes(path, zip_archive({bzip2}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'b.npy'", "method 12"});
  ZipMember encrypted = stored("e.npy", kArange3I64);
  encrypted.flags = 1;
  write_bytes(path, zip_archive({encrypted}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'e.npy'", "encrypted"});
}

TEST(NpzErrors, CorruptDeflateData) {
  TempDir dir;
  const std::string path = dir.file("z.npz");
  ZipMember garbage = deflated("g.npy", kArange23F32);
  garbage.data = std::string("\xff\xff\xff\xff\xff\xff", 6);
  write_bytes(path, zip_archive({garbage}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'g.npy'", "corrupt deflate data"});
  ZipMember cut = deflated("c.npy", kArange23F32);
  cut.data.resize(cut.data.size() / 2);
  write_bytes(path, zip_archive({cut}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'c.npy'", "ends early"});
  ZipMember nothing = deflated("n.npy", kArange23F32);
  nothing.data.clear();
  write_bytes(path, zip_archive({nothing}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'n.npy'", "ends early"});
  ZipMember longer = deflated("l.npy", kArange23F32);
  longer.size -= 1;  // the stream decodes to one byte more than declared
  write_bytes(path, zip_archive({longer}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'l.npy'", "more than the declared"});
  ZipMember shorter = deflated("s.npy", kArange23F32);
  shorter.size += 1;
  write_bytes(path, zip_archive({shorter}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'s.npy'", "decodes to 152 bytes"});
}

TEST(NpzErrors, InconsistentDirectory) {
  TempDir dir;
  const std::string path = dir.file("i.npz");
  ZipMember far = stored("a.npy", kArange3I64);
  far.central_offset = 100000;
  write_bytes(path, zip_archive({far}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'a.npy'", "out of range"});
  ZipMember lying = stored("a.npy", kArange3I64);
  lying.central_compressed = lying.central_size = 100000;
  write_bytes(path, zip_archive({lying}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'a.npy'", "runs past"});
  ZipMember missing64 = stored("a.npy", kArange3I64);
  missing64.central_size = 0xffffffff;
  write_bytes(path, zip_archive({missing64}));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"'a.npy'", "zip64"});
  // The end record claims more entries than the directory holds.
  Bytes whole = zip_archive({stored("a.npy", kArange3I64)});
  whole[whole.size() - 12] = 9;  // total entries
  whole[whole.size() - 14] = 9;  // entries on this disk
  write_bytes(path, whole);
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {path, "corrupt ZIP archive"});
}

// Damaged copies of valid files (bytes changed, cut short) must fail with kiln::Error or read
// as some array; never crash, hang, or throw anything else.
TEST(NpzErrors, DamagedFilesOnlyRaiseKilnErrors) {
  TempDir dir;
  const std::string npz_path = dir.file("good.npz");
  write_npz(npz_path, {{"a", sample(DType::kF32, {4, 5})}, {"b", sample(DType::kI64, {3})}}, true);
  const std::vector<std::pair<std::string, Bytes>> originals = {
      {"npy", kArange23F32},
      {"stored", zip_archive({stored("a.npy", kArange3I64), stored("b.npy", kArange23F32)})},
      {"deflated", read_bytes(npz_path)}};
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  int failures = 0, reads = 0;
  for (const auto& [kind, original] : originals) {
    for (int round = 0; round < 300; ++round) {
      Bytes bytes = original;
      if (round % 4 == 3) {
        bytes.resize(next() % bytes.size());
      } else {
        for (int k = 0; k <= round % 3; ++k) bytes[next() % bytes.size()] = static_cast<char>(next() >> 24);
      }
      // A fresh name each time: rewriting one file waits on its writeback.
      const std::string path = dir.file(kind + std::to_string(round));
      write_bytes(path, bytes);
      try {
        if (kind == "npy") {
          read_npy(path);
        } else {
          read_npz(path);
        }
        ++reads;
      } catch (const Error&) {
        ++failures;
      } catch (const std::exception& e) {
        ADD_FAILURE() << kind << " round " << round << ": " << e.what();
      }
    }
  }
  EXPECT_GT(failures, 300) << "most damage should be detected";
  EXPECT_GT(reads, 0) << "damage to padding or timestamps is harmless";
}

}  // namespace
}  // namespace kiln
