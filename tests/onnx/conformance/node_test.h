#pragma once
// The ONNX backend node-test runner: one test folder (model.onnx + test_data_set_*) run on kiln
// and compared with ONNX's expected outputs, the way ONNX's own runner does.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kiln/runtime/tensor.h"

namespace kiln::conformance {

/// kFailed: kiln raised an error that is not kUnsupported. kWrong: kiln ran the model and an
/// output differs from ONNX's (values, dtype, shape or the number of outputs). kCrashed: the test
/// process died on a signal, hung past the timeout or exited without a result. Wrong results and
/// crashes are never expected failures.
enum class Status { kPassed, kFailed, kUnsupported, kWrong, kCrashed };
inline constexpr size_t kStatusCount = 5;

/// "passed", "failed", "unsupported", "wrong", "crashed".
const char* to_string(Status status);

/// Why a test that does not pass does not pass, as one of a few categories for the report:
/// "opset" (the model's opset is beyond kiln's), "missing op", "dtype" (an element type kiln
/// or its kernel lacks), "feature" (any other unsupported part), "error" (kiln raised an error),
/// "wrong", "crashed". Empty for a passed test.
std::string failure_category(Status status, const std::string& reason);

struct TestResult {
  std::string name;
  Status status = Status::kFailed;
  std::string reason;  // empty when passed; one line otherwise
};

struct Tolerance {
  double rtol = 1e-3;  // ONNX's backend test runner
  double atol = 1e-7;
};

/// Empty when actual matches expected: same dtype and shape, integers and bools exact,
/// floats within atol + rtol * |expected| (NaN equals NaN, infinities must match). Otherwise a
/// one-line reason naming `what`, and for wrong values the count and the worst element.
std::string compare_tensors(const Tensor& actual, const Tensor& expected, const Tolerance& tol,
                            const std::string& what);

/// Runs the test in `dir` (model.onnx and every test_data_set_*) on the cpu backend with
/// optimization off. Never throws: a kiln::Error with code kUnsupported makes the test
/// unsupported, a mismatch makes it wrong, any other exception makes it failed, with the reason.
TestResult run_node_test(const std::string& dir, const Tolerance& tol);

/// Test folders (those holding model.onnx) under root, sorted by name. Throws kiln::Error
/// (kNotFound) when root is not a folder.
std::vector<std::string> list_node_tests(const std::string& root);

struct RunOptions {
  int jobs = 1;              // tests run at once, each in its own process
  int timeout_s = 60;        // per test; a test over it fails
  bool isolate = true;       // false: run in this process (for debugging; a crash ends the run)
  Tolerance tolerance;
};

/// Runs test(i) for i in [0, count), each in a forked child when isolate is set, so a crash or
/// hang in one test is recorded as that test's crash ("crashed: signal ...", "timed out") and
/// the run goes on. names[i] names test i in those results. Results come back in index order.
/// Throws kiln::Error(kIo) only when pipe/fork/poll fail.
std::vector<TestResult> run_isolated(const std::vector<std::string>& names,
                                     const std::function<TestResult(size_t)>& test, const RunOptions& options);

/// run_isolated over run_node_test for each test folder.
std::vector<TestResult> run_node_tests(const std::vector<std::string>& dirs, const RunOptions& options);

/// Test name -> reason, from a file of lines "test_name  # reason" (blank lines and lines
/// starting with '#' are skipped). Throws kiln::Error naming the file and line on a bad line,
/// a repeated name, or when the file cannot be read.
std::map<std::string, std::string> read_expected_failures(const std::string& path);

/// Writes the failed and unsupported results as an expected-failures file (header comment
/// included); wrong results and crashes are left out, since no list may hold them.
/// Throws kiln::Error(kIo) when the file cannot be written.
void write_expected_failures(const std::string& path, const std::string& suite, const std::vector<TestResult>& results);

struct SuiteReport {
  std::string name;  // "libonnx-testdata-1.12"
  std::string dir;
  std::vector<TestResult> results;
  double seconds = 0;  // wall time of the suite's run
  bool gated = false;  // checked against an expected-failures list...
  std::string expected_file;  // ...read from this file
  std::map<std::string, std::string> expected;  // its entries
};

/// Writes the JSON report: per suite, a count per status and total, pass_rate, seconds, the
/// non-passing tests per failure_category, whether the suite is gated (then its list's file and
/// size, and per result whether it is listed), and a results list of {name, status, reason}.
/// Creates missing folders. Throws kiln::Error(kIo).
void write_report(const std::string& path, const std::vector<SuiteReport>& suites, const Tolerance& tol,
                  const std::vector<std::string>& backends);

}  // namespace kiln::conformance
