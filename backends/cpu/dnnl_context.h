#pragma once
// The plugin's one oneDNN CPU engine and stream, plus small conversions used by kernels.

#include <dnnl.hpp>

#include "kernel.h"

namespace kiln::cpu {

dnnl::engine& engine();
dnnl::stream& stream();

/// oneDNN data type of a kiln dtype; throws KernelError(UNSUPPORTED) when it has none.
dnnl::memory::data_type dnnl_type(int32_t dtype);
/// Plain row-major memory descriptor for dims (a 0-d shape becomes {1}).
dnnl::memory::desc plain_desc(const Dims& dims, int32_t dtype);
/// Wraps a tensor's data pointer (no copy).
dnnl::memory wrap(const dnnl::memory::desc& desc, const kiln_tensor& t);

}  // namespace kiln::cpu
