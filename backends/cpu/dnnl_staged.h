#pragma once
// Staged: one operand of a oneDNN primitive whose layout inside the primitive (blocked, chosen
// by format_tag::any) may differ from the plain ONNX layout, with the reorders between them.

#include <cstring>

#include "dnnl_exec.h"

namespace kiln::cpu {

// One operand whose layout inside the primitive may differ from the plain one.
class Staged {
 public:
  void setup(const dnnl::memory::desc& plain, const dnnl::memory::desc& inner, bool to_inner) {
    needed_ = plain != inner;
    inner_ = inner;
    if (!needed_) return;
    const auto& from = to_inner ? plain : inner;
    const auto& to = to_inner ? inner : plain;
    reorder_.set_primitive(dnnl::reorder(dnnl::reorder::primitive_desc(engine(), from, engine(), to)));
    reorder_.bind(DNNL_ARG_FROM, from);
    reorder_.bind(DNNL_ARG_TO, to);
  }
  const dnnl::memory::desc& inner() const { return inner_; }
  /// The buffer the primitive reads: `data` itself, or its reordered copy in scratch `slot`.
  const void* in(const void* data, size_t slot) const {
    if (!needed_) return data;
    void* buf = scratch(slot, inner_.get_size());
    reorder_.run({data, buf});
    return buf;
  }
  /// The buffer the primitive writes; finish() moves it to `data`.
  void* out(void* data, size_t slot) const { return needed_ ? scratch(slot, inner_.get_size()) : data; }
  void finish(const void* buf, void* data) const {
    if (needed_) reorder_.run({buf, data});
  }
  /// Writes `data` (plain, `bytes` long) into `buf` in the inner layout.
  void in_to(const void* data, void* buf, size_t bytes) const {
    if (needed_) reorder_.run({data, buf});
    else if (buf != data) std::memmove(buf, data, bytes);
  }

 private:
  bool needed_ = false;
  dnnl::memory::desc inner_;
  DnnlCall reorder_;
};

}  // namespace kiln::cpu
