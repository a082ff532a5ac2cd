// safetensors files: golden bytes of a small file, round trips of every dtype kiln has
// (scalars, empty tensors, strided views), metadata, atomic writes, and bad files that each
// give one clear error.
#include "kiln/frontend/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "frontend_test_util.h"
#include "kiln/frontend/tensor.h"
#include "test_errors.h"

namespace kiln {
namespace {

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file as safetensors' own writer lays it out, from a header text and data bytes.
std::string file_bytes(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return u64le(header.size()) + header + data;
}

TEST(Safetensors, GoldenBytes) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  write_safetensors(
      path, {{"a", Tensor::from_vector<float>({2}, {1.0f, -2.0f})}, {"b", Tensor::scalar<int64_t>(7)}},
      {{"format", "pt"}});
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},)"
      R"("b":{"data_offsets":[8,16],"dtype":"I64","shape":[]}})";
  std::string data(16, '\0');
  const float a[2] = {1.0f, -2.0f};
  const int64_t b = 7;
  std::memcpy(data.data(), a, 8);
  std::memcpy(data.data() + 8, &b, 8);
  const std::string expected = file_bytes(header, data);
  const std::string got = read_bytes(path);
  EXPECT_EQ(got.size() % 8, 0u);
  EXPECT_EQ(got, expected);
  // Only the file itself is left in the folder (the temporary was renamed).
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u);
}

TEST(Safetensors, RoundTripsEveryDtypeShapesAndViews) {
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  Tensor m = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  std::map<std::string, Tensor> in{
      {"f32", m},
      {"f32_t", m.transpose(0, 1)},  // a strided view is written in C order
      {"f64", Tensor::from_vector<double>({3}, {0.1, -1e300, 3})},
      {"i64", Tensor::from_vector<int64_t>({2, 1}, {-5, int64_t{1} << 40})},
      {"i32", Tensor::from_vector<int32_t>({1}, {-7})},
      {"i8", Tensor::from_vector<int8_t>({2}, {-128, 127})},
      {"u8", Tensor::from_vector<uint8_t>({2}, {0, 255})},
      {"bool", Tensor::from_vector<bool>({3}, {true, false, true})},
      {"f16", cast(Tensor::from_vector<float>({2}, {1.5f, -0.25f}), DType::kF16)},
      {"scalar", Tensor::scalar<float>(3.5f)},
      {"empty", Tensor::zeros({0, 4}, DType::kF32)},
  };
  write_safetensors(path, in, {{"k", "v"}, {"producer", "kiln"}});
  SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"k", "v"}, {"producer", "kiln"}}));
  ASSERT_EQ(f.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const Tensor& r = f.tensors.at(name);
    EXPECT_EQ(r.dtype(), t.dtype()) << name;
    EXPECT_EQ(r.shape(), t.shape()) << name;
    const Tensor c = t.contiguous();
    ASSERT_EQ(r.nbytes(), c.nbytes()) << name;
    EXPECT_EQ(std::memcmp(r.raw_data(), c.raw_data(), c.nbytes()), 0) << name;
  }
  EXPECT_EQ(f.tensors.at("f32_t").to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(Safetensors, BadFilesGiveOneClearError) {
  TempDir dir;
  auto bad = [&](const std::string& name, const std::string& bytes) {
    const std::string path = dir.file(name);
    write_bytes(path, bytes);
    return path;
  };
  const std::string data8(8, '\0');
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_NO_THROW(read_safetensors(bad("ok", file_bytes(ok, data8))));
  expect_error([&] { read_safetensors(bad("short", "abc")); }, ErrorCode::kInvalidArgument, "too short");
  expect_error([&] { read_safetensors(bad("len", u64le(1000) + "{}")); }, ErrorCode::kInvalidArgument,
               "header length 1000 runs past the end");
  expect_error([&] { read_safetensors(bad("json", file_bytes("{\"a\": [", ""))); },
               ErrorCode::kInvalidArgument, "not valid JSON");
  expect_error([&] { read_safetensors(bad("array", file_bytes("[1,2]", ""))); }, ErrorCode::kInvalidArgument,
               "not a JSON object");
  expect_error(
      [&] {
        read_safetensors(
            bad("dtype", file_bytes(R"({"a":{"dtype":"X9","shape":[2],"data_offsets":[0,8]}})", data8)));
      },
      ErrorCode::kInvalidArgument, {"tensor 'a'", "unknown dtype 'X9'"});
  expect_error(
      [&] {
        read_safetensors(
            bad("u16", file_bytes(R"({"a":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", data8)));
      },
      ErrorCode::kUnsupported, "U16");
  expect_error(
      [&] {
        read_safetensors(
            bad("size", file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8)));
      },
      ErrorCode::kInvalidArgument, {"tensor 'a'", "hold 8 bytes", "needs 12"});
  expect_error(
      [&] {
        read_safetensors(
            bad("range", file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8)));
      },
      ErrorCode::kInvalidArgument, "outside the 8 data bytes");
  expect_error([&] { read_safetensors(bad("trunc", file_bytes(ok, "1234"))); }, ErrorCode::kInvalidArgument,
               "outside the 4 data bytes");
  expect_error(
      [&] {
        read_safetensors(bad(
            "overlap",
            file_bytes(
                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                data8)));
      },
      ErrorCode::kInvalidArgument, "overlapping");
  expect_error([&] { read_safetensors(bad("trailing", file_bytes(ok, data8 + "xxxx"))); },
               ErrorCode::kInvalidArgument, "cover 8 of the 12 data bytes");
  expect_error(
      [&] {
        read_safetensors(
            bad("shape", file_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", data8)));
      },
      ErrorCode::kInvalidArgument, "not a size");
  expect_error([&] { read_safetensors(bad("meta", file_bytes(R"({"__metadata__":{"x":1}})", ""))); },
               ErrorCode::kInvalidArgument, "__metadata__ 'x' is not a string");
  expect_error([&] { read_safetensors(dir.file("missing")); }, ErrorCode::kIo, "missing");
}

TEST(Safetensors, WriteErrorsLeaveNoFile) {
  TempDir dir;
  expect_error(
      [&] {
        write_safetensors(dir.file("nope/x.safetensors"), {{"a", Tensor::scalar<float>(1)}});
      },
      ErrorCode::kIo, "nope/x.safetensors");
  expect_error(
      [&] {
        write_safetensors(dir.file("u.safetensors"), {{"a", Tensor()}});
      },
      ErrorCode::kInvalidArgument, "tensor 'a' is undefined");
  expect_error(
      [&] {
        write_safetensors(dir.file("m.safetensors"), {{"__metadata__", Tensor::scalar<float>(1)}});
      },
      ErrorCode::kInvalidArgument, "cannot name a tensor");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace kiln
