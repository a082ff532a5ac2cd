// kiln::tensorboard: TFRecord framing and CRC-32C against golden values (computed with
// TensorBoard's own Python CRC code and RFC 3720's vectors), SummaryWriter round trips through
// the reader, buffering and crash safety, and the bad-input cases.

#include "kiln/frontend/tensorboard.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <regex>
#include <thread>

#include "frontend_test_util.h"
#include "test_errors.h"

namespace kiln::tensorboard {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().find("tfevents") != std::string::npos)
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<SummaryValue> values_of(const EventFile& f, const std::string& tag) {
  std::vector<SummaryValue> out;
  for (const auto& e : f.events)
    for (const auto& v : e.values)
      if (v.tag == tag) out.push_back(v);
  return out;
}

// ---- CRC and framing: golden values ----

TEST(TensorboardRecord, Crc32cKnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720 B.4: 32 bytes of zeros
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);  // RFC 3720 B.4: 32 bytes of ones
}

TEST(TensorboardRecord, MaskedCrcMatchesTensorBoard) {
  // tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c(b"123456789")
  EXPECT_EQ(mask_crc(crc32c("123456789")), 0xC78AB0E5u);
  EXPECT_EQ(mask_crc(0), 0xA282EAD8u);
}

TEST(TensorboardRecord, FrameGoldenBytes) {
  // length 3 (LE u64), masked CRC of those 8 bytes 0x0E4999B0, "abc", masked CRC 0x21F1576E
  const std::string expected(
      "\x03\x00\x00\x00\x00\x00\x00\x00"
      "\xb0\x99\x49\x0e"
      "abc"
      "\x6e\x57\xf1\x21",
      19);
  EXPECT_EQ(frame_record("abc"), expected);
  RecordReadResult r = parse_records(expected + frame_record(""), "mem");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0], "abc");
  EXPECT_EQ(r.records[1], "");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_FALSE(r.truncated_tail);
}

TEST(TensorboardRecord, TruncatedTailIsSkippedAtEveryCut) {
  const std::string two = frame_record("first record") + frame_record("second record");
  const size_t first_size = frame_record("first record").size();
  for (size_t cut = first_size + 1; cut < two.size(); ++cut) {
    RecordReadResult r = parse_records(std::string_view(two).substr(0, cut), "mem");
    ASSERT_EQ(r.records.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(r.records[0], "first record");
    EXPECT_TRUE(r.errors.empty()) << r.errors[0];
    EXPECT_TRUE(r.truncated_tail);
    EXPECT_EQ(r.truncated_bytes, cut - first_size);
  }
}

TEST(TensorboardRecord, DataCrcMismatchIsNamedAndReadingGoesOn) {
  std::string bytes = frame_record("r0") + frame_record("r1") + frame_record("r2");
  bytes[18 + 12] ^= 0x01;  // a data byte of record 1 (records are 18 bytes)
  RecordReadResult r = parse_records(bytes, "events.out.tfevents.1.h.2.0");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0], "r0");
  EXPECT_EQ(r.records[1], "r2");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "events.out.tfevents.1.h.2.0: record 1 at byte 18: data CRC mismatch");
}

TEST(TensorboardRecord, LengthCrcMismatchStopsReading) {
  std::string bytes = frame_record("r0") + frame_record("r1") + frame_record("r2");
  bytes[18 + 9] ^= 0x40;  // the length CRC of record 1
  RecordReadResult r = parse_records(bytes, "f");
  ASSERT_EQ(r.records.size(), 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("f: record 1 at byte 18: length CRC mismatch"), std::string::npos)
      << r.errors[0];
}

TEST(TensorboardRecord, MissingFileIsNotFound) {
  expect_error([] { read_records("/nonexistent/events.out.tfevents.x"); }, ErrorCode::kNotFound,
               "/nonexistent/events.out.tfevents.x");
}

// ---- Histograms ----

TEST(TensorboardHistogram, DefaultEdgesAreTensorBoards) {
  const auto& edges = default_bucket_edges();
  ASSERT_EQ(edges.size(), 2 * 774 + 1u);  // 774 positive edges from 1e-12 below 1e20
  EXPECT_EQ(edges[774], 0.0);
  EXPECT_EQ(edges[775], 1e-12);
  EXPECT_EQ(edges[776], 1e-12 * 1.1);
  EXPECT_EQ(edges.back(), 9.920775621859783e+19);
  EXPECT_EQ(edges.front(), -edges.back());
  for (size_t i = 1; i < edges.size(); ++i) ASSERT_LT(edges[i - 1], edges[i]);
}

TEST(TensorboardHistogram, OneValueGivesAnEmptyLeftBucketAndItsBin) {
  const auto& edges = default_bucket_edges();
  const size_t k = static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), 1.0) - edges.begin()) - 1;
  std::vector<double> values{1.0};
  Histogram h = make_histogram(values);
  EXPECT_EQ(h.min, 1.0);
  EXPECT_EQ(h.max, 1.0);
  EXPECT_EQ(h.num, 1.0);
  EXPECT_EQ(h.sum, 1.0);
  EXPECT_EQ(h.sum_squares, 1.0);
  ASSERT_EQ(h.bucket_limit.size(), 2u);
  EXPECT_EQ(h.bucket_limit[0], edges[k]);
  EXPECT_EQ(h.bucket_limit[1], edges[k + 1]);
  EXPECT_LE(edges[k], 1.0);
  EXPECT_LT(1.0, edges[k + 1]);
  EXPECT_EQ(h.bucket, (std::vector<double>{0.0, 1.0}));
}

TEST(TensorboardHistogram, CountsSpanFromFirstToLastNonEmptyBin) {
  std::vector<double> values{-2.0, 0.0, 0.5, 0.5, 1.0, 3.0};
  Histogram h = make_histogram(values);
  EXPECT_EQ(h.min, -2.0);
  EXPECT_EQ(h.max, 3.0);
  EXPECT_EQ(h.num, 6.0);
  EXPECT_DOUBLE_EQ(h.sum, 3.0);
  EXPECT_DOUBLE_EQ(h.sum_squares, 4 + 0.25 + 0.25 + 1 + 9);
  ASSERT_EQ(h.bucket.size(), h.bucket_limit.size());
  double total = 0;
  for (double c : h.bucket) total += c;
  EXPECT_EQ(total, 6.0);
  EXPECT_EQ(h.bucket.front(), 0.0);
  EXPECT_GT(h.bucket.back(), 0.0);
  EXPECT_LE(h.bucket_limit.front(), -2.0);
  EXPECT_GT(h.bucket_limit.back(), 3.0);
  // each value is counted in the bucket whose (left, right] edges hold it: [left, right) here
  for (double v : values) {
    size_t j = 1;
    while (j < h.bucket_limit.size() && !(h.bucket_limit[j - 1] <= v && v < h.bucket_limit[j])) ++j;
    ASSERT_LT(j, h.bucket_limit.size()) << v;
    EXPECT_GT(h.bucket[j], 0.0) << v;
  }
}

TEST(TensorboardHistogram, BadValues) {
  expect_error([] { make_histogram(std::vector<double>{}); }, ErrorCode::kInvalidArgument, "no values");
  expect_error(
      [] {
        make_histogram(std::vector<double>{1.0, std::nan("")});
      },
      ErrorCode::kInvalidArgument, {"element 1", "not finite"});
  expect_error([] { make_histogram(std::vector<double>{std::numeric_limits<double>::infinity()}); },
               ErrorCode::kInvalidArgument, "not finite");
  expect_error([] { make_histogram(std::vector<double>{1e30}); }, ErrorCode::kInvalidArgument, "outside");
}

// ---- SummaryWriter ----

TEST(TensorboardWriter, FileNameAndFirstRecord) {
  TempDir dir;
  SummaryWriter w(dir.file("run"));
  const std::string name = fs::path(w.file_path()).filename().string();
  EXPECT_TRUE(std::regex_match(name, std::regex(R"(events\.out\.tfevents\.\d{10}\.[^.].*\.\d+\.\d+)")))
      << name;
  const std::string pid_part = fmt::format(".{}.", ::getpid());
  EXPECT_NE(name.find(pid_part), std::string::npos) << name;
  // The first record is on disk at once.
  EventFile f = read_event_file(w.file_path());
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].file_version, "brain.Event:2");
  EXPECT_GT(f.events[0].wall_time, 1.6e9);
  SummaryWriter w2(dir.file("run"));
  EXPECT_NE(w2.file_path(), w.file_path());  // the <n> counter keeps names apart
}

TEST(TensorboardWriter, ScalarsRoundTripIncludingNonFiniteAndOddTags) {
  TempDir dir;
  const std::string odd = "loss/träin (val) #1 %s {} ✓\\ \"q\" \n";
  {
    SummaryWriter w(dir.path());
    w.add_scalar("loss", 0.25, 0, 1700000000.5);
    w.add_scalar("loss", 0.125, 1);
    w.add_scalar("loss", std::nan(""), 2);
    w.add_scalar("loss", std::numeric_limits<double>::infinity(), 3);
    w.add_scalar("loss", -std::numeric_limits<double>::infinity(), 4);
    w.add_scalar(odd, 1.0 / 3.0, -7);
  }
  auto files = event_files(dir.path());
  ASSERT_EQ(files.size(), 1u);
  EventFile f = read_event_file(files[0]);
  EXPECT_TRUE(f.errors.empty());
  EXPECT_FALSE(f.truncated_tail);
  auto scalars = scalars_of(f);
  ASSERT_EQ(scalars["loss"].size(), 5u);
  EXPECT_EQ(scalars["loss"][0].value, 0.25);
  EXPECT_EQ(scalars["loss"][0].wall_time, 1700000000.5);
  EXPECT_EQ(scalars["loss"][1].step, 1);
  EXPECT_EQ(scalars["loss"][1].value, 0.125);
  EXPECT_TRUE(std::isnan(scalars["loss"][2].value));
  EXPECT_EQ(scalars["loss"][3].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(scalars["loss"][4].value, -std::numeric_limits<double>::infinity());
  ASSERT_EQ(scalars[odd].size(), 1u);
  EXPECT_EQ(scalars[odd][0].value, static_cast<double>(static_cast<float>(1.0 / 3.0)));  // float32
  EXPECT_EQ(scalars[odd][0].step, -7);
}

TEST(TensorboardWriter, EventsAreBufferedUntilFlush) {
  TempDir dir;
  SummaryWriter w(dir.path(), SummaryWriterOptions().flush_secs(3600).max_queue(1000));
  for (int i = 0; i < 5; ++i) w.add_scalar("x", i, i);
  EXPECT_EQ(read_event_file(w.file_path()).events.size(), 1u);  // only file_version so far
  w.flush();
  EventFile f = read_event_file(w.file_path());
  EXPECT_EQ(f.events.size(), 6u);
  EXPECT_FALSE(f.truncated_tail);
  EXPECT_EQ(scalars_of(f)["x"].back().value, 4.0);
}

TEST(TensorboardWriter, MaxQueueWritesFromTheCallingThread) {
  TempDir dir;
  SummaryWriter w(dir.path(), SummaryWriterOptions().flush_secs(3600).max_queue(3));
  for (int i = 0; i < 4; ++i) w.add_scalar("x", i, i);  // the 4th exceeds max_queue
  EXPECT_EQ(read_event_file(w.file_path()).events.size(), 5u);
}

TEST(TensorboardWriter, BackgroundFlushAtTheInterval) {
  TempDir dir;
  SummaryWriter w(dir.path(), SummaryWriterOptions().flush_secs(0.05).max_queue(1000));
  w.add_scalar("x", 42, 0);
  size_t n = 0;
  for (int i = 0; i < 200 && n < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    n = read_event_file(w.file_path()).events.size();
  }
  EXPECT_EQ(n, 2u);
}

TEST(TensorboardWriter, DestructionAndCloseFlush) {
  TempDir dir;
  std::string path;
  {
    SummaryWriter w(dir.path(), SummaryWriterOptions().flush_secs(3600).max_queue(1000));
    w.add_scalar("x", 1, 0);
    path = w.file_path();
  }
  EXPECT_EQ(read_event_file(path).events.size(), 2u);
  SummaryWriter w(dir.file("b"));
  w.add_scalar("x", 1, 0);
  w.close();
  w.close();  // idempotent
  EXPECT_EQ(read_event_file(w.file_path()).events.size(), 2u);
  expect_error([&] { w.add_scalar("x", 2, 1); }, ErrorCode::kIo, {w.file_path(), "closed"});
}

TEST(TensorboardWriter, TruncatedFileLoadsUpToItsLastCompleteRecord) {
  TempDir dir;
  std::string path;
  {
    SummaryWriter w(dir.path());
    for (int i = 0; i < 10; ++i) w.add_scalar("x", i, i);
    path = w.file_path();
  }
  const std::string bytes = read_bytes(path);
  const std::string cut = dir.file("events.out.tfevents.cut");
  write_bytes(cut, bytes.substr(0, bytes.size() - 7));  // in the middle of the last record
  EventFile f = read_event_file(cut);
  EXPECT_TRUE(f.errors.empty());
  EXPECT_TRUE(f.truncated_tail);
  auto x = scalars_of(f)["x"];
  ASSERT_EQ(x.size(), 9u);
  EXPECT_EQ(x.back().value, 8.0);
}

TEST(TensorboardWriter, CorruptedRecordIsNamedAndTheOthersAreRead) {
  TempDir dir;
  std::string path;
  {
    SummaryWriter w(dir.path());
    for (int i = 0; i < 4; ++i) w.add_scalar("x", i, i);
    path = w.file_path();
  }
  std::string bytes = read_bytes(path);
  // Find record 2 (the scalar at step 1) by walking the framing, and flip its last data byte.
  size_t at = 0;
  for (int i = 0; i < 2; ++i) {
    uint64_t len = 0;
    std::memcpy(&len, bytes.data() + at, 8);
    at += 16 + len;
  }
  uint64_t len = 0;
  std::memcpy(&len, bytes.data() + at, 8);
  bytes[at + 12 + len - 1] ^= 0x5a;
  write_bytes(path, bytes);
  EventFile f = read_event_file(path);
  ASSERT_EQ(f.errors.size(), 1u);
  EXPECT_EQ(f.errors[0], path + ": record 2 at byte " + std::to_string(at) + ": data CRC mismatch");
  auto x = scalars_of(f)["x"];
  ASSERT_EQ(x.size(), 3u);
  EXPECT_EQ(x[0].value, 0.0);
  EXPECT_EQ(x[1].value, 2.0);
  EXPECT_EQ(x[2].value, 3.0);
}

TEST(TensorboardWriter, AddScalarsWritesOneRunPerKey) {
  TempDir dir;
  {
    SummaryWriter w(dir.path());
    w.add_scalars("loss/all", {{"train", 0.5}, {"val", 0.75}}, 3);
  }
  for (auto [key, value] : std::vector<std::pair<std::string, double>>{{"train", 0.5}, {"val", 0.75}}) {
    auto files = event_files(dir.file("loss_all_" + key));
    ASSERT_EQ(files.size(), 1u) << key;
    auto s = scalars_of(read_event_file(files[0]));
    ASSERT_EQ(s["loss/all"].size(), 1u);
    EXPECT_EQ(s["loss/all"][0].value, value);
    EXPECT_EQ(s["loss/all"][0].step, 3);
  }
}

TEST(TensorboardWriter, HistogramFromATensor) {
  TempDir dir;
  Tensor t = Tensor::from_vector<float>({2, 3}, {-2.f, 0.f, 0.5f, 0.5f, 1.f, 3.f});
  {
    SummaryWriter w(dir.path());
    w.add_histogram("weights/fc.weight", t, 5);
  }
  EventFile f = read_event_file(event_files(dir.path())[0]);
  auto v = values_of(f, "weights/fc.weight");
  ASSERT_EQ(v.size(), 1u);
  ASSERT_EQ(v[0].kind, SummaryValue::Kind::kHistogram);
  Histogram expected = make_histogram(std::vector<double>{-2, 0, 0.5, 0.5, 1, 3});
  EXPECT_EQ(v[0].histogram.bucket_limit, expected.bucket_limit);
  EXPECT_EQ(v[0].histogram.bucket, expected.bucket);
  EXPECT_EQ(v[0].histogram.min, -2.0);
  EXPECT_EQ(v[0].histogram.max, 3.0);
  EXPECT_EQ(v[0].histogram.num, 6.0);
  EXPECT_EQ(f.events.back().step, 5);
}

TEST(TensorboardWriter, HistogramBadInputNamesTheTag) {
  TempDir dir;
  SummaryWriter w(dir.path());
  expect_error(
      [&] {
        w.add_histogram("w", Tensor::from_vector<float>({2}, {1.f, std::nanf("")}));
      },
      ErrorCode::kInvalidArgument, {"'w'", "not finite"});
  expect_error([&] { w.add_histogram("empty", Tensor::zeros({0}, DType::kF32)); },
               ErrorCode::kInvalidArgument, {"'empty'", "no values"});
}

TEST(TensorboardWriter, TextIsAStringTensorForTheTextPlugin) {
  TempDir dir;
  {
    SummaryWriter w(dir.path());
    w.add_text("notes", "**lr** = 0.1, ünïcode", 2);
  }
  auto v = values_of(read_event_file(event_files(dir.path())[0]), "notes");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].plugin_name, "text");
  ASSERT_EQ(v[0].kind, SummaryValue::Kind::kTensor);
  EXPECT_EQ(v[0].tensor.dtype, "string");
  EXPECT_EQ(v[0].tensor.shape, Dims{1});
  EXPECT_EQ(v[0].tensor.strings, std::vector<std::string>{"**lr** = 0.1, ünïcode"});
}

// Decodes an 8-bit PNG without filtering (what kiln writes) and checks every chunk CRC.
std::vector<uint8_t> decode_png(const std::string& png, int& h, int& w, int& color_type) {
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::string idat;
  size_t at = 8;
  while (at + 12 <= png.size()) {
    const uint32_t len = be32(at);
    const std::string type = png.substr(at + 4, 4);
    const std::string body = png.substr(at + 4, 4 + len);
    EXPECT_EQ(be32(at + 8 + len), ::crc32(0, reinterpret_cast<const Bytef*>(body.data()), len + 4)) << type;
    if (type == "IHDR") {
      w = static_cast<int>(be32(at + 8));
      h = static_cast<int>(be32(at + 12));
      EXPECT_EQ(png[at + 16], 8);
      color_type = png[at + 17];
    }
    if (type == "IDAT") idat += png.substr(at + 8, len);
    at += 12 + len;
  }
  EXPECT_EQ(at, png.size());
  const int channels = color_type == 0 ? 1 : color_type == 2 ? 3 : 4;
  std::vector<uint8_t> raw(static_cast<size_t>(h) * (static_cast<size_t>(w) * channels + 1));
  uLongf raw_size = raw.size();
  EXPECT_EQ(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()),
            Z_OK);
  EXPECT_EQ(raw_size, raw.size());
  std::vector<uint8_t> pixels;
  for (int y = 0; y < h; ++y) {
    const size_t row = static_cast<size_t>(y) * (static_cast<size_t>(w) * channels + 1);
    EXPECT_EQ(raw[row], 0);  // filter None
    pixels.insert(pixels.end(), raw.begin() + static_cast<std::ptrdiff_t>(row) + 1,
                  raw.begin() + static_cast<std::ptrdiff_t>(row + 1 + static_cast<size_t>(w) * channels));
  }
  return pixels;
}

TEST(TensorboardWriter, ImagesArePngWithThePixelsWritten) {
  TempDir dir;
  // CHW float, 3 channels, 2x2: values scale by 255 and truncate; out of range values clip.
  Tensor chw = Tensor::from_vector<float>({3, 2, 2}, {0.f, 1.f, 0.5f, 2.f,       // R
                                                      -1.f, 0.25f, 0.75f, 0.1f,  // G
                                                      1.f, 1.f, 0.f, 0.f});      // B
  Tensor hwc_u8 = Tensor::from_vector<uint8_t>({1, 3, 1}, {7, 128, 255});
  {
    SummaryWriter w(dir.path());
    w.add_image("img/rgb", chw, 1);
    w.add_image("img/gray", hwc_u8, 2, ImageFormat::kHWC);
  }
  EventFile f = read_event_file(event_files(dir.path())[0]);
  auto rgb = values_of(f, "img/rgb");
  ASSERT_EQ(rgb.size(), 1u);
  ASSERT_EQ(rgb[0].kind, SummaryValue::Kind::kImage);
  EXPECT_EQ(rgb[0].image.height, 2);
  EXPECT_EQ(rgb[0].image.width, 2);
  EXPECT_EQ(rgb[0].image.colorspace, 3);
  int h = 0, w = 0, ct = -1;
  auto pixels = decode_png(rgb[0].image.encoded, h, w, ct);
  EXPECT_EQ(h, 2);
  EXPECT_EQ(w, 2);
  EXPECT_EQ(ct, 2);
  EXPECT_EQ(pixels, (std::vector<uint8_t>{0, 0, 255, 255, 63, 255, 127, 191, 0, 255, 25, 0}));
  auto gray = values_of(f, "img/gray");
  ASSERT_EQ(gray.size(), 1u);
  pixels = decode_png(gray[0].image.encoded, h, w, ct);
  EXPECT_EQ(h, 1);
  EXPECT_EQ(w, 3);
  EXPECT_EQ(ct, 0);
  EXPECT_EQ(pixels, (std::vector<uint8_t>{7, 128, 255}));
}

TEST(TensorboardWriter, ImageBadInput) {
  TempDir dir;
  SummaryWriter w(dir.path());
  expect_error(
      [&] {
        w.add_image("a", Tensor::zeros({4, 4}, DType::kF32));
      },
      ErrorCode::kInvalidArgument, {"'a'", "rank 2", "CHW"});
  expect_error(
      [&] {
        w.add_image("b", Tensor::zeros({2, 4, 4}, DType::kF32));
      },
      ErrorCode::kInvalidArgument, {"'b'", "2 channels"});
  expect_error(
      [&] {
        w.add_image("c", Tensor::zeros({1, 4, 4}, DType::kI64));
      },
      ErrorCode::kInvalidArgument, {"'c'", "i64"});
  expect_error(
      [&] {
        w.add_image("d", Tensor::zeros({1, 0, 4}, DType::kF32));
      },
      ErrorCode::kInvalidArgument, {"'d'", "empty"});
}

TEST(TensorboardWriter, GraphDefCarriesScopesOpsInputsAndShapes) {
  Graph g;
  g.add_input("x", DType::kF32, Shape{Dim("N"), 4});
  g.add_initializer("fc.weight", Tensor::zeros({3, 4}, DType::kF32));
  g.add_initializer("fc.bias", Tensor::zeros({3}, DType::kF32));
  Attributes gemm_attrs;
  gemm_attrs.set("transB", int64_t{1});
  gemm_attrs.set("alpha", 1.0f);
  g.add_node({"Gemm", {"x", "fc.weight", "fc.bias"}, {"h"}, gemm_attrs, "/fc/Gemm"});
  g.add_node({"Relu", {"h"}, {"y"}, {}, "layer1/0/relu"});
  g.find_value("h")->set_type(DType::kF32, Shape{Dim("N"), 3});
  g.find_value("y")->set_type(DType::kF32, Shape{Dim("N"), 3});
  g.add_output("y");
  TempDir dir;
  {
    SummaryWriter w(dir.path());
    w.add_graph(g);
  }
  EventFile f = read_event_file(event_files(dir.path())[0]);
  ASSERT_EQ(f.events.size(), 2u);
  ASSERT_FALSE(f.events[1].graph_def.empty());
  auto nodes = decode_graph_def(f.events[1].graph_def);
  std::map<std::string, GraphNodeInfo> by_name;
  for (auto& n : nodes) by_name[n.name] = n;
  ASSERT_EQ(nodes.size(), 6u);
  EXPECT_EQ(by_name.at("x").op, "Placeholder");
  EXPECT_EQ(by_name.at("x").output_shapes, std::vector<std::string>{"[N,4]"});
  EXPECT_EQ(by_name.at("fc/weight").op, "Const");
  EXPECT_EQ(by_name.at("fc/weight").output_shapes, std::vector<std::string>{"[3,4]"});
  const auto& gemm = by_name.at("fc/Gemm");
  EXPECT_EQ(gemm.op, "Gemm");
  EXPECT_EQ(gemm.inputs, (std::vector<std::string>{"x", "fc/weight", "fc/bias"}));
  EXPECT_EQ(gemm.attrs.at("transB"), "1");
  EXPECT_EQ(gemm.attrs.at("alpha"), "1");
  EXPECT_EQ(gemm.output_shapes, std::vector<std::string>{"[N,3]"});
  EXPECT_EQ(by_name.at("layer1/0/relu").inputs, std::vector<std::string>{"fc/Gemm"});
  EXPECT_EQ(by_name.at("output/y").op, "Identity");
  EXPECT_EQ(by_name.at("output/y").inputs, std::vector<std::string>{"layer1/0/relu"});
}

TEST(TensorboardWriter, GraphOfAGraphModule) {
  Graph g;
  g.add_input("x", DType::kF32, Shape{2, 4});
  g.add_initializer("fc.weight", Tensor::zeros({3, 4}, DType::kF32));
  g.add_initializer("fc.bias", Tensor::zeros({3}, DType::kF32));
  Attributes gemm_attrs;
  gemm_attrs.set("transB", int64_t{1});
  g.add_node({"Gemm", {"x", "fc.weight", "fc.bias"}, {"h"}, gemm_attrs, "/fc/Gemm"});
  g.add_node({"Relu", {"h"}, {"y"}, {}, "/relu/Relu"});
  g.find_value("h")->set_type(DType::kF32, Shape{2, 3});
  g.find_value("y")->set_type(DType::kF32, Shape{2, 3});
  g.add_output("y");
  nn::GraphModuleImpl module(std::move(g));
  TempDir dir;
  {
    SummaryWriter w(dir.path());
    w.add_graph(module);
  }
  EventFile f = read_event_file(event_files(dir.path())[0]);
  ASSERT_EQ(f.events.size(), 2u);
  std::map<std::string, std::string> ops;
  for (const auto& n : decode_graph_def(f.events[1].graph_def)) ops[n.name] = n.op;
  EXPECT_EQ(ops["fc/Gemm"], "Gemm");
  EXPECT_EQ(ops["relu/Relu"], "Relu");
  EXPECT_EQ(ops["fc/weight"], "Const");
  EXPECT_EQ(ops["x"], "Placeholder");
}

TEST(TensorboardWriter, HparamsRunHoldsThePluginSummariesAndMetrics) {
  TempDir dir;
  {
    SummaryWriter w(dir.path());
    w.add_hparams({{"lr", 0.1}, {"optimizer", "sgd"}, {"nesterov", false}, {"epochs", 100}},
                  {{"hparam/val_loss", 0.03125}}, "trial1");
  }
  auto files = event_files(dir.file("trial1"));
  ASSERT_EQ(files.size(), 1u);
  EventFile f = read_event_file(files[0]);
  for (const char* tag :
       {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}) {
    auto v = values_of(f, tag);
    ASSERT_EQ(v.size(), 1u) << tag;
    EXPECT_EQ(v[0].plugin_name, "hparams");
    EXPECT_FALSE(v[0].plugin_content.empty());
    EXPECT_EQ(v[0].kind, SummaryValue::Kind::kNone);
  }
  // The session start info names the string hparam (a protobuf Value string inside the content).
  EXPECT_NE(values_of(f, "_hparams_/session_start_info")[0].plugin_content.find("sgd"), std::string::npos);
  auto metric = scalars_of(f)["hparam/val_loss"];
  ASSERT_EQ(metric.size(), 1u);
  EXPECT_EQ(metric[0].value, 0.03125);
}

TEST(TensorboardWriter, UnwritableLogdirIsAnIoErrorNamingIt) {
  TempDir dir;
  write_bytes(dir.file("a_file"), "x");
  const std::string logdir = dir.file("a_file") + "/run";
  expect_error([&] { SummaryWriter w(logdir); }, ErrorCode::kIo, {logdir, "cannot create the log folder"});
  expect_error([&] { SummaryWriter w(dir.file("a_file")); }, ErrorCode::kIo, dir.file("a_file"));
}

TEST(TensorboardReader, FindEventFilesRecursesAndSorts) {
  TempDir dir;
  { SummaryWriter a(dir.file("b")), b(dir.file("a/inner")); }
  write_bytes(dir.file("notes.txt"), "not an event file");
  auto files = find_event_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_NE(files[0].find("/a/inner/events.out.tfevents."), std::string::npos);
  EXPECT_NE(files[1].find("/b/events.out.tfevents."), std::string::npos);
  expect_error([&] { find_event_files(dir.file("missing")); }, ErrorCode::kNotFound, dir.file("missing"));
}

TEST(TensorboardReader, RecordThatIsNotAnEventIsReported) {
  TempDir dir;
  const std::string path = dir.file("events.out.tfevents.bad");
  write_bytes(path, frame_record("\xff\xff\xff\xff garbage"));
  EventFile f = read_event_file(path);
  EXPECT_TRUE(f.events.empty());
  ASSERT_EQ(f.errors.size(), 1u);
  EXPECT_NE(f.errors[0].find("not an Event"), std::string::npos) << f.errors[0];
}

// ---- TrainingLogger ----

TEST(TensorboardTraining, GradNormIsTheTotalTwoNorm) {
  Tensor a = Tensor::zeros({2}, DType::kF32), b = Tensor::zeros({3}, DType::kF32),
         none = Tensor::zeros({1}, DType::kF32);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  none.set_requires_grad(true);
  a.set_grad(Tensor::from_vector<float>({2}, {3.f, 0.f}));
  b.set_grad(Tensor::from_vector<float>({3}, {0.f, -4.f, 12.f}));
  EXPECT_DOUBLE_EQ(grad_norm({a, b, none}), 13.0);
  EXPECT_EQ(grad_norm({none}), 0.0);
}

TEST(TensorboardTraining, LoggerWritesEpochScalarsAndHparamsIntoTheRun) {
  TempDir dir;
  {
    TrainingLogger log(dir.file("sgd"));
    log.log_epoch(0, 1.0, 1.5, 0.1, 2.0);
    log.log_epoch(1, 0.5, std::nullopt, 0.05);
    log.log_step(7, 0.75);
    log.log_hparams({{"lr", 0.1}}, {{"hparam/final_loss", 0.5}});
  }
  EventFile f = read_event_file(event_files(dir.file("sgd"))[0]);
  auto s = scalars_of(f);
  ASSERT_EQ(s["loss/train"].size(), 2u);
  EXPECT_EQ(s["loss/train"][1].value, 0.5);
  ASSERT_EQ(s["loss/val"].size(), 1u);
  EXPECT_EQ(s["loss/val"][0].value, 1.5);
  ASSERT_EQ(s["lr"].size(), 2u);
  EXPECT_EQ(s["lr"][1].value, static_cast<double>(0.05f));
  ASSERT_EQ(s["grad_norm"].size(), 1u);
  EXPECT_EQ(s["grad_norm"][0].value, 2.0);
  ASSERT_EQ(s["loss/train_step"].size(), 1u);
  EXPECT_EQ(s["loss/train_step"][0].step, 7);
  EXPECT_EQ(values_of(f, "_hparams_/session_start_info").size(), 1u);
  EXPECT_EQ(s["hparam/final_loss"][0].value, 0.5);
}

}  // namespace
}  // namespace kiln::tensorboard
