// One ONNX node test on kiln: load model.onnx, run each test_data_set_* on cpu, compare.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "kiln/onnx/model.h"
#include "kiln/runtime/error.h"
#include "kiln/runtime/executor.h"
#include "node_test.h"

namespace kiln::conformance {

namespace fs = std::filesystem;

namespace {

// One line, without the test's folder in file paths and the "model.onnx: " every load message
// starts with (the test name says both).
std::string one_line(std::string text, const std::string& dir) {
  for (size_t at; (at = text.find(dir + "/")) != std::string::npos;) text.erase(at, dir.size() + 1);
  for (size_t at; (at = text.find("model.onnx: ")) != std::string::npos;) text.erase(at, 12);
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

// prefix_0.pb, prefix_1.pb... until the first missing index.
std::vector<std::string> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> files;
  for (int i = 0;; ++i) {
    fs::path p = dir / fmt::format("{}_{}.pb", prefix, i);
    if (!fs::exists(p)) break;
    files.push_back(p.string());
  }
  return files;
}

std::vector<fs::path> data_sets(const fs::path& dir) {
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory() && entry.path().filename().string().starts_with("test_data_set_"))
      sets.push_back(entry.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

// Inputs in graph-input order. A file's TensorProto name picks its input when it names one;
// otherwise files map to graph inputs by position, as in ONNX's runner.
std::vector<Tensor> read_inputs(const Graph& graph, const std::vector<std::string>& files, const std::string& set) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < graph.inputs().size(); ++i) index[graph.inputs()[i]->name()] = i;
  std::vector<Tensor> inputs(graph.inputs().size());
  for (size_t i = 0; i < files.size(); ++i) {
    std::string name;
    Tensor t = onnx::read_tensor_proto(files[i], &name);
    auto it = index.find(name);
    size_t slot = it != index.end() ? it->second : i;
    if (slot >= inputs.size())
      raise(ErrorCode::kInvalidArgument, "{}: input file {} ('{}') matches none of the model's {} inputs", set, i,
            name, inputs.size());
    if (inputs[slot].defined())
      raise(ErrorCode::kInvalidArgument, "{}: two input files feed input '{}'", set, graph.inputs()[slot]->name());
    inputs[slot] = std::move(t);
  }
  return inputs;
}

std::string run_data_set(Executor& executor, const fs::path& set_dir, const Tolerance& tol) {
  const std::string set = set_dir.filename().string();
  const Graph& graph = executor.graph();
  std::vector<Tensor> inputs = read_inputs(graph, numbered_files(set_dir, "input"), set);
  std::vector<std::string> expected_files = numbered_files(set_dir, "output");
  std::vector<Tensor> outputs = executor.run(inputs);
  if (outputs.size() != expected_files.size())
    return fmt::format("{}: kiln returned {} outputs, the test expects {}", set, outputs.size(), expected_files.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor expected = onnx::read_tensor_proto(expected_files[i]);
    std::string what = fmt::format("{}: output {} '{}'", set, i, graph.outputs()[i]->name());
    std::string diff = compare_tensors(outputs[i], expected, tol, what);
    if (!diff.empty()) return diff;
  }
  return {};
}

}  // namespace

TestResult run_node_test(const std::string& dir, const Tolerance& tol) {
  TestResult result;
  result.name = fs::path(dir).filename().string();
  try {
    onnx::Model model = onnx::load_model((fs::path(dir) / "model.onnx").string());
    ExecutorOptions options;
    options.backends = {"cpu"};
    options.threads = 1;  // tiny tensors; other tests may run in parallel processes
    Executor executor(model.graph, options);
    std::vector<fs::path> sets = data_sets(dir);
    if (sets.empty()) raise(ErrorCode::kNotFound, "{}: no test_data_set_* folder", dir);
    for (const fs::path& set : sets) {
      std::string diff = run_data_set(executor, set, tol);
      if (!diff.empty()) {
        result.status = Status::kWrong;
        result.reason = one_line(diff, dir);
        return result;
      }
    }
    result.status = Status::kPassed;
  } catch (const Error& e) {
    // The status already says unsupported; other codes stay in the reason.
    result.status = e.code() == ErrorCode::kUnsupported ? Status::kUnsupported : Status::kFailed;
    result.reason = one_line(result.status == Status::kUnsupported
                                 ? std::string(e.what())
                                 : fmt::format("{}: {}", kiln::to_string(e.code()), e.what()),
                             dir);
  } catch (const std::exception& e) {
    result.reason = one_line(fmt::format("std::exception: {}", e.what()), dir);
  } catch (...) {
    result.reason = "an exception that is not a std::exception";
  }
  return result;
}

std::vector<std::string> list_node_tests(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) raise(ErrorCode::kNotFound, "{}: not a folder of ONNX node tests", root);
  std::vector<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory() && fs::exists(entry.path() / "model.onnx")) dirs.push_back(entry.path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

}  // namespace kiln::conformance
