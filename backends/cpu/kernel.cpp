#include "kernel.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <sstream>

namespace kiln::cpu {

void fail(const NodeView& node, const std::string& message) {
  throw KernelError(KILN_ERR_INVALID_ARGUMENT, "node '" + std::string(node.name()) + "' (" +
                                                   std::string(node.op_type()) + "): " + message);
}

size_t dtype_size(int32_t dtype) {
  switch (dtype) {
    case KILN_DTYPE_F64:
    case KILN_DTYPE_I64:
      return 8;
    case KILN_DTYPE_F32:
    case KILN_DTYPE_I32:
      return 4;
    case KILN_DTYPE_F16:
    case KILN_DTYPE_BF16:
      return 2;
    case KILN_DTYPE_I8:
    case KILN_DTYPE_U8:
    case KILN_DTYPE_BOOL:
      return 1;
    default:
      return 0;
  }
}

const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case KILN_DTYPE_F32: return "f32";
    case KILN_DTYPE_F64: return "f64";
    case KILN_DTYPE_F16: return "f16";
    case KILN_DTYPE_BF16: return "bf16";
    case KILN_DTYPE_I64: return "i64";
    case KILN_DTYPE_I32: return "i32";
    case KILN_DTYPE_I8: return "i8";
    case KILN_DTYPE_U8: return "u8";
    case KILN_DTYPE_BOOL: return "bool";
    default: return "undefined";
  }
}

int64_t numel(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Dims shape_of(const kiln_tensor& t) { return Dims(t.shape, t.shape + t.rank); }

bool NodeView::has_input(size_t i) const {
  return i < node.n_inputs && node.inputs[i].dtype != KILN_DTYPE_UNDEFINED;
}
int32_t NodeView::input_dtype(size_t i) const { return has_input(i) ? node.inputs[i].dtype : KILN_DTYPE_UNDEFINED; }
Dims NodeView::input_shape(size_t i) const {
  if (!has_input(i)) fail(*this, "input " + std::to_string(i) + " is missing");
  const kiln_value& v = node.inputs[i];
  return Dims(v.shape, v.shape + v.rank);
}
int32_t NodeView::output_dtype(size_t i) const { return node.outputs[i].dtype; }
Dims NodeView::output_shape(size_t i) const {
  const kiln_value& v = node.outputs[i];
  return Dims(v.shape, v.shape + v.rank);
}
const kiln_tensor* NodeView::input_value(size_t i) const {
  return has_input(i) ? node.inputs[i].host_value : nullptr;
}

std::vector<int64_t> NodeView::input_ints(size_t i) const {
  const kiln_tensor* t = input_value(i);
  if (!t) fail(*this, "the value of input " + std::to_string(i) + " must be known before running");
  int64_t n = 1;  // counted in place: a temporary Dims here trips GCC 12's -Wfree-nonheap-object at -O3
  for (int32_t d = 0; d < t->rank; ++d) n *= t->shape[d];
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    if (t->dtype == KILN_DTYPE_I64) out[k] = static_cast<const int64_t*>(t->data)[k];
    else if (t->dtype == KILN_DTYPE_I32) out[k] = static_cast<const int32_t*>(t->data)[k];
    else fail(*this, std::string("input ") + std::to_string(i) + " must be i32 or i64, not " + dtype_name(t->dtype));
  }
  return out;
}

double NodeView::input_scalar(size_t i) const {
  const kiln_tensor* t = input_value(i);
  if (!t || numel(shape_of(*t)) != 1) fail(*this, "input " + std::to_string(i) + " must be a known scalar");
  switch (t->dtype) {
    case KILN_DTYPE_F32: return *static_cast<const float*>(t->data);
    case KILN_DTYPE_F64: return *static_cast<const double*>(t->data);
    case KILN_DTYPE_I64: return static_cast<double>(*static_cast<const int64_t*>(t->data));
    case KILN_DTYPE_I32: return *static_cast<const int32_t*>(t->data);
    case KILN_DTYPE_I8: return *static_cast<const int8_t*>(t->data);
    case KILN_DTYPE_U8: return *static_cast<const uint8_t*>(t->data);
    case KILN_DTYPE_BOOL: return *static_cast<const uint8_t*>(t->data);
    default: fail(*this, std::string("input ") + std::to_string(i) + " has unsupported dtype " + dtype_name(t->dtype));
  }
}

const kiln_attr* NodeView::attr(std::string_view name) const {
  for (size_t i = 0; i < node.n_attrs; ++i)
    if (name == node.attrs[i].name) return &node.attrs[i];
  return nullptr;
}

namespace {
const kiln_attr* typed(const NodeView& v, std::string_view name, int32_t type) {
  const kiln_attr* a = v.attr(name);
  if (a && a->type != type)
    fail(v, "attribute '" + std::string(name) + "' has the wrong type");
  return a;
}
}  // namespace

int64_t NodeView::attr_int(std::string_view name, int64_t fallback) const {
  const kiln_attr* a = typed(*this, name, KILN_ATTR_INT);
  return a ? a->i : fallback;
}
float NodeView::attr_float(std::string_view name, float fallback) const {
  const kiln_attr* a = typed(*this, name, KILN_ATTR_FLOAT);
  return a ? a->f : fallback;
}
std::string NodeView::attr_string(std::string_view name, const std::string& fallback) const {
  const kiln_attr* a = typed(*this, name, KILN_ATTR_STRING);
  return a ? std::string(a->s) : fallback;
}
std::vector<int64_t> NodeView::attr_ints(std::string_view name, const std::vector<int64_t>& fallback) const {
  const kiln_attr* a = typed(*this, name, KILN_ATTR_INTS);
  return a ? std::vector<int64_t>(a->ints, a->ints + a->count) : fallback;
}
std::vector<float> NodeView::attr_floats(std::string_view name, const std::vector<float>& fallback) const {
  const kiln_attr* a = typed(*this, name, KILN_ATTR_FLOATS);
  return a ? std::vector<float>(a->floats, a->floats + a->count) : fallback;
}

size_t NodeView::io_bytes() const {
  size_t bytes = 0;
  for (size_t i = 0; i < num_inputs(); ++i)
    if (has_input(i)) bytes += static_cast<size_t>(numel(input_shape(i))) * dtype_size(input_dtype(i));
  for (size_t i = 0; i < num_outputs(); ++i)
    bytes += static_cast<size_t>(numel(output_shape(i))) * dtype_size(output_dtype(i));
  return bytes;
}

std::optional<std::string> NodeView::cache_key() const {
  // A kernel built from a large constant (weights) is not shared: keying it by content would
  // cost as much as the data, and keying it by anything less could hand a node another's weights.
  auto large = [](const kiln_tensor* t) { return t && numel(shape_of(*t)) > KILN_SMALL_CONSTANT; };
  for (size_t i = 0; i < node.n_inputs; ++i)
    if (large(node.inputs[i].host_value)) return std::nullopt;
  for (size_t i = 0; i < node.n_attrs; ++i)
    if (node.attrs[i].type == KILN_ATTR_TENSOR && large(node.attrs[i].t)) return std::nullopt;
  std::ostringstream key;
  key << node.op_type << '/' << node.domain << '/' << node.opset;
  auto put_value = [&](const kiln_value& v) {
    key << '|' << v.dtype << '[';
    for (int32_t d = 0; d < v.rank; ++d) key << v.shape[d] << ',';
    key << ']';
    if (v.host_value) {  // known values change the kernel (e.g. Slice starts)
      const kiln_tensor& t = *v.host_value;
      size_t bytes = static_cast<size_t>(numel(shape_of(t))) * dtype_size(t.dtype);
      key << '=';
      const auto* p = static_cast<const unsigned char*>(t.data);
      for (size_t b = 0; b < bytes; ++b) key << std::hex << static_cast<int>(p[b]) << std::dec << '.';
    }
  };
  for (size_t i = 0; i < node.n_inputs; ++i) put_value(node.inputs[i]);
  key << "->";
  for (size_t i = 0; i < node.n_outputs; ++i) put_value(node.outputs[i]);
  for (size_t i = 0; i < node.n_attrs; ++i) {
    const kiln_attr& a = node.attrs[i];
    key << ';' << a.name << ':' << a.type << '=';
    switch (a.type) {
      case KILN_ATTR_INT: key << a.i; break;
      case KILN_ATTR_FLOAT: key << a.f; break;
      case KILN_ATTR_STRING: key << a.s; break;
      case KILN_ATTR_INTS: for (size_t k = 0; k < a.count; ++k) key << a.ints[k] << ','; break;
      case KILN_ATTR_FLOATS: for (size_t k = 0; k < a.count; ++k) key << a.floats[k] << ','; break;
      case KILN_ATTR_STRINGS: for (size_t k = 0; k < a.count; ++k) key << a.strings[k] << ','; break;
      case KILN_ATTR_TENSOR: {
        // Tensor attributes (Constant, ConstantOfShape) are part of the key by content.
        const kiln_tensor& t = *a.t;
        size_t bytes = static_cast<size_t>(numel(shape_of(t))) * dtype_size(t.dtype);
        key << t.dtype << '#';
        key.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(bytes));
        break;
      }
      default: break;
    }
  }
  return key.str();
}

void KernelTable::add(const std::string& op_type, SupportsFn supports, PrepareFn prepare) {
  entries_[op_type] = KernelEntry{std::move(supports), std::move(prepare)};
}

const KernelEntry* KernelTable::find(std::string_view op_type) const {
  auto it = entries_.find(op_type);
  return it == entries_.end() ? nullptr : &it->second;
}

namespace {
std::string check_dtypes(const NodeView& v, const int32_t* begin, const int32_t* end) {
  auto ok = [&](int32_t d) { return std::find(begin, end, d) != end; };
  for (size_t i = 0; i < v.num_inputs(); ++i)
    if (v.has_input(i) && !ok(v.input_dtype(i)))
      return std::string("input dtype ") + dtype_name(v.input_dtype(i)) + " not supported";
  for (size_t i = 0; i < v.num_outputs(); ++i)
    if (v.output_dtype(i) != KILN_DTYPE_UNDEFINED && !ok(v.output_dtype(i)))
      return std::string("output dtype ") + dtype_name(v.output_dtype(i)) + " not supported";
  return "";
}
}  // namespace

std::string check_dtypes(const NodeView& v, std::initializer_list<int32_t> allowed) {
  return check_dtypes(v, allowed.begin(), allowed.end());
}

SupportsFn dtypes_in(std::vector<int32_t> dtypes) {
  return [dtypes](const NodeView& v) { return check_dtypes(v, dtypes.data(), dtypes.data() + dtypes.size()); };
}

}  // namespace kiln::cpu
