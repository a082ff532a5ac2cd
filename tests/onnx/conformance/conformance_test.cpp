// The node-test runner's own pieces: comparison, crash/hang isolation, the expected list, the
// report, one real ONNX test passing, wrong and unsupported, and the gate of the runner itself.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "node_test.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::conformance;

namespace {

Tensor f16(const std::vector<uint16_t>& bits) {
  Tensor t = Tensor::empty({static_cast<int64_t>(bits.size())}, DType::kF16);
  std::memcpy(t.raw_data(), bits.data(), bits.size() * 2);
  return t;
}

std::string compare(const Tensor& a, const Tensor& e) { return compare_tensors(a, e, Tolerance{}, "out"); }

// A fresh folder under the test temp dir, removed by the caller's scope ending.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::path(::testing::TempDir()) / (name + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const fs::path kTestData = KILN_ONNX_TESTDATA_DIR;

}  // namespace

TEST(CompareTensors, EqualAndWithinToleranceMatch) {
  EXPECT_EQ(compare(Tensor::from_vector<float>({3}, {1, -2, 3}), Tensor::from_vector<float>({3}, {1, -2, 3})), "");
  // |diff| <= atol + rtol * |expected|: 1e-3 relative passes, 2e-3 does not.
  EXPECT_EQ(compare(Tensor::from_vector<float>({1}, {100.09f}), Tensor::from_vector<float>({1}, {100.0f})), "");
  EXPECT_NE(compare(Tensor::from_vector<float>({1}, {100.2f}), Tensor::from_vector<float>({1}, {100.0f})), "");
  // Near zero only atol (1e-7) helps.
  EXPECT_EQ(compare(Tensor::from_vector<double>({1}, {5e-8}), Tensor::from_vector<double>({1}, {0.0})), "");
  EXPECT_NE(compare(Tensor::from_vector<double>({1}, {1e-6}), Tensor::from_vector<double>({1}, {0.0})), "");
}

TEST(CompareTensors, ReportsCountAndWorstElement) {
  std::string reason = compare(Tensor::from_vector<float>({2, 2}, {1, 2.5f, 3, 9}),
                               Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}));
  EXPECT_NE(reason.find("out: 2 of 4 values differ"), std::string::npos) << reason;
  EXPECT_NE(reason.find("worst at [1,1]: got 9, expected 4"), std::string::npos) << reason;
}

TEST(CompareTensors, NanEqualsNanAndInfinitiesMustMatch) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(compare(Tensor::from_vector<float>({2}, {nan, inf}), Tensor::from_vector<float>({2}, {nan, inf})), "");
  EXPECT_NE(compare(Tensor::from_vector<float>({1}, {nan}), Tensor::from_vector<float>({1}, {1})), "");
  EXPECT_NE(compare(Tensor::from_vector<float>({1}, {1}), Tensor::from_vector<float>({1}, {nan})), "");
  EXPECT_NE(compare(Tensor::from_vector<float>({1}, {-inf}), Tensor::from_vector<float>({1}, {inf})), "");
  EXPECT_NE(compare(Tensor::from_vector<float>({1}, {3e38f}), Tensor::from_vector<float>({1}, {inf})), "");
}

TEST(CompareTensors, DtypeAndShapeMustBeExact) {
  std::string reason = compare(Tensor::from_vector<double>({1}, {1}), Tensor::from_vector<float>({1}, {1}));
  EXPECT_NE(reason.find("dtype f64 but expected f32"), std::string::npos) << reason;
  reason = compare(Tensor::from_vector<float>({1, 2}, {1, 2}), Tensor::from_vector<float>({2}, {1, 2}));
  EXPECT_NE(reason.find("shape [1,2] but expected [2]"), std::string::npos) << reason;
  EXPECT_NE(compare(Tensor(), Tensor::from_vector<float>({1}, {1})), "");
}

TEST(CompareTensors, IntegersAndBoolsAreExact) {
  EXPECT_EQ(compare(Tensor::from_vector<int64_t>({2}, {5, -7}), Tensor::from_vector<int64_t>({2}, {5, -7})), "");
  // 1000001 vs 1000000 would pass a 1e-3 relative tolerance; integers must not.
  std::string reason = compare(Tensor::from_vector<int64_t>({2}, {5, 1000001}),
                               Tensor::from_vector<int64_t>({2}, {5, 1000000}));
  EXPECT_NE(reason.find("first at [1]: got 1000001, expected 1000000"), std::string::npos) << reason;
  EXPECT_NE(compare(Tensor::from_vector<bool>({2}, {true, false}), Tensor::from_vector<bool>({2}, {true, true})), "");
  EXPECT_NE(compare(Tensor::from_vector<uint8_t>({1}, {200}), Tensor::from_vector<uint8_t>({1}, {201})), "");
}

TEST(CompareTensors, HalfPrecisionIsDecoded) {
  // 0x3C00 = 1.0; 0x3C01 = 1 + 2^-10 is within 1e-3 of it, 0x3C02 = 1 + 2^-9 is not.
  EXPECT_EQ(compare(f16({0x3C01}), f16({0x3C00})), "");
  std::string reason = compare(f16({0x3C02}), f16({0x3C00}));
  EXPECT_NE(reason.find("got 1.001953125, expected 1"), std::string::npos) << reason;
  EXPECT_EQ(compare(f16({0x7E00, 0x0001}), f16({0x7E00, 0x0001})), "");  // NaN, smallest subnormal
}

TEST(RunIsolated, CrashesAndExceptionsAreOneTestsFailure) {
  RunOptions options;
  options.jobs = 2;
  std::vector<std::string> names = {"ok", "crash", "throws", "unsupported", "ok2"};
  auto results = run_isolated(
      names,
      [](size_t i) -> TestResult {
        if (i == 1) std::raise(SIGSEGV);
        if (i == 2) throw std::runtime_error("boom");
        if (i == 3) return {"unsupported", Status::kUnsupported, "no such op"};
        return {"ok", Status::kPassed, ""};
      },
      options);
  ASSERT_EQ(results.size(), 5u);
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(results[i].name, names[i]);
  EXPECT_EQ(results[0].status, Status::kPassed);
  EXPECT_EQ(results[1].status, Status::kCrashed);
  EXPECT_NE(results[1].reason.find("crashed: signal 11"), std::string::npos) << results[1].reason;
  EXPECT_EQ(results[2].status, Status::kFailed);
  EXPECT_EQ(results[2].reason, "exception: boom");
  EXPECT_EQ(results[3].status, Status::kUnsupported);
  EXPECT_EQ(results[3].reason, "no such op");
  EXPECT_EQ(results[4].status, Status::kPassed);
}

TEST(RunIsolated, HangIsKilledAtTheTimeout) {
  RunOptions options;
  options.timeout_s = 1;
  auto start = std::chrono::steady_clock::now();
  auto results = run_isolated(
      {"hang"},
      [](size_t) -> TestResult {
        std::this_thread::sleep_for(std::chrono::seconds(60));
        return {"hang", Status::kPassed, ""};
      },
      options);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, Status::kCrashed);
  EXPECT_EQ(results[0].reason, "timed out after 1 s");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(ExpectedFailures, ReadsNamesAndReasons) {
  TempDir dir("expected");
  write_text(dir.path / "list.txt", "# header\n\ntest_a  # failed: wrong values\ntest_b\n  test_c # x # y\n");
  auto list = read_expected_failures((dir.path / "list.txt").string());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list["test_a"], "failed: wrong values");
  EXPECT_EQ(list["test_b"], "");
  EXPECT_EQ(list["test_c"], "x # y");
}

TEST(ExpectedFailures, BadListsAreErrors) {
  TempDir dir("expected_bad");
  write_text(dir.path / "twice.txt", "test_a # one\ntest_a # two\n");
  write_text(dir.path / "spaces.txt", "test a # reason\n");
  try {
    read_expected_failures((dir.path / "twice.txt").string());
    FAIL() << "a repeated name was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("twice.txt:2: 'test_a' is listed twice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_expected_failures((dir.path / "spaces.txt").string()), Error);
  try {
    read_expected_failures((dir.path / "missing.txt").string());
    FAIL() << "a missing list was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(ExpectedFailures, WrittenListHoldsEveryNonPassingTest) {
  TempDir dir("expected_write");
  std::vector<TestResult> results = {{"test_ok", Status::kPassed, ""},
                                     {"test_bad", Status::kFailed, "y: 1 of 2 values differ"},
                                     {"test_new_op", Status::kUnsupported, "1 unsupported op: Foo"},
                                     {"test_wrong", Status::kWrong, "y: 1 of 2 values differ"},
                                     {"test_crash", Status::kCrashed, "crashed: signal 11"}};
  write_expected_failures((dir.path / "out.txt").string(), "suite", results);
  // Wrong results and crashes are never expected failures, so the written list leaves them out.
  auto list = read_expected_failures((dir.path / "out.txt").string());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list["test_bad"], "failed: y: 1 of 2 values differ");
  EXPECT_EQ(list["test_new_op"], "unsupported: 1 unsupported op: Foo");
}

TEST(Report, CountsPerSuiteAndEscapedReasons) {
  TempDir dir("report");
  SuiteReport suite{"s1", "/data", {{"a", Status::kPassed, ""},
                                    {"b", Status::kFailed, "say \"hi\"\\"},
                                    {"c", Status::kUnsupported, "1 unsupported op: Foo (node 'n')"},
                                    {"d", Status::kWrong, "y: 1 of 1 values differ"}}};
  suite.gated = true;
  suite.expected_file = "list.txt";
  suite.expected = {{"b", "failed: x"}, {"c", "unsupported: y"}};
  fs::path path = dir.path / "nested" / "report.json";
  write_report(path.string(), {suite}, Tolerance{}, {"cpu"});
  std::string json = read_text(path);
  EXPECT_NE(json.find("\"s1\": {"), std::string::npos) << json;
  EXPECT_NE(json.find("\"passed\": 1,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"failed\": 1,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"unsupported\": 1,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"wrong\": 1,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"crashed\": 0,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"total\": 4,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"pass_rate\": 25.0,"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("not_passing_by_category": {"error": 1, "missing op": 1, "wrong": 1})"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"expected_failures_listed\": 2,"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"name": "c", "status": "unsupported", "listed": true,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"name": "d", "status": "wrong", "listed": false,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("reason": "say \"hi\"\\")"), std::string::npos) << json;
}

TEST(FailureCategory, ReasonsFallIntoTheReportsCategories) {
  EXPECT_EQ(failure_category(Status::kPassed, ""), "");
  EXPECT_EQ(failure_category(Status::kUnsupported,
                             "opset 22 of the default domain is not supported; kiln supports opsets 1 to 18"),
            "opset");
  EXPECT_EQ(failure_category(Status::kUnsupported, "1 unsupported op: ConvInteger (node 'ConvInteger_0')"),
            "missing op");
  EXPECT_EQ(failure_category(Status::kUnsupported, "input 'x': element type UINT16 is not supported (kiln has f32)"),
            "dtype");
  EXPECT_EQ(failure_category(Status::kUnsupported, "node 'Clip_0' (Clip): no backend can run it (cpu: dtype i8 not supported)"),
            "dtype");
  EXPECT_EQ(failure_category(Status::kUnsupported, "input 'x': only tensor types are supported"), "feature");
  EXPECT_EQ(failure_category(Status::kFailed, "InvalidArgument: node 'n': ..."), "error");
  EXPECT_EQ(failure_category(Status::kWrong, "y: 1 of 2 values differ"), "wrong");
  EXPECT_EQ(failure_category(Status::kCrashed, "timed out after 1 s"), "crashed");
}

// A real ONNX test (Abs), then copies of it made to fail and to be unsupported.
TEST(RunNodeTest, RealTestPassesFailsAndIsUnsupported) {
  const fs::path abs = kTestData / "test_abs";
  if (!fs::exists(abs / "model.onnx")) GTEST_SKIP() << "libonnx-testdata is not installed";
  TestResult ok = run_node_test(abs.string(), Tolerance{});
  EXPECT_EQ(ok.status, Status::kPassed) << ok.reason;
  EXPECT_EQ(ok.name, "test_abs");

  TempDir dir("node");
  // Wrong values: the expected output replaced by the input (which has negatives).
  fs::path wrong = dir.path / "test_abs_wrong";
  fs::create_directories(wrong / "test_data_set_0");
  fs::copy_file(abs / "model.onnx", wrong / "model.onnx");
  fs::copy_file(abs / "test_data_set_0" / "input_0.pb", wrong / "test_data_set_0" / "input_0.pb");
  fs::copy_file(abs / "test_data_set_0" / "input_0.pb", wrong / "test_data_set_0" / "output_0.pb");
  TestResult bad = run_node_test(wrong.string(), Tolerance{});
  EXPECT_EQ(bad.status, Status::kWrong);
  EXPECT_NE(bad.reason.find("test_data_set_0: output 0 'y':"), std::string::npos) << bad.reason;
  EXPECT_NE(bad.reason.find("values differ"), std::string::npos) << bad.reason;

  // An ir_version no reader supports (the model starts with field 1, ir_version, as a varint).
  fs::path future = dir.path / "test_abs_future";
  fs::create_directories(future);
  fs::copy(abs / "test_data_set_0", future / "test_data_set_0");
  std::string model = read_text(abs / "model.onnx");
  ASSERT_EQ(model[0], '\x08');
  ASSERT_LT(static_cast<unsigned char>(model[1]), 0x80);
  model[1] = 99;
  write_text(future / "model.onnx", model);
  TestResult unsupported = run_node_test(future.string(), Tolerance{});
  EXPECT_EQ(unsupported.status, Status::kUnsupported) << unsupported.reason;
  EXPECT_NE(unsupported.reason.find("ir_version 99"), std::string::npos) << unsupported.reason;

  // No data sets, and a folder without a model, which list_node_tests skips.
  fs::path empty = dir.path / "test_empty";
  fs::create_directories(empty);
  fs::copy_file(abs / "model.onnx", empty / "model.onnx");
  TestResult none = run_node_test(empty.string(), Tolerance{});
  EXPECT_EQ(none.status, Status::kFailed);
  EXPECT_NE(none.reason.find("no test_data_set_*"), std::string::npos) << none.reason;
  fs::create_directories(dir.path / "not_a_test");
  auto dirs = list_node_tests(dir.path.string());
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(fs::path(dirs[0]).filename(), "test_abs_future");
  EXPECT_EQ(fs::path(dirs[2]).filename(), "test_empty");
  EXPECT_THROW(list_node_tests((dir.path / "nope").string()), Error);
}

// The runner's gate, run as ctest runs it: a suite passes only when it matches its list.
TEST(Gate, RunnerFailsUnlessTheSuiteMatchesItsList) {
  const fs::path abs = kTestData / "test_abs";
  if (!fs::exists(abs / "model.onnx")) GTEST_SKIP() << "libonnx-testdata is not installed";
  TempDir dir("gate");
  // Suite "good": test_abs passes. Suite "bad": test_abs_wrong computes different values
  // (its expected output is the input) and test_abs_future is unsupported (ir_version 99).
  fs::create_directories(dir.path / "good");
  fs::copy(abs, dir.path / "good" / "test_abs", fs::copy_options::recursive);
  fs::path wrong = dir.path / "bad" / "test_abs_wrong", future = dir.path / "bad" / "test_abs_future";
  fs::create_directories(wrong / "test_data_set_0");
  fs::copy_file(abs / "model.onnx", wrong / "model.onnx");
  fs::copy_file(abs / "test_data_set_0" / "input_0.pb", wrong / "test_data_set_0" / "input_0.pb");
  fs::copy_file(abs / "test_data_set_0" / "input_0.pb", wrong / "test_data_set_0" / "output_0.pb");
  fs::create_directories(future);
  fs::copy(abs / "test_data_set_0", future / "test_data_set_0");
  std::string model = read_text(abs / "model.onnx");
  model[1] = 99;
  write_text(future / "model.onnx", model);

  auto run = [&](const std::string& suite, const std::string& list, std::string* out) {
    write_text(dir.path / "list.txt", list);
    std::string cmd = fmt::format("'{}' --suite {}='{}' --expected {}='{}' --report '{}' > '{}' 2>&1",
                                  KILN_NODE_TESTS_BIN, suite, (dir.path / suite).string(), suite,
                                  (dir.path / "list.txt").string(), (dir.path / "report.json").string(),
                                  (dir.path / "out.txt").string());
    int status = std::system(cmd.c_str());
    *out = read_text(dir.path / "out.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string out;
  EXPECT_EQ(run("good", "", &out), 0) << out;
  EXPECT_NE(out.find("good: matches its expected-failures list (0 listed)"), std::string::npos) << out;
  // A listed test that passes fails the run, so the list stays true.
  EXPECT_EQ(run("good", "test_abs  # unsupported: was\n", &out), 1) << out;
  EXPECT_NE(out.find("NOW PASSING in good: 1 listed expected failure(s) pass"), std::string::npos) << out;
  // So does a listed test that is not in the suite.
  EXPECT_EQ(run("good", "test_gone  # unsupported: x\n", &out), 1) << out;
  EXPECT_NE(out.find("UNKNOWN in good: 1 listed test(s) are not in the suite"), std::string::npos) << out;
  // An unsupported test must be listed; a wrong result fails even when listed.
  EXPECT_EQ(run("bad", "test_abs_wrong  # failed: listed anyway\n", &out), 1) << out;
  EXPECT_NE(out.find("REGRESSIONS in bad: 1 test(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("test_abs_future  [unsupported]"), std::string::npos) << out;
  EXPECT_NE(out.find("WRONG RESULTS OR CRASHES in bad (1;"), std::string::npos) << out;
  EXPECT_NE(out.find("test_abs_wrong  [wrong]"), std::string::npos) << out;
  EXPECT_EQ(run("bad", "test_abs_future  # unsupported: ir_version\ntest_abs_wrong  # failed: x\n", &out), 1) << out;
  EXPECT_EQ(out.find("REGRESSIONS"), std::string::npos) << out;
  EXPECT_NE(out.find("WRONG RESULTS OR CRASHES in bad"), std::string::npos) << out;
  // A bad list is an error before anything runs.
  EXPECT_EQ(run("good", "test a  # reason\n", &out), 2) << out;
}
