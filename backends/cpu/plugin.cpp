// The CPU backend plugin: the C table of backend_abi.h over the C++ kernels of this folder.
// Every entry point catches everything; nothing C++ crosses the boundary.

#include <omp.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>

#include "dnnl_context.h"
#include "kernel.h"
#include "serial_scope.h"

namespace kiln::cpu {
namespace {

thread_local std::string g_message;

kiln_status ok() { return {KILN_OK, nullptr}; }
kiln_status error(int32_t code, const std::string& message) {
  g_message = message;
  return {code, g_message.c_str()};
}

template <class F>
kiln_status guarded(F&& f) noexcept {
  try {
    f();
    return ok();
  } catch (const KernelError& e) {
    return error(e.code(), e.what());
  } catch (const dnnl::error& e) {
    return error(KILN_ERR_BACKEND, std::string("oneDNN: ") + e.what());
  } catch (const std::bad_alloc&) {
    return error(KILN_ERR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return error(KILN_ERR_INTERNAL, e.what());
  } catch (...) {
    return error(KILN_ERR_INTERNAL, "unknown exception");
  }
}

struct CpuBackend {
  KernelTable table;
  std::mutex mutex;  // guards cache
  // Kernels by NodeView::cache_key(): equal nodes share one prepared kernel (and its primitive)
  // while any of them holds it; a kernel no plan uses any more is freed.
  std::unordered_map<std::string, std::weak_ptr<Kernel>> cache;
  std::string device_name;
  // Each init gets its own table: two registries in one process share the library but not state.
  kiln_backend_i abi{};
};

// What a kiln_kernel* points to.
struct KernelHandle {
  std::shared_ptr<Kernel> kernel;
};

CpuBackend* self_of(void* self) { return static_cast<CpuBackend*>(self); }

int32_t device_count(void*) { return 1; }

kiln_status device_info(void* self, int32_t device, kiln_device_info* out) {
  return guarded([&] {
    if (device != 0) throw KernelError(KILN_ERR_INVALID_ARGUMENT, "cpu has one device, 0");
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    out->name = self_of(self)->device_name.c_str();
    out->host_accessible = 1;
    out->memory_bytes = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
  });
}

kiln_status set_option(void*, const char* key, const char* value) {
  return guarded([&] {
    if (std::strcmp(key, "threads") == 0) {
      char* end = nullptr;
      long n = std::strtol(value, &end, 10);
      if (!end || *end || n < 0 || n > 4096)
        throw KernelError(KILN_ERR_INVALID_ARGUMENT, std::string("threads must be 0..4096, got '") + value + "'");
      if (n > 0) omp_set_num_threads(static_cast<int>(n));
      return;
    }
    throw KernelError(KILN_ERR_INVALID_ARGUMENT, std::string("unknown option '") + key + "'");
  });
}

kiln_status alloc(void*, int32_t, size_t bytes, void** out) {
  // 64-byte alignment suits AVX-512 loads; size rounded up as aligned_alloc requires.
  size_t size = (bytes + 63) / 64 * 64;
  *out = std::aligned_alloc(64, size == 0 ? 64 : size);
  if (!*out) return error(KILN_ERR_OUT_OF_MEMORY, "cannot allocate " + std::to_string(bytes) + " bytes");
  return ok();
}

void free_memory(void*, int32_t, void* ptr) { std::free(ptr); }

kiln_status copy_to_host(void*, int32_t, void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
  return ok();
}

kiln_status copy_from_host(void*, int32_t, void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
  return ok();
}

int32_t supports(void* self, const kiln_node* node, const char** reason) {
  std::string why;
  try {
    // Default ONNX ops, and kiln's own fused ops (their names are unique across domains).
    if (node->domain[0] != '\0' && std::strcmp(node->domain, "kiln") != 0) {
      why = std::string("domain '") + node->domain + "' not supported";
    } else if (const KernelEntry* e = self_of(self)->table.find(node->op_type)) {
      why = e->supports ? e->supports(NodeView{*node}) : "";
    } else {
      why = "no kernel for this op";
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (why.empty()) return 1;
  g_message = why;
  if (reason) *reason = g_message.c_str();
  return 0;
}

kiln_status prepare(void* self, int32_t, const kiln_node* node, kiln_kernel** out) {
  return guarded([&] {
    CpuBackend* b = self_of(self);
    NodeView view{*node};
    const KernelEntry* e = b->table.find(node->op_type);
    if (!e) throw KernelError(KILN_ERR_UNSUPPORTED, std::string("no cpu kernel for ") + node->op_type);
    std::optional<std::string> key = view.cache_key();
    std::shared_ptr<Kernel> kernel;
    if (key) {
      std::lock_guard<std::mutex> lock(b->mutex);
      auto it = b->cache.find(*key);
      if (it != b->cache.end()) kernel = it->second.lock();
    }
    if (!kernel) {
      SerialScope serial(view.io_bytes() < kParallelMinBytes);  // see serial_scope.h
      kernel = e->prepare(view);
      if (key) {
        std::lock_guard<std::mutex> lock(b->mutex);
        b->cache[*key] = kernel;
      }
    }
    *out = reinterpret_cast<kiln_kernel*>(new KernelHandle{std::move(kernel)});
  });
}

kiln_status run(void*, kiln_kernel* k, const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out,
                kiln_stream*) {
  return guarded([&] { reinterpret_cast<KernelHandle*>(k)->kernel->run(in, n_in, out, n_out); });
}

void release_kernel(void*, kiln_kernel* k) { delete reinterpret_cast<KernelHandle*>(k); }

kiln_status sync(void*, int32_t) {
  return guarded([] { stream().wait(); });
}

void shutdown(void* self) { delete self_of(self); }

}  // namespace
}  // namespace kiln::cpu

extern "C" KILN_EXPORT const kiln_backend_i* kiln_backend_init(const kiln_host_i* host, const char** error) {
  using namespace kiln::cpu;
  static std::string message;
  if (!host || host->abi_version != KILN_BACKEND_ABI_VERSION) {
    message = "cpu backend built for ABI " + std::to_string(KILN_BACKEND_ABI_VERSION) + ", runtime has " +
              (host ? std::to_string(host->abi_version) : std::string("none"));
    if (error) *error = message.c_str();
    return nullptr;
  }
  try {
    auto* backend = new CpuBackend();
    register_kernels(backend->table);
    engine();  // fail here, not at the first kernel, when oneDNN cannot start
    backend->device_name = "cpu0: " + std::to_string(omp_get_max_threads()) + " threads, oneDNN " +
                           std::to_string(dnnl_version()->major) + "." + std::to_string(dnnl_version()->minor) +
                           "." + std::to_string(dnnl_version()->patch);
    backend->abi = kiln_backend_i{KILN_BACKEND_ABI_VERSION, "cpu", backend, device_count, device_info, set_option,
                                  alloc, free_memory, copy_to_host, copy_from_host, supports, prepare, run,
                                  release_kernel, sync, shutdown};
    return &backend->abi;
  } catch (const std::exception& e) {
    message = std::string("cpu backend failed to start: ") + e.what();
    if (error) *error = message.c_str();
    return nullptr;
  }
}
