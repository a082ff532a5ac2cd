// `kiln backends [--json]`: every backend found, its devices, and why the others could not start.

#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/runtime/backend.h"

namespace kiln::cli {

Action add_backends_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("backends", "List backends, their devices, and why any could not start");
  auto json = std::make_shared<bool>(false);
  sub->add_flag("--json", *json, "Print JSON");
  return [json] {
    BackendRegistry& registry = BackendRegistry::global();
    if (*json) {
      nlohmann::json out = {{"paths", BackendRegistry::default_paths()},
                            {"backends", nlohmann::json::array()},
                            {"unavailable", nlohmann::json::array()}};
      for (const auto& b : registry.backends()) {
        nlohmann::json devices = nlohmann::json::array();
        for (int d = 0; d < b->device_count(); ++d) {
          const DeviceInfo& info = b->device_info(d);
          devices.push_back({{"index", d},
                             {"name", info.name},
                             {"host_accessible", info.host_accessible},
                             {"memory_bytes", info.memory_bytes}});
        }
        out["backends"].push_back({{"name", b->name()}, {"path", b->path()}, {"devices", devices}});
      }
      for (const BackendFailure& f : registry.failures())
        out["unavailable"].push_back({{"name", f.name}, {"path", f.path}, {"reason", f.reason}});
      fmt::print("{}\n", out.dump(2));
      return 0;
    }
    if (registry.backends().empty()) fmt::print("no backend available\n");
    for (const auto& b : registry.backends()) {
      fmt::print("{} ({})\n", b->name(), b->path());
      for (int d = 0; d < b->device_count(); ++d) {
        const DeviceInfo& info = b->device_info(d);
        std::string memory = info.memory_bytes ? fmt::format(", {:.1f} GiB", info.memory_bytes / 1073741824.0) : "";
        fmt::print("  device {}: {}{}\n", d, info.name, memory);
      }
    }
    for (const BackendFailure& f : registry.failures())
      fmt::print("{} unavailable: {} ({})\n", f.name, f.reason, f.path);
    return registry.backends().empty() ? 1 : 0;
  };
}

}  // namespace kiln::cli
