#include "kiln/runtime/backend.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace kiln {
namespace fs = std::filesystem;

namespace {

ErrorCode code_of(int32_t status) {
  switch (status) {
    case KILN_ERR_INVALID_ARGUMENT: return ErrorCode::kInvalidArgument;
    case KILN_ERR_UNSUPPORTED: return ErrorCode::kUnsupported;
    case KILN_ERR_OUT_OF_MEMORY: return ErrorCode::kOutOfMemory;
    case KILN_ERR_INTERNAL: return ErrorCode::kInternal;
    default: return ErrorCode::kBackend;
  }
}

void host_log(int32_t level, const char* message) {
  if (level >= 2 && message) fmt::print(stderr, "kiln: warning: {}\n", message);
}

const kiln_host_i kHost{KILN_BACKEND_ABI_VERSION, host_log};

constexpr std::string_view kPrefix = "libkiln_backend_";
constexpr std::string_view kSuffix = ".so";

bool is_plugin_name(const std::string& file) {
  return file.size() > kPrefix.size() + kSuffix.size() && file.starts_with(kPrefix) && file.ends_with(kSuffix);
}

std::string backend_name_of(const std::string& path) {
  std::string file = fs::path(path).filename().string();
  if (!is_plugin_name(file)) return file;
  return file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Backend

Backend::Backend(const kiln_backend_i* table, void* library, std::string path)
    : table_(table), library_(library), path_(std::move(path)), name_(table->name ? table->name : "") {
  int n = table_->device_count ? table_->device_count(table_->self) : 0;
  for (int d = 0; d < n; ++d) {
    kiln_device_info info{};
    check(table_->device_info(table_->self, d, &info), "device_info");
    devices_.push_back({info.name ? info.name : fmt::format("{}{}", name_, d), info.host_accessible != 0,
                        info.memory_bytes});
  }
}

Backend::~Backend() {
  if (table_->shutdown) table_->shutdown(table_->self);
  // The library stays loaded: kernels' code may still be referenced by static destructors.
  (void)library_;
}

void Backend::check(kiln_status status, std::string_view what) const {
  if (status.code == KILN_OK) return;
  throw Error(code_of(status.code),
              fmt::format("backend '{}': {} failed: {}", name_, what, status.message ? status.message : "no message"));
}

int Backend::device_count() const { return static_cast<int>(devices_.size()); }

const DeviceInfo& Backend::device_info(int device) const {
  if (device < 0 || device >= device_count())
    raise(ErrorCode::kInvalidArgument, "backend '{}': no device {} (it has {})", name_, device, device_count());
  return devices_[static_cast<size_t>(device)];
}

void Backend::set_option(const std::string& key, const std::string& value) {
  kiln_status s = table_->set_option(table_->self, key.c_str(), value.c_str());
  if (s.code != KILN_OK) check(s, fmt::format("option {}={}", key, value));
}

void* Backend::alloc(int device, size_t bytes) {
  void* p = nullptr;
  kiln_status s = table_->alloc(table_->self, device, bytes, &p);
  if (s.code != KILN_OK) check(s, fmt::format("allocating {} bytes", bytes));  // format only on failure
  return p;
}

void Backend::free(int device, void* ptr) noexcept {
  if (ptr) table_->free(table_->self, device, ptr);
}

void Backend::copy_to_host(int device, void* host_dst, const void* src, size_t bytes) {
  check(table_->copy_to_host(table_->self, device, host_dst, src, bytes), "copy to host");
}

void Backend::copy_from_host(int device, void* dst, const void* host_src, size_t bytes) {
  check(table_->copy_from_host(table_->self, device, dst, host_src, bytes), "copy from host");
}

bool Backend::supports(const kiln_node& node, std::string* reason) const {
  const char* why = nullptr;
  if (table_->supports(table_->self, &node, &why) == 1) return true;
  if (reason) *reason = why ? why : "not supported";
  return false;
}

kiln_kernel* Backend::prepare(int device, const kiln_node& node) {
  kiln_kernel* kernel = nullptr;
  kiln_status s = table_->prepare(table_->self, device, &node, &kernel);
  if (s.code != KILN_OK)
    throw Error(code_of(s.code), fmt::format("backend '{}': preparing node '{}' ({}) failed: {}", name_, node.name,
                                             node.op_type, s.message ? s.message : "no message"));
  return kernel;
}

void Backend::run(kiln_kernel* kernel, const kiln_tensor* inputs, size_t n_inputs, kiln_tensor* outputs,
                  size_t n_outputs) {
  kiln_status s = table_->run(table_->self, kernel, inputs, n_inputs, outputs, n_outputs, nullptr);
  if (s.code != KILN_OK)
    throw Error(code_of(s.code), fmt::format("backend '{}': {}", name_, s.message ? s.message : "kernel failed"));
}

void Backend::release_kernel(kiln_kernel* kernel) noexcept {
  if (kernel) table_->release_kernel(table_->self, kernel);
}

void Backend::sync(int device) { check(table_->sync(table_->self, device), "sync"); }

// ---------------------------------------------------------------------------------------------
// BackendRegistry

BackendRegistry::BackendRegistry(const std::vector<std::string>& paths) : paths_(paths) {
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st))
      raise(ErrorCode::kNotFound, "backend path '{}' does not exist", path);
    if (fs::is_directory(st)) {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        std::string file = entry.path().filename().string();
        if (is_plugin_name(file)) files.push_back(entry.path().string());
      }
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) load_file(f);
    } else {
      load_file(path);
    }
  }
}

BackendRegistry::~BackendRegistry() = default;

void BackendRegistry::load_file(const std::string& path) {
  std::string name = backend_name_of(path);
  if (find(name)) return;  // an earlier path provides it
  auto record = [&](std::string reason) { failures_.push_back({name, path, std::move(reason)}); };
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    record(fmt::format("not a loadable plugin: {}", err ? err : "dlopen failed"));
    return;
  }
  dlerror();
  void* sym = dlsym(lib, KILN_BACKEND_INIT_SYMBOL);
  if (!sym) {
    record(fmt::format("not a kiln plugin: it does not export {}", KILN_BACKEND_INIT_SYMBOL));
    dlclose(lib);
    return;
  }
  auto init = reinterpret_cast<kiln_backend_init_fn>(sym);
  const char* error = nullptr;
  const kiln_backend_i* table = init(&kHost, &error);
  if (!table) {
    record(fmt::format("init failed: {}", error ? error : "no reason given"));
    return;  // the library stays loaded: it may have registered atexit handlers
  }
  if (table->abi_version != KILN_BACKEND_ABI_VERSION) {
    record(fmt::format("ABI version {} does not match the runtime's {}", table->abi_version,
                       KILN_BACKEND_ABI_VERSION));
    return;
  }
  if (!table->name || !table->device_count || !table->device_info || !table->alloc || !table->free ||
      !table->copy_to_host || !table->copy_from_host || !table->supports || !table->prepare || !table->run ||
      !table->release_kernel || !table->sync || !table->set_option) {
    record("its function table has a NULL entry");
    return;
  }
  if (name != table->name) {
    record(fmt::format("file name says '{}' but the plugin calls itself '{}'", name, table->name));
    return;
  }
  try {
    backends_.push_back(std::make_unique<Backend>(table, lib, path));
  } catch (const Error& e) {
    record(e.what());
  }
}

std::vector<std::string> BackendRegistry::default_paths() {
  if (const char* env = std::getenv("KILN_BACKEND_PATH"); env && *env) {
    std::vector<std::string> paths;
    std::string_view list(env);
    while (true) {
      size_t colon = list.find(':');
      std::string_view part = list.substr(0, colon);
      if (!part.empty()) {
        std::error_code ec;
        if (!fs::exists(std::string(part), ec))
          raise(ErrorCode::kNotFound, "KILN_BACKEND_PATH names '{}', which does not exist", part);
        paths.emplace_back(part);
      }
      if (colon == std::string_view::npos) break;
      list.remove_prefix(colon + 1);
    }
    if (paths.empty()) raise(ErrorCode::kNotFound, "KILN_BACKEND_PATH is set but names no folder");
    return paths;
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) raise(ErrorCode::kNotFound, "cannot find the executable's folder to look for backends: {}", ec.message());
  return {exe.parent_path().string()};
}

BackendRegistry& BackendRegistry::global() {
  static BackendRegistry registry(default_paths());
  return registry;
}

Backend* BackendRegistry::find(std::string_view name) const {
  for (const auto& b : backends_)
    if (b->name() == name) return b.get();
  return nullptr;
}

std::string BackendRegistry::why_missing(std::string_view name) const {
  for (const BackendFailure& f : failures_)
    if (f.name == name) return fmt::format("{} ({})", f.reason, f.path);
  std::string where;
  for (const std::string& p : paths_) where += (where.empty() ? "" : ", ") + p;
  return fmt::format("no libkiln_backend_{}.so in {}", name, where.empty() ? "(no paths)" : where);
}

std::vector<std::string> parse_backend_list(std::string_view text) {
  std::vector<std::string> out;
  std::string_view list = text;
  while (true) {
    size_t comma = list.find(',');
    std::string_view part = list.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.empty()) raise(ErrorCode::kInvalidArgument, "backend list '{}' has an empty entry", text);
    if (std::find(out.begin(), out.end(), part) != out.end())
      raise(ErrorCode::kInvalidArgument, "backend '{}' is listed twice", part);
    out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace kiln
