#pragma once
// Backend plugins as the runtime sees them: the loader (dlopen of libkiln_backend_*.so),
// the registry of loaded backends, and a C++ wrapper over each plugin's C table.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/backend_abi.h"
#include "kiln/runtime/error.h"

namespace kiln {

struct DeviceInfo {
  std::string name;
  bool host_accessible = false;
  uint64_t memory_bytes = 0;
};

/// One loaded plugin. Every method turns a failed status into Error(kBackend) (or
/// kOutOfMemory / kUnsupported / kInvalidArgument by the status code) prefixed with
/// "backend '<name>'".
class Backend {
 public:
  Backend(const kiln_backend_i* table, void* library, std::string path);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  int device_count() const;
  const DeviceInfo& device_info(int device) const;
  void set_option(const std::string& key, const std::string& value);

  void* alloc(int device, size_t bytes);
  void free(int device, void* ptr) noexcept;
  void copy_to_host(int device, void* host_dst, const void* src, size_t bytes);
  void copy_from_host(int device, void* dst, const void* host_src, size_t bytes);
  /// True when the plugin can run the node; otherwise reason says why.
  bool supports(const kiln_node& node, std::string* reason) const;
  kiln_kernel* prepare(int device, const kiln_node& node);
  void run(kiln_kernel* kernel, const kiln_tensor* inputs, size_t n_inputs, kiln_tensor* outputs,
           size_t n_outputs);
  void release_kernel(kiln_kernel* kernel) noexcept;
  void sync(int device);

 private:
  void check(kiln_status status, std::string_view what) const;
  const kiln_backend_i* table_;
  void* library_;
  std::string path_;
  std::string name_;
  std::vector<DeviceInfo> devices_;
};

/// A plugin that was found but could not start, and why.
struct BackendFailure {
  std::string name;  // from the file name: libkiln_backend_<name>.so
  std::string path;
  std::string reason;
};

class BackendRegistry {
 public:
  /// Loads every libkiln_backend_*.so in the given folders (or the given .so files), in
  /// order; the first backend of a name wins. A plugin that fails to load is recorded in
  /// failures() with the reason and skipped. Throws Error(kNotFound) when a path does not exist.
  explicit BackendRegistry(const std::vector<std::string>& paths);
  ~BackendRegistry();

  /// Folders from KILN_BACKEND_PATH (':'-separated) when set, else the executable's folder.
  static std::vector<std::string> default_paths();
  /// The process-wide registry over default_paths(), loaded on first use. Throws
  /// Error(kNotFound) when KILN_BACKEND_PATH names a path that does not exist.
  static BackendRegistry& global();

  const std::vector<std::unique_ptr<Backend>>& backends() const { return backends_; }
  const std::vector<BackendFailure>& failures() const { return failures_; }
  /// nullptr when no backend has that name.
  Backend* find(std::string_view name) const;
  /// The reason a named backend is missing: its load failure, or "not found in <paths>".
  std::string why_missing(std::string_view name) const;

 private:
  void load_file(const std::string& path);
  std::vector<std::string> paths_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<BackendFailure> failures_;
};

/// "cuda,cpu" -> {"cuda","cpu"}. Throws Error(kInvalidArgument) on an empty entry.
std::vector<std::string> parse_backend_list(std::string_view list);

}  // namespace kiln
