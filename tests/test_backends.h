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

/// The preference lists op tests run under: the cpu backend alone, and the test backend
/// first with the cpu backend for what it does not claim.
inline std::vector<std::vector<std::string>> backend_lists() { return {{"cpu"}, {"test", "cpu"}}; }

}  // namespace kiln
