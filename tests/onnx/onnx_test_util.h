#pragma once
// Shared by the ONNX import/export tests: ModelProtos built in code, TensorProto reading for the
// onnx test data, temporary folders, and graph comparison.

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "kiln/runtime/graph.h"
#include "kiln/runtime/tensor.h"

namespace kiln::onnx_test {

namespace fs = std::filesystem;
using ::onnx::ModelProto;
using ::onnx::TensorProto;

using DimSpec = std::variant<int64_t, std::string>;

inline ModelProto make_model(int opset = 13, int64_t ir_version = 7) {
  ModelProto m;
  m.set_ir_version(ir_version);
  m.set_producer_name("kiln-tests");
  auto* imp = m.add_opset_import();
  imp->set_domain("");
  imp->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

inline void set_type(::onnx::ValueInfoProto* v, const std::string& name, int32_t elem_type,
                     const std::vector<DimSpec>& dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (const DimSpec& d : dims) {
    auto* dim = shape->add_dim();
    if (std::holds_alternative<int64_t>(d))
      dim->set_dim_value(std::get<int64_t>(d));
    else
      dim->set_dim_param(std::get<std::string>(d));
  }
}

inline void add_input(ModelProto& m, const std::string& name, int32_t elem_type,
                      const std::vector<DimSpec>& dims) {
  set_type(m.mutable_graph()->add_input(), name, elem_type, dims);
}
inline void add_output(ModelProto& m, const std::string& name, int32_t elem_type,
                       const std::vector<DimSpec>& dims) {
  set_type(m.mutable_graph()->add_output(), name, elem_type, dims);
}

inline ::onnx::NodeProto* add_node(ModelProto& m, const std::string& op,
                                   const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs, const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

inline void add_int_attr(::onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}

/// A TensorProto whose values are in raw_data.
template <class T>
TensorProto raw_tensor(const std::string& name, int32_t elem_type, const std::vector<int64_t>& dims,
                       const std::vector<T>& values) {
  TensorProto t;
  t.set_name(name);
  t.set_data_type(elem_type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
  return t;
}

inline TensorProto float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<float>& values) {
  TensorProto t;
  t.set_name(name);
  t.set_data_type(TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  for (float v : values) t.add_float_data(v);
  return t;
}

inline std::string bytes_of(const ModelProto& m) {
  std::string s;
  EXPECT_TRUE(m.SerializeToString(&s));
  return s;
}

inline void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A fresh folder under the system temp folder, removed with its contents at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kiln_onnx_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? fs::path(tmpl) : fs::path();
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

/// A host tensor from a TensorProto of the onnx test data (raw_data or typed fields; numeric
/// types kiln has).
inline Tensor tensor_of(const TensorProto& t) {
  Dims dims(t.dims().begin(), t.dims().end());
  DType dtype = DType::kUndefined;
  switch (t.data_type()) {
    case TensorProto::FLOAT:
      dtype = DType::kF32;
      break;
    case TensorProto::DOUBLE:
      dtype = DType::kF64;
      break;
    case TensorProto::INT64:
      dtype = DType::kI64;
      break;
    case TensorProto::INT32:
      dtype = DType::kI32;
      break;
    case TensorProto::INT8:
      dtype = DType::kI8;
      break;
    case TensorProto::UINT8:
      dtype = DType::kU8;
      break;
    case TensorProto::BOOL:
      dtype = DType::kBool;
      break;
    default:
      ADD_FAILURE() << "test data type " << t.data_type();
      return {};
  }
  Tensor out = Tensor::empty(dims, dtype);
  if (t.has_raw_data()) {
    EXPECT_EQ(t.raw_data().size(), out.nbytes());
    std::memcpy(out.raw_data(), t.raw_data().data(), std::min(out.nbytes(), t.raw_data().size()));
  } else if (dtype == DType::kF32) {
    std::memcpy(out.raw_data(), t.float_data().data(), out.nbytes());
  } else if (dtype == DType::kI64) {
    std::memcpy(out.raw_data(), t.int64_data().data(), out.nbytes());
  } else if (dtype == DType::kF64) {
    std::memcpy(out.raw_data(), t.double_data().data(), out.nbytes());
  } else {
    ADD_FAILURE() << "typed field for " << to_string(dtype);
  }
  return out;
}

inline Tensor read_tensor_pb(const fs::path& path) {
  TensorProto t;
  EXPECT_TRUE(t.ParseFromString(read_file(path))) << path;
  return tensor_of(t);
}

/// Elements as doubles (f32, f64, integers, bool), for comparisons.
inline std::vector<double> as_doubles(const Tensor& t) {
  Tensor c = t.to(Device::host()).contiguous();
  std::vector<double> out(static_cast<size_t>(c.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    const char* p = static_cast<const char*>(c.raw_data()) + i * size_of(c.dtype());
    switch (c.dtype()) {
      case DType::kF32:
        out[i] = *reinterpret_cast<const float*>(p);
        break;
      case DType::kF64:
        out[i] = *reinterpret_cast<const double*>(p);
        break;
      case DType::kI64:
        out[i] = static_cast<double>(*reinterpret_cast<const int64_t*>(p));
        break;
      case DType::kI32:
        out[i] = *reinterpret_cast<const int32_t*>(p);
        break;
      case DType::kI8:
        out[i] = *reinterpret_cast<const int8_t*>(p);
        break;
      case DType::kU8:
        out[i] = *reinterpret_cast<const uint8_t*>(p);
        break;
      case DType::kBool:
        out[i] = *reinterpret_cast<const uint8_t*>(p) ? 1 : 0;
        break;
      default:
        ADD_FAILURE() << "dtype " << to_string(c.dtype());
        return out;
    }
  }
  return out;
}

/// got matches want in dtype, shape and values within ONNX's runner tolerances.
inline void expect_close(const Tensor& got, const Tensor& want, const std::string& what, double rtol = 1e-3,
                         double atol = 1e-7) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  std::vector<double> g = as_doubles(got), w = as_doubles(want);
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << "[" << i << "]";
      continue;
    }
    EXPECT_LE(std::fabs(g[i] - w[i]), atol + rtol * std::fabs(w[i]))
        << what << "[" << i << "]: " << g[i] << " vs " << w[i];
  }
}

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ca = a.to(Device::host()).contiguous(), cb = b.to(Device::host()).contiguous();
  return ca.nbytes() == cb.nbytes() &&
         (ca.nbytes() == 0 || std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0);
}

inline bool same_attribute(const Attribute& a, const Attribute& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, Tensor>) {
          return same_bytes(x, y);
        } else if constexpr (std::is_same_v<T, std::vector<Tensor>>) {
          if (x.size() != y.size()) return false;
          for (size_t i = 0; i < x.size(); ++i)
            if (!same_bytes(x[i], y[i])) return false;
          return true;
        } else {
          return x == y;
        }
      },
      a);
}

/// Two graphs are the same: inputs, outputs and values with their types, initializers byte
/// for byte, nodes in order with names, inputs, outputs and attributes, and opsets.
inline void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.opsets(), b.opsets());
  auto names = [](const std::vector<Value*>& vs) {
    std::vector<std::string> out;
    for (const Value* v : vs) out.push_back(v ? v->name() : "");
    return out;
  };
  EXPECT_EQ(names(a.inputs()), names(b.inputs()));
  EXPECT_EQ(names(a.outputs()), names(b.outputs()));
  EXPECT_EQ(names(a.initializers()).size(), names(b.initializers()).size());
  for (const Value* init : a.initializers()) {
    const Value* other = b.find_value(init->name());
    ASSERT_TRUE(other && other->initializer()) << init->name();
    EXPECT_TRUE(same_bytes(*init->initializer(), *other->initializer())) << init->name();
  }
  auto na = a.topological_order(), nb = b.topological_order();
  ASSERT_EQ(na.size(), nb.size());
  for (size_t i = 0; i < na.size(); ++i) {
    EXPECT_EQ(na[i]->name(), nb[i]->name());
    EXPECT_EQ(na[i]->op_type(), nb[i]->op_type());
    EXPECT_EQ(na[i]->domain(), nb[i]->domain());
    EXPECT_EQ(names(na[i]->inputs()), names(nb[i]->inputs())) << na[i]->describe();
    EXPECT_EQ(names(na[i]->outputs()), names(nb[i]->outputs())) << na[i]->describe();
    ASSERT_EQ(na[i]->attrs().size(), nb[i]->attrs().size()) << na[i]->describe();
    for (const auto& [key, value] : na[i]->attrs().all()) {
      const Attribute* other = nb[i]->attrs().find(key);
      ASSERT_NE(other, nullptr) << na[i]->describe() << " " << key;
      EXPECT_TRUE(same_attribute(value, *other)) << na[i]->describe() << " " << key;
    }
    for (size_t k = 0; k < na[i]->outputs().size(); ++k) {
      const Value* va = na[i]->output(k);
      const Value* vb = nb[i]->output(k);
      if (!va || !vb) continue;
      EXPECT_EQ(va->dtype(), vb->dtype()) << va->name();
      EXPECT_EQ(va->shape(), vb->shape()) << va->name();
    }
  }
  for (size_t i = 0; i < a.inputs().size() && i < b.inputs().size(); ++i) {
    EXPECT_EQ(a.inputs()[i]->dtype(), b.inputs()[i]->dtype());
    EXPECT_EQ(a.inputs()[i]->shape(), b.inputs()[i]->shape());
  }
}

// x [2,3] -> Add(x, w) -> Relu -> y, with w [2,3] in raw_data.
inline ModelProto good_model() {
  ModelProto m = make_model(13);
  add_input(m, "x", TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  *m.mutable_graph()->add_initializer() =
      raw_tensor<float>("w", TensorProto::FLOAT, {2, 3}, {1, 2, 3, 4, 5, 6});
  add_node(m, "Add", {"x", "w"}, {"a"}, "add");
  add_node(m, "Relu", {"a"}, {"y"}, "relu");
  add_output(m, "y", TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  return m;
}

/// Points t at external data in `location` (no offset or length).
inline void make_external(TensorProto* t, const std::string& location) {
  t->clear_raw_data();
  t->set_data_location(TensorProto::EXTERNAL);
  auto* e = t->add_external_data();
  e->set_key("location");
  e->set_value(location);
}

}  // namespace kiln::onnx_test
