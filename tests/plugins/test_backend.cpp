// libkiln_backend_test.so: a second backend for tests. It claims f32 Add/Sub/Mul/Div/Relu/
// Neg/Abs/Identity, and its one device "test0" is not host accessible: memory comes from
// malloc, but every pointer the runtime hands back is checked against the live allocations,
// so a missing device copy (a host pointer, or another backend's) fails with a clear status.
// Includes only the ABI header and the standard library.

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <sstream>
#include <string>

#include "kiln/backend_abi.h"
#include "test_kernels.h"

namespace kiln::test_backend {
namespace {

thread_local std::string g_message;

kiln_status ok() { return {KILN_OK, nullptr}; }
kiln_status error(int32_t code, const std::string& message) {
  g_message = "test backend: " + message;
  return {code, g_message.c_str()};
}

template <class F>
kiln_status guarded(F&& f) noexcept {
  try {
    f();
    return ok();
  } catch (const Failure& e) {
    return error(e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return error(KILN_ERR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return error(KILN_ERR_INTERNAL, e.what());
  } catch (...) {
    return error(KILN_ERR_INTERNAL, "unknown exception");
  }
}

std::string pointer_string(const void* p) {
  std::ostringstream s;
  s << p;
  return s.str();
}

class TestBackend {
 public:
  explicit TestBackend(const kiln_host_i* host) : log_(host->log) {}

  ~TestBackend() {
    if (!allocations_.empty())
      log(2, std::to_string(allocations_.size()) + " allocation(s) still live at shutdown; freeing them");
    for (auto& [base, bytes] : allocations_) std::free(reinterpret_cast<void*>(base));
    if (!kernels_.empty()) log(2, std::to_string(kernels_.size()) + " kernel(s) never released");
    for (Kernel* k : kernels_) delete k;
  }

  kiln_backend_i table{};
  std::atomic<int> threads{1};

  void log(int32_t level, const std::string& message) const {
    if (log_) log_(level, ("test backend: " + message).c_str());
  }

  void* alloc(size_t bytes) {
    // malloc(0) may return NULL; every allocation gets a real, unique address.
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    if (!p)
      throw Failure(KILN_ERR_OUT_OF_MEMORY, "test0: cannot allocate " + std::to_string(bytes) + " bytes");
    std::lock_guard<std::mutex> lock(mutex_);
    allocations_[reinterpret_cast<uintptr_t>(p)] = bytes;
    return p;
  }

  void free(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = allocations_.find(reinterpret_cast<uintptr_t>(p));
    if (it == allocations_.end()) {
      log(2, "free(" + pointer_string(p) + "): not an allocation of test0; ignored");
      return;
    }
    allocations_.erase(it);
    std::free(p);
  }

  /// True when [p, p + bytes) lies inside one live allocation. NULL passes only for 0 bytes.
  bool owns(const void* p, size_t bytes) const {
    if (!p) return bytes == 0;
    uintptr_t u = reinterpret_cast<uintptr_t>(p);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = allocations_.upper_bound(u);
    if (it == allocations_.begin()) return false;
    --it;
    return u - it->first <= it->second && bytes <= it->second - (u - it->first);
  }

  /// Throws unless [p, p + bytes) is test0 memory, naming the argument.
  void check_device_pointer(const void* p, size_t bytes, const std::string& what) const {
    if (owns(p, bytes)) return;
    throw Failure(KILN_ERR_INVALID_ARGUMENT,
                  what + " (" + pointer_string(p) + ", " + std::to_string(bytes) +
                      " bytes) is not inside any test0 allocation: a host pointer or another backend's "
                      "memory was passed without a device copy");
  }

  /// Throws when p is test0 memory where the host's memory is expected.
  void check_host_pointer(const void* p, size_t bytes, const std::string& what) const {
    if (!p && bytes) throw Failure(KILN_ERR_INVALID_ARGUMENT, what + " is NULL");
    if (p && owns(p, 1))
      throw Failure(KILN_ERR_INVALID_ARGUMENT,
                    what + " (" + pointer_string(p) + ") is test0 device memory, expected host memory");
  }

  Kernel* add_kernel(const kiln_node& node) {
    auto* k = new Kernel(node);
    std::lock_guard<std::mutex> lock(mutex_);
    kernels_.insert(k);
    return k;
  }

  /// The kernel behind a handle; throws when the handle did not come from prepare().
  Kernel* kernel(kiln_kernel* handle) const {
    auto* k = reinterpret_cast<Kernel*>(handle);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!kernels_.count(k))
      throw Failure(KILN_ERR_INVALID_ARGUMENT,
                    "kernel handle " + pointer_string(handle) + " was not prepared by test0");
    return k;
  }

  void release(kiln_kernel* handle) {
    auto* k = reinterpret_cast<Kernel*>(handle);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!kernels_.erase(k)) {
        if (handle) log(2, "release_kernel(" + pointer_string(handle) + "): not a test0 kernel; ignored");
        return;
      }
    }
    delete k;
  }

 private:
  void (*log_)(int32_t, const char*);
  mutable std::mutex mutex_;                 // guards allocations_ and kernels_
  std::map<uintptr_t, size_t> allocations_;  // base -> bytes requested
  std::set<Kernel*> kernels_;
};

TestBackend* self_of(void* self) { return static_cast<TestBackend*>(self); }

void check_device(int32_t device) {
  if (device != 0)
    throw Failure(KILN_ERR_INVALID_ARGUMENT,
                  "no device " + std::to_string(device) + "; test has one device, 0");
}

int32_t device_count(void*) noexcept { return 1; }

kiln_status device_info(void*, int32_t device, kiln_device_info* out) noexcept {
  return guarded([&] {
    check_device(device);
    if (!out) throw Failure(KILN_ERR_INVALID_ARGUMENT, "device_info: out is NULL");
    out->name = "test0";
    out->host_accessible = 0;
    out->memory_bytes = 0;
  });
}

kiln_status set_option(void* self, const char* key, const char* value) noexcept {
  return guarded([&] {
    if (!key || !value)
      throw Failure(KILN_ERR_INVALID_ARGUMENT, "set_option: key and value must not be NULL");
    if (std::strcmp(key, "threads") != 0)
      throw Failure(KILN_ERR_INVALID_ARGUMENT, std::string("unknown option '") + key + "' (known: threads)");
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(value, &end, 10);
    if (end == value || *end || errno || n < 0 || n > 4096)
      throw Failure(KILN_ERR_INVALID_ARGUMENT, std::string("threads must be 0..4096, got '") + value + "'");
    self_of(self)->threads = n == 0 ? 1 : static_cast<int>(n);  // 0: the default, one thread
  });
}

kiln_status alloc(void* self, int32_t device, size_t bytes, void** out) noexcept {
  return guarded([&] {
    check_device(device);
    if (!out) throw Failure(KILN_ERR_INVALID_ARGUMENT, "alloc: out is NULL");
    *out = self_of(self)->alloc(bytes);
  });
}

void free_memory(void* self, int32_t, void* ptr) noexcept {
  try {
    self_of(self)->free(ptr);
  } catch (...) {
    // Logging failed (out of memory); nothing else can go wrong here.
  }
}

kiln_status copy_to_host(void* self, int32_t device, void* host_dst, const void* src, size_t bytes) noexcept {
  return guarded([&] {
    check_device(device);
    self_of(self)->check_device_pointer(src, bytes, "copy_to_host: source");
    self_of(self)->check_host_pointer(host_dst, bytes, "copy_to_host: destination");
    if (bytes) std::memcpy(host_dst, src, bytes);
  });
}

kiln_status copy_from_host(void* self, int32_t device, void* dst, const void* host_src,
                           size_t bytes) noexcept {
  return guarded([&] {
    check_device(device);
    self_of(self)->check_device_pointer(dst, bytes, "copy_from_host: destination");
    self_of(self)->check_host_pointer(host_src, bytes, "copy_from_host: source");
    if (bytes) std::memcpy(dst, host_src, bytes);
  });
}

int32_t supports(void*, const kiln_node* node, const char** reason) noexcept {
  try {
    Verdict v = node ? check_node(*node) : Verdict{KILN_ERR_INVALID_ARGUMENT, "node is NULL"};
    if (v.code == KILN_OK) return 1;
    g_message = std::move(v.reason);
  } catch (...) {
    g_message = "out of memory while checking the node";
  }
  if (reason) *reason = g_message.c_str();
  return 0;
}

kiln_status prepare(void* self, int32_t device, const kiln_node* node, kiln_kernel** out) noexcept {
  return guarded([&] {
    check_device(device);
    if (!node || !out) throw Failure(KILN_ERR_INVALID_ARGUMENT, "prepare: node and out must not be NULL");
    *out = reinterpret_cast<kiln_kernel*>(self_of(self)->add_kernel(*node));
  });
}

kiln_status run(void* self, kiln_kernel* handle, const kiln_tensor* in, size_t n_in, kiln_tensor* out,
                size_t n_out, kiln_stream*) noexcept {
  return guarded([&] {
    TestBackend* b = self_of(self);
    Kernel* k = b->kernel(handle);
    k->check(in, n_in, out, n_out);
    // Every pointer must be test0 memory: anything else means the runtime skipped a device copy.
    for (size_t i = 0; i < n_in; ++i)
      b->check_device_pointer(in[i].data, k->input_bytes(i), k->describe() + ": input " + std::to_string(i));
    b->check_device_pointer(out[0].data, k->output_bytes(), k->describe() + ": output 0");
    k->run(in, out, b->threads.load());
  });
}

void release_kernel(void* self, kiln_kernel* kernel) noexcept {
  try {
    self_of(self)->release(kernel);
  } catch (...) {
  }
}

kiln_status sync(void*, int32_t device) noexcept {
  // Kernels run synchronously on the calling thread; there is nothing to wait for.
  return guarded([&] { check_device(device); });
}

void shutdown(void* self) noexcept { delete self_of(self); }

}  // namespace
}  // namespace kiln::test_backend

extern "C" KILN_EXPORT const kiln_backend_i* kiln_backend_init(const kiln_host_i* host, const char** error) {
  using namespace kiln::test_backend;
  thread_local std::string message;
  if (!host || host->abi_version != KILN_BACKEND_ABI_VERSION) {
    message = "test backend built for ABI " + std::to_string(KILN_BACKEND_ABI_VERSION) + ", runtime has " +
              (host ? std::to_string(host->abi_version) : std::string("none"));
    if (error) *error = message.c_str();
    return nullptr;
  }
  // One backend object (and table) per init, so two registries in one process never share state.
  auto* backend = new (std::nothrow) TestBackend(host);
  if (!backend) {
    message = "test backend: out of memory";
    if (error) *error = message.c_str();
    return nullptr;
  }
  backend->table = kiln_backend_i{KILN_BACKEND_ABI_VERSION,
                                  "test",
                                  backend,
                                  device_count,
                                  device_info,
                                  set_option,
                                  alloc,
                                  free_memory,
                                  copy_to_host,
                                  copy_from_host,
                                  supports,
                                  prepare,
                                  run,
                                  release_kernel,
                                  sync,
                                  shutdown};
  return &backend->table;
}
