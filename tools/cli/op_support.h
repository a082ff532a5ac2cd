#pragma once
// Which backend can run each op of a model, for `kiln info`. A whole-model plan on example
// inputs answers exactly what `kiln run` would do; when it fails (an op no backend runs, a shape
// that example dims break), each node is tried alone so every problem is reported, not only
// the first.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kiln/runtime/graph.h"

namespace kiln::cli {

struct OpSupport {
  size_t supported = 0;                                          // nodes this backend runs
  std::vector<std::pair<std::string, std::string>> unsupported;  // node name, reason
  std::vector<std::pair<std::string, std::string>> unchecked;    // node name, why it was not tried
};

struct BackendSupport {
  std::string backend;
  std::string plan_error;  // why the whole-model plan failed; empty when it succeeded
  std::map<std::pair<std::string, std::string>, OpSupport> ops;  // (domain, op_type) -> support
};

/// Checks each op of graph against one backend, using example inputs (one per graph input, in
/// order). Never throws for a model problem: problems are recorded in the result.
BackendSupport check_backend(const Graph& graph, const std::vector<Tensor>& example_inputs,
                             const std::string& backend);

}  // namespace kiln::cli
