#pragma once
// Shared by all tests: the backends the tests run on.

#include <string>
#include <vector>

#include "kiln/runtime/backend.h"

namespace kiln {

/// The process-wide registry of tests: the cpu plugin (next to the binaries, KILN_BUILD_DIR)
/// and the test plugin (KILN_TEST_PLUGIN_DIR). Broken test plugins live in a subfolder and
/// are not loaded here.
inline BackendRegistry& test_registry() {
  static BackendRegistry registry({KILN_BUILD_DIR, KILN_TEST_PLUGIN_DIR});
  return registry;
}

/// The preference lists op tests run under, one per loaded backend: cpu alone, and every other
/// backend (the test backend; CUDA where a device is present) first with cpu for the rest.
inline std::vector<std::vector<std::string>> backend_lists() {
  std::vector<std::vector<std::string>> lists;
  for (const auto& backend : test_registry().backends()) {
    if (backend->name() == "cpu") lists.insert(lists.begin(), {"cpu"});
    else lists.push_back({backend->name(), "cpu"});
  }
  return lists;
}

}  // namespace kiln
