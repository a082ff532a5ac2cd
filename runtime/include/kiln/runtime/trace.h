#pragma once
// Trace mode (DESIGN decision 4): while a Tracer is active on a thread, every eager op (run_op)
// also appends a Node (op, attributes, opset) to the tracer's graph. Tensors map to graph values
// by storage identity and view (offset, shape, strides): a view of a traced value that did not go
// through run_op (Tensor::reshape, transpose, slice, expand) is recorded as the Reshape/Flatten,
// Transpose, Slice or Expand node that gives it. Tensors the trace has not seen become
// initializers: under the name given to name_tensor (parameters and buffers), else "param_N" for
// a tensor that requires grad and "const_N" for a plain constant.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/runtime/attribute.h"
#include "kiln/runtime/graph.h"
#include "kiln/runtime/tensor.h"

namespace kiln {

class OpDef;

class Tracer {
 public:
  Tracer();
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  /// Declares t (this exact view) as graph input `name` with the given (possibly symbolic)
  /// shape. Throws Error(kInvalidArgument) when the name is taken or the rank differs.
  void add_input(const std::string& name, const Tensor& t, Shape shape);
  /// Gives t (a parameter or buffer) its initializer name, used when an op reads t or a view of
  /// it. Throws Error(kInvalidArgument) when the name is already given to another tensor.
  void name_tensor(const std::string& name, const Tensor& t);
  /// Marks the value t holds as graph output `name` with the given shape (an input or an
  /// initializer passed straight through gets an Identity node).
  void add_output(const std::string& name, const Tensor& t, Shape shape);

  /// Called by run_op for each op while this tracer is active. Throws Error(kUnsupported) when
  /// an input is a view of a traced value that no Reshape/Transpose/Slice/Expand expresses.
  void record(const OpDef& def, std::string_view domain, int opset, const Attributes& attrs,
              const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs);

  /// Called by Tensor::clone (so contiguous() and a reshape that copies) while this tracer is
  /// active: the copy holds the same value as src, so it maps to src's value.
  void record_copy(const Tensor& src, const Tensor& copy);

  /// Ops recorded so far (view nodes the tracer added included).
  size_t num_nodes() const;
  /// The graph: inputs, nodes in call order, initializers that are read, outputs; nodes that
  /// do not lead to an output are removed. The default domain's opset is the highest opset any
  /// recorded node ran at. Throws Error(kInvalidArgument) when no output was added, or when ops
  /// of one domain ran at different opsets (one ONNX graph has one opset per domain).
  Graph finish(const std::string& label = "trace");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Makes tracer active on this thread for the guard's lifetime (restores the previous one).
class TraceGuard {
 public:
  explicit TraceGuard(Tracer& tracer);
  ~TraceGuard();
  TraceGuard(const TraceGuard&) = delete;
  TraceGuard& operator=(const TraceGuard&) = delete;

 private:
  Tracer* previous_;
};

/// The tracer active on this thread, or nullptr.
Tracer* active_tracer();

}  // namespace kiln
