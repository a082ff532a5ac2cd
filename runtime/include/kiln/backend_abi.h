/* kiln backend plugin ABI.
 *
 * A backend is a shared library named libkiln_backend_<name>.so that exports exactly one
 * symbol, kiln_backend_init. Everything crossing this boundary is plain C: no C++ types,
 * no exceptions, no STL. Every entry point returns a status; on failure the message is
 * owned by the plugin and stays valid until the next call into the same plugin from the
 * same thread.
 *
 * Version rule: any change to a struct layout or to a function's meaning bumps
 * KILN_BACKEND_ABI_VERSION. The runtime refuses a plugin whose version differs. */
#ifndef KILN_BACKEND_ABI_H
#define KILN_BACKEND_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_BACKEND_ABI_VERSION 1
#define KILN_BACKEND_INIT_SYMBOL "kiln_backend_init"
#define KILN_MAX_RANK 8

#if defined(__GNUC__)
#define KILN_EXPORT __attribute__((visibility("default")))
#else
#define KILN_EXPORT
#endif

/* Element types. Values are stable across ABI versions. */
typedef enum kiln_dtype {
  KILN_DTYPE_UNDEFINED = 0,
  KILN_DTYPE_F32 = 1,
  KILN_DTYPE_F64 = 2,
  KILN_DTYPE_F16 = 3,
  KILN_DTYPE_BF16 = 4,
  KILN_DTYPE_I64 = 5,
  KILN_DTYPE_I32 = 6,
  KILN_DTYPE_I8 = 7,
  KILN_DTYPE_U8 = 8,
  KILN_DTYPE_BOOL = 9
} kiln_dtype;

typedef enum kiln_status_code {
  KILN_OK = 0,
  KILN_ERR_INVALID_ARGUMENT = 1,
  KILN_ERR_UNSUPPORTED = 2,
  KILN_ERR_OUT_OF_MEMORY = 3,
  KILN_ERR_BACKEND = 4,
  KILN_ERR_INTERNAL = 5
} kiln_status_code;

/* message is NULL on success; otherwise plugin-owned, see the header comment. */
typedef struct kiln_status {
  int32_t code;
  const char* message;
} kiln_status;

/* A dense, contiguous (row-major) tensor in one device's memory. The runtime makes a
 * contiguous copy before handing a strided view to a kernel. */
typedef struct kiln_tensor {
  void* data;
  int32_t dtype; /* kiln_dtype */
  int32_t rank;
  const int64_t* shape; /* rank entries; NULL when rank is 0 */
} kiln_tensor;

typedef enum kiln_attr_type {
  KILN_ATTR_INT = 1,
  KILN_ATTR_FLOAT = 2,
  KILN_ATTR_STRING = 3,
  KILN_ATTR_TENSOR = 4,
  KILN_ATTR_INTS = 5,
  KILN_ATTR_FLOATS = 6,
  KILN_ATTR_STRINGS = 7
} kiln_attr_type;

/* One node attribute. Only the fields of its type are set. Tensor data is on the host. */
typedef struct kiln_attr {
  const char* name;
  int32_t type; /* kiln_attr_type */
  int64_t i;
  float f;
  const char* s;
  size_t count; /* entries in ints, floats or strings */
  const int64_t* ints;
  const float* floats;
  const char* const* strings;
  const kiln_tensor* t;
} kiln_attr;

/* One input or output of a node with its concrete dtype and shape. An omitted optional
 * input has dtype KILN_DTYPE_UNDEFINED. host_value is non-NULL when the runtime knows the
 * input's value at prepare time: initializers, Constant outputs, and the values shape
 * inference reads (Reshape's shape, Slice's starts...). Such a value is constant for the
 * kernel's whole life, so a kernel may keep a transformed copy (e.g. weights reordered into
 * its preferred layout) and ignore the run-time tensor. host_value lives in host memory and is
 * valid only during supports() and prepare(): a kernel copies what it needs. The same data
 * also arrives as a normal input tensor at run time. Values of at most KILN_SMALL_CONSTANT
 * elements are small enough to key a kernel cache by content. */
#define KILN_SMALL_CONSTANT 64
typedef struct kiln_value {
  int32_t dtype; /* kiln_dtype */
  int32_t rank;
  const int64_t* shape;
  const kiln_tensor* host_value;
} kiln_value;

/* A node as a backend sees it: ONNX semantics, concrete types. */
typedef struct kiln_node {
  const char* name;
  const char* op_type;
  const char* domain; /* "" is the default ONNX domain */
  int32_t opset;      /* opset version of the node's domain in its model */
  size_t n_inputs;
  const kiln_value* inputs;
  size_t n_outputs;
  const kiln_value* outputs;
  size_t n_attrs;
  const kiln_attr* attrs;
} kiln_node;

typedef struct kiln_device_info {
  const char* name;        /* e.g. "cpu0: 2 threads, avx2" */
  int32_t host_accessible; /* 1: the host may read and write device pointers directly */
  uint64_t memory_bytes;   /* 0 when unknown */
} kiln_device_info;

typedef struct kiln_kernel kiln_kernel; /* opaque, plugin-owned */
typedef struct kiln_stream kiln_stream; /* opaque; NULL means the device's default stream */

/* The runtime's services offered to a plugin. */
typedef struct kiln_host_i {
  uint32_t abi_version;
  /* level: 0 debug, 1 info, 2 warning. May be NULL. */
  void (*log)(int32_t level, const char* message);
} kiln_host_i;

typedef struct kiln_backend_i {
  uint32_t abi_version; /* must equal KILN_BACKEND_ABI_VERSION */
  const char* name;     /* "cpu", "cuda": lower case, unique */
  void* self;           /* passed back as the first argument of every entry point */

  int32_t (*device_count)(void* self);
  kiln_status (*device_info)(void* self, int32_t device, kiln_device_info* out);
  /* Options such as "threads" = "4". Unknown keys return KILN_ERR_INVALID_ARGUMENT. */
  kiln_status (*set_option)(void* self, const char* key, const char* value);

  kiln_status (*alloc)(void* self, int32_t device, size_t bytes, void** out);
  void (*free)(void* self, int32_t device, void* ptr);
  kiln_status (*copy_to_host)(void* self, int32_t device, void* host_dst, const void* src,
                              size_t bytes);
  kiln_status (*copy_from_host)(void* self, int32_t device, void* dst, const void* host_src,
                                size_t bytes);

  /* Returns 1 when the backend can run the node; otherwise 0 and, when reason is not NULL,
   * a short plugin-owned reason ("dtype i64 not supported"). */
  int32_t (*supports)(void* self, const kiln_node* node, const char** reason);
  /* Creates (or fetches from the plugin's cache) everything the node needs to run. The node
   * and all it points to are only valid during the call. */
  kiln_status (*prepare)(void* self, int32_t device, const kiln_node* node, kiln_kernel** out);
  /* Executes a prepared kernel. Tensors match the shapes given to prepare. */
  kiln_status (*run)(void* self, kiln_kernel* kernel, const kiln_tensor* inputs, size_t n_inputs,
                     kiln_tensor* outputs, size_t n_outputs, kiln_stream* stream);
  void (*release_kernel)(void* self, kiln_kernel* kernel);
  kiln_status (*sync)(void* self, int32_t device);
  /* Frees everything; the table is not used afterwards. */
  void (*shutdown)(void* self);
} kiln_backend_i;

/* The one symbol a plugin exports. Returns NULL when the backend cannot start; then
 * *error, if error is not NULL, says why ("no CUDA driver"). */
typedef const kiln_backend_i* (*kiln_backend_init_fn)(const kiln_host_i* host,
                                                      const char** error);

#ifdef __cplusplus
}
#endif

#endif /* KILN_BACKEND_ABI_H */
