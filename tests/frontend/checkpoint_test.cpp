// Checkpoint files: round trips of every dtype and rank 0, the bytes of the header, corrupted and
// truncated files, failed writes that keep the previous file, and the different-model check.

#include "kiln/frontend/checkpoint.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <csignal>
#include <filesystem>

#include "frontend/frontend_test_util.h"
#include "test_errors.h"

namespace kiln {
namespace {

Checkpoint sample() {
  Checkpoint c;
  c.tensors["fc.weight"] = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  c.tensors["fc.bias"] = Tensor::from_vector<double>({2}, {0.5, -0.25});
  c.tensors["step"] = Tensor::scalar<int64_t>(1234);
  c.tensors["mask"] = Tensor::from_vector<bool>({3}, {true, false, true});
  c.tensors["bytes"] = Tensor::from_vector<uint8_t>({1, 2}, {7, 255});
  c.tensors["empty"] = Tensor::zeros({0, 4}, DType::kI32);
  c.tensors["half"] = Tensor::zeros({2}, DType::kF16);
  // A strided view is saved as its elements in row-major order.
  c.tensors["transposed"] = Tensor::from_vector<int8_t>({2, 2}, {1, 2, 3, 4}).transpose(0, 1);
  c.metadata["optimizer"] = R"({"lr": 0.1, "momentum": 0.9})";
  c.metadata["rng"] = std::string("binary\0state", 12);
  return c;
}

TEST(Checkpoint, RoundTripsTensorsAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("ckpt.bin");
  save_checkpoint(path, sample());
  const Checkpoint c = load_checkpoint(path);
  ASSERT_EQ(c.tensors.size(), 8u);
  EXPECT_EQ(c.tensors.at("fc.weight").shape(), (Dims{2, 3}));
  EXPECT_EQ(c.tensors.at("fc.weight").to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(c.tensors.at("fc.bias").to_vector<double>(), (std::vector<double>{0.5, -0.25}));
  EXPECT_EQ(c.tensors.at("step").shape(), Dims{});
  EXPECT_EQ(c.tensors.at("step").item<int64_t>(), 1234);
  EXPECT_EQ(c.tensors.at("mask").to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(c.tensors.at("bytes").to_vector<uint8_t>(), (std::vector<uint8_t>{7, 255}));
  EXPECT_EQ(c.tensors.at("empty").shape(), (Dims{0, 4}));
  EXPECT_EQ(c.tensors.at("half").dtype(), DType::kF16);
  EXPECT_EQ(c.tensors.at("transposed").to_vector<int8_t>(), (std::vector<int8_t>{1, 3, 2, 4}));
  EXPECT_EQ(c.metadata, sample().metadata);
  // Only the checkpoint is left in the folder: the temporary was renamed.
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator{}),
      1);
}

TEST(Checkpoint, HeaderBytes) {
  TempDir dir;
  const std::string path = dir.file("empty.ckpt");
  save_checkpoint(path, Checkpoint{});
  // magic, version 1, payload of 16 bytes (two zero counts), CRC-32 of 16 zero bytes.
  const std::string bytes = read_bytes(path);
  ASSERT_EQ(bytes.size(), 24u + 16u);
  EXPECT_EQ(bytes.substr(0, 20), std::string("KILNCKPT\x01\0\0\0\x10\0\0\0\0\0\0\0", 20));
  EXPECT_EQ(bytes.substr(20, 4), std::string("\x55\x4b\xbb\xec", 4));  // zlib.crc32(bytes(16)) = 0xecbb4b55
  EXPECT_TRUE(load_checkpoint(path).tensors.empty());
}

TEST(Checkpoint, CorruptedOrTruncatedFilesFailTheChecksum) {
  TempDir dir;
  const std::string path = dir.file("ckpt.bin");
  save_checkpoint(path, sample());
  const std::string good = read_bytes(path);
  const std::string bad = dir.file("bad.bin");
  for (size_t at : {size_t{24}, good.size() / 2, good.size() - 1}) {
    std::string flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x40);
    write_bytes(bad, flipped);
    expect_error([&] { load_checkpoint(bad); }, ErrorCode::kInvalidArgument,
                 "bad.bin: checksum mismatch (file corrupted or truncated)");
  }
  for (size_t keep : {size_t{30}, good.size() - 1}) {
    write_bytes(bad, good.substr(0, keep));
    expect_error([&] { load_checkpoint(bad); }, ErrorCode::kInvalidArgument,
                 "bad.bin: checksum mismatch (file corrupted or truncated)");
  }
  write_bytes(bad, good.substr(0, 12));
  expect_error([&] { load_checkpoint(bad); }, ErrorCode::kInvalidArgument, "header cut short");
  write_bytes(bad, "PK\3\4 not a checkpoint at all");
  expect_error([&] { load_checkpoint(bad); }, ErrorCode::kInvalidArgument, "bad.bin: not a kiln checkpoint");
  std::string newer = good;
  newer[8] = 2;
  write_bytes(bad, newer);
  expect_error([&] { load_checkpoint(bad); }, ErrorCode::kUnsupported,
               "checkpoint format version 2 is not supported");
  expect_error([&] { load_checkpoint(dir.file("missing.bin")); }, ErrorCode::kIo, "missing.bin");
}

TEST(Checkpoint, BadRecordsWithAValidChecksum) {
  // A payload claiming one tensor whose name runs past the end: corrupt even though the CRC fits.
  TempDir dir;
  const std::string payload = std::string("\x01\0\0\0\0\0\0\0\xff\0\0\0", 12);
  const uLong crc =
      crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
  std::string file = std::string("KILNCKPT\x01\0\0\0\x0c\0\0\0\0\0\0\0", 20);
  for (int i = 0; i < 4; ++i) file += static_cast<char>((crc >> (8 * i)) & 0xff);
  write_bytes(dir.file("odd.bin"), file + payload);
  expect_error([&] { load_checkpoint(dir.file("odd.bin")); }, ErrorCode::kInvalidArgument,
               "odd.bin: corrupted checkpoint: a record runs past the end of the data");
}

TEST(Checkpoint, BadInputWritesNothing) {
  TempDir dir;
  Checkpoint c;
  c.tensors["w"] = Tensor();
  expect_error([&] { save_checkpoint(dir.file("c.bin"), c); }, ErrorCode::kInvalidArgument, "tensor 'w'");
  c.tensors.clear();
  c.metadata[""] = "x";
  expect_error([&] { save_checkpoint(dir.file("c.bin"), c); }, ErrorCode::kInvalidArgument,
               "metadata key is empty");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// Writes fail part-way (the file size limit, which binds root too) and the old checkpoint stays.
TEST(Checkpoint, FailedWriteKeepsThePreviousCheckpoint) {
  TempDir dir;
  const std::string path = dir.file("ckpt.bin");
  save_checkpoint(path, sample());
  Checkpoint big;
  big.tensors["w"] = Tensor::zeros({1 << 20}, DType::kF32);  // 4 MiB
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG
  struct rlimit small = old;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string message = error_message([&] { save_checkpoint(path, big); }, ErrorCode::kIo);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find("cannot write '" + path + "'"), std::string::npos) << message;
  EXPECT_EQ(load_checkpoint(path).tensors.size(), 8u);  // the previous checkpoint, intact
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator{}),
      1);
}

TEST(Checkpoint, UnwritableFolderKeepsThePreviousCheckpoint) {
  TempDir dir;
  const std::string path = dir.file("ckpt.bin");
  save_checkpoint(path, sample());
  ASSERT_EQ(chmod(dir.path().c_str(), 0555), 0);
  // Root ignores folder permissions, so the write is tried as user nobody in a child process.
  EXPECT_EXIT(
      {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        try {
          save_checkpoint(path, Checkpoint{});
        } catch (const Error& e) {
          _exit(e.code() == ErrorCode::kIo && std::string(e.what()).find("cannot write") != std::string::npos ? 0 : 2);
        }
        _exit(1);
      },
      ::testing::ExitedWithCode(0), "");
  chmod(dir.path().c_str(), 0700);
  EXPECT_EQ(load_checkpoint(path).tensors.size(), 8u);
}

TEST(Checkpoint, DifferentModelListsEveryDifference) {
  std::map<std::string, Tensor> expected{{"fc.weight", Tensor::zeros({2, 3}, DType::kF32)},
                                         {"fc.bias", Tensor::zeros({2}, DType::kF32)},
                                         {"out.weight", Tensor::zeros({1, 2}, DType::kF32)}};
  check_same_tensors(expected, expected, "ckpt.bin");  // the same model: no error
  std::map<std::string, Tensor> loaded{{"fc.weight", Tensor::zeros({4, 3}, DType::kF32)},
                                       {"fc.bias", Tensor::zeros({2}, DType::kF64)},
                                       {"head.weight", Tensor::zeros({1, 2}, DType::kF32)}};
  expect_error([&] { check_same_tensors(loaded, expected, "ckpt.bin"); }, ErrorCode::kInvalidArgument,
               {"ckpt.bin: tensors do not match the model: ", "'fc.weight' is f32 [4,3], expected f32 [2,3]",
                "'fc.bias' is f64 [2], expected f32 [2]", "missing 'out.weight' (f32 [1,2])",
                "unexpected 'head.weight' (f32 [1,2])"});
}

}  // namespace
}  // namespace kiln
