#include "dnnl_context.h"

namespace kiln::cpu {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

dnnl::memory::data_type dnnl_type(int32_t dtype) {
  using dt = dnnl::memory::data_type;
  switch (dtype) {
    case KILN_DTYPE_F32: return dt::f32;
    case KILN_DTYPE_F16: return dt::f16;
    case KILN_DTYPE_BF16: return dt::bf16;
    case KILN_DTYPE_I32: return dt::s32;
    case KILN_DTYPE_I8: return dt::s8;
    case KILN_DTYPE_U8: return dt::u8;
    default:
      throw KernelError(KILN_ERR_UNSUPPORTED, std::string("oneDNN has no dtype ") + dtype_name(dtype));
  }
}

dnnl::memory::desc plain_desc(const Dims& dims, int32_t dtype) {
  dnnl::memory::dims d = dims.empty() ? dnnl::memory::dims{1} : dnnl::memory::dims(dims.begin(), dims.end());
  dnnl::memory::dims strides(d.size(), 1);
  for (size_t i = d.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(d[i], 1);
  return dnnl::memory::desc(d, dnnl_type(dtype), strides);
}

dnnl::memory wrap(const dnnl::memory::desc& desc, const kiln_tensor& t) {
  return dnnl::memory(desc, engine(), t.data);
}

}  // namespace kiln::cpu
