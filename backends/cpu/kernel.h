#pragma once
// The CPU plugin's internal kernel interface. Nothing here crosses the ABI: plugin.cpp turns
// these C++ objects and exceptions into the C table of backend_abi.h.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/backend_abi.h"

namespace kiln::cpu {

using Dims = std::vector<int64_t>;

/// Thrown inside the plugin; plugin.cpp converts it to a kiln_status.
class KernelError : public std::runtime_error {
 public:
  KernelError(kiln_status_code code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  kiln_status_code code() const { return code_; }

 private:
  kiln_status_code code_;
};

/// Throws KernelError(KILN_ERR_INVALID_ARGUMENT) with "node 'n' (Op): message".
[[noreturn]] void fail(const struct NodeView& node, const std::string& message);

size_t dtype_size(int32_t dtype);
const char* dtype_name(int32_t dtype);
int64_t numel(const Dims& dims);
Dims shape_of(const kiln_tensor& t);

/// Read-only helpers over a kiln_node. Attribute getters throw KernelError when the stored
/// type differs from the requested one.
struct NodeView {
  const kiln_node& node;

  std::string_view name() const { return node.name; }
  std::string_view op_type() const { return node.op_type; }
  int opset() const { return node.opset; }
  size_t num_inputs() const { return node.n_inputs; }
  size_t num_outputs() const { return node.n_outputs; }
  bool has_input(size_t i) const;
  int32_t input_dtype(size_t i) const;
  Dims input_shape(size_t i) const;
  int32_t output_dtype(size_t i) const;
  Dims output_shape(size_t i) const;
  /// The host value the runtime knows at prepare time, or nullptr.
  const kiln_tensor* input_value(size_t i) const;
  /// input_value(i) read as int64s (i32 or i64); throws when the value is not known.
  std::vector<int64_t> input_ints(size_t i) const;
  /// input_value(i)'s single element as float (any numeric dtype); throws when not known.
  double input_scalar(size_t i) const;

  const kiln_attr* attr(std::string_view name) const;
  int64_t attr_int(std::string_view name, int64_t fallback) const;
  float attr_float(std::string_view name, float fallback) const;
  std::string attr_string(std::string_view name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(std::string_view name, const std::vector<int64_t>& fallback) const;
  std::vector<float> attr_floats(std::string_view name, const std::vector<float>& fallback) const;

  /// Bytes of all present inputs and outputs: a measure of the node's work.
  size_t io_bytes() const;

  /// Op, opset, dtypes, shapes, known values and attributes: two nodes with equal keys can
  /// share one kernel. std::nullopt for a node with a large known input (weights): its kernel
  /// is its own.
  std::optional<std::string> cache_key() const;
};

/// A prepared kernel. run() must not change the kernel's observable state: one kernel may
/// be shared by several nodes with equal cache keys.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(const kiln_tensor* inputs, size_t n_inputs, kiln_tensor* outputs,
                   size_t n_outputs) = 0;
};

/// Returns an empty string when the node is supported, else the reason.
using SupportsFn = std::function<std::string(const NodeView&)>;
using PrepareFn = std::function<std::unique_ptr<Kernel>(const NodeView&)>;

struct KernelEntry {
  SupportsFn supports;
  PrepareFn prepare;
};

/// Kernels by op type (default ONNX domain).
class KernelTable {
 public:
  void add(const std::string& op_type, SupportsFn supports, PrepareFn prepare);
  const KernelEntry* find(std::string_view op_type) const;
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, KernelEntry, std::less<>> entries_;
};

/// "" when every present input and every wanted output (omitted optional outputs are skipped)
/// has a dtype in `allowed`, else the reason naming the first offending dtype.
std::string check_dtypes(const NodeView& v, std::initializer_list<int32_t> allowed);
/// check_dtypes as a SupportsFn.
SupportsFn dtypes_in(std::vector<int32_t> dtypes);

/// Every kernel family registers here (kernels.cpp); called once from kiln_backend_init.
void register_kernels(KernelTable& table);

}  // namespace kiln::cpu
