#pragma once
// Kernels of the test backend: f32 Add/Sub/Mul/Div with numpy broadcasting and
// Relu/Neg/Abs/Identity. Plain C++ over the ABI's structs; nothing here crosses the ABI.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/backend_abi.h"

namespace kiln::test_backend {

/// Thrown inside the plugin; the entry points turn it into a kiln_status.
class Failure : public std::runtime_error {
 public:
  Failure(int32_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int32_t code() const { return code_; }

 private:
  int32_t code_;
};

enum class OpKind { kAdd, kSub, kMul, kDiv, kRelu, kNeg, kAbs, kIdentity };

/// Why the node cannot run here ("" when it can), and the status code prepare reports for it.
struct Verdict {
  int32_t code = KILN_OK;
  std::string reason;
};

/// Checks op, domain, arity, attributes, dtypes, ranks and (for binary ops) that the output
/// shape is the broadcast of the input shapes.
Verdict check_node(const kiln_node& node);

/// A prepared node: its shapes and, for binary ops, each input's strides over the output.
class Kernel {
 public:
  /// Throws Failure with the verdict of check_node when the node cannot run.
  explicit Kernel(const kiln_node& node);

  const std::string& describe() const { return describe_; }
  /// Checks counts, dtypes and shapes against the prepared node; throws Failure naming the
  /// argument.
  void check(const kiln_tensor* inputs, size_t n_inputs, const kiln_tensor* outputs, size_t n_outputs) const;
  /// Computes with up to `threads` threads; the arguments passed check().
  void run(const kiln_tensor* inputs, kiln_tensor* outputs, int threads) const;
  /// Bytes of input i / the output, for the runtime-pointer checks.
  size_t input_bytes(size_t i) const;
  size_t output_bytes() const;

 private:
  void check_tensor(const kiln_tensor& t, const std::vector<int64_t>& shape, const std::string& what) const;
  void compute(const float* a, const float* b, float* out, int64_t begin, int64_t end) const;

  std::string describe_;  // "node 'Add_1' (Add)"
  OpKind kind_;
  size_t arity_;
  std::vector<std::vector<int64_t>> input_shapes_;
  std::vector<int64_t> output_shape_;
  std::vector<std::vector<int64_t>> broadcast_strides_;  // per input, over output dims; 0 = broadcast
  int64_t numel_ = 0;
};

/// "f32", "i64"...; "dtype <n>" for unknown values.
std::string dtype_name(int32_t dtype);
/// "[2,3]".
std::string dims_string(const int64_t* dims, int32_t rank);

}  // namespace kiln::test_backend
