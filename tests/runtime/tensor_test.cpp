#include "kiln/runtime/tensor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <numeric>

#include "kiln/runtime/backend.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln {
namespace {

// 0, 1, 2, ... as f32 in the given shape.
Tensor iota(const Dims& shape) {
  std::vector<float> v(static_cast<size_t>(checked_numel(shape)));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector(shape, v);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Tensor, EmptyIsContiguousAndAligned) {
  Tensor t = Tensor::empty({2, 3, 4}, DType::kF32);
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.shape(), (Dims{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Dims{12, 4, 1}));
  EXPECT_EQ(t.offset(), 0);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.device().is_host());
  EXPECT_TRUE(t.device().host_accessible());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  EXPECT_GE(t.storage()->bytes(), 96u);
}

TEST(Tensor, UndefinedByDefault) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_EQ(t.to_string(), "Tensor[undefined]");
  EXPECT_TRUE(contains(error_message([&] { t.data<float>(); }), "undefined"));
  error_message([&] { t.slice(0, 0, 1); });
  error_message([&] { t.contiguous(); });
}

TEST(Tensor, ZerosAndScalars) {
  Tensor z = Tensor::zeros({3, 2}, DType::kI64);
  EXPECT_EQ(z.to_vector<int64_t>(), std::vector<int64_t>(6, 0));
  Tensor s = Tensor::scalar(2.5);
  EXPECT_EQ(s.rank(), 0u);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.dtype(), DType::kF64);
  EXPECT_EQ(s.item<double>(), 2.5);
  EXPECT_EQ(s.to_vector<double>(), std::vector<double>{2.5});
}

TEST(Tensor, BadShapesAreRejected) {
  EXPECT_TRUE(contains(error_message([] { Tensor::empty({2, -1}, DType::kF32); }), "dim 1"));
  const int64_t big = int64_t{1} << 40;
  EXPECT_TRUE(contains(error_message([&] { Tensor::empty({big, big}, DType::kF32); }), "overflow"));
  // numel fits int64, bytes do not fit size_t.
  error_message([] { Tensor::empty({int64_t{1} << 62}, DType::kF64); });
  error_message([] { Tensor::empty({2}, DType::kUndefined); });
  EXPECT_TRUE(contains(error_message([] { Tensor::from_vector<float>({2, 2}, {1, 2, 3}); }), "3 values"));
}

TEST(Tensor, HugeAllocationIsOutOfMemory) {
  error_message([] { Tensor::empty({int64_t{1} << 60}, DType::kU8); }, ErrorCode::kOutOfMemory);
}

TEST(Tensor, RoundTripsEveryElementType) {
  EXPECT_EQ(Tensor::from_vector<float>({3}, {1.5f, -2, 3}).to_vector<float>(),
            (std::vector<float>{1.5f, -2, 3}));
  EXPECT_EQ(Tensor::from_vector<double>({2}, {1e300, -0.25}).to_vector<double>(),
            (std::vector<double>{1e300, -0.25}));
  const int64_t big = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(Tensor::from_vector<int64_t>({2}, {big, -7}).to_vector<int64_t>(),
            (std::vector<int64_t>{big, -7}));
  EXPECT_EQ(Tensor::from_vector<int32_t>({2}, {-3, 4}).to_vector<int32_t>(), (std::vector<int32_t>{-3, 4}));
  EXPECT_EQ(Tensor::from_vector<int8_t>({2}, {-128, 127}).to_vector<int8_t>(),
            (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(Tensor::from_vector<uint8_t>({2}, {0, 255}).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 255}));
  std::vector<bool> mask = {true, false, false, true, true};
  Tensor b = Tensor::from_vector({5}, mask);
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(b.nbytes(), 5u);  // one byte per element, not packed
  const auto* bytes = static_cast<const uint8_t*>(b.raw_data());
  EXPECT_EQ((std::vector<uint8_t>(bytes, bytes + 5)), (std::vector<uint8_t>{1, 0, 0, 1, 1}));
  EXPECT_EQ(b.to_vector<bool>(), mask);
  EXPECT_EQ(b.data<bool>()[3], true);
}

TEST(Tensor, DataChecksTheType) {
  Tensor t = iota({2});
  EXPECT_EQ(t.data<float>()[1], 1.0f);
  std::string msg = error_message([&] { t.data<int64_t>(); });
  EXPECT_TRUE(contains(msg, "i64") && contains(msg, "f32")) << msg;
  error_message([&] { t.to_vector<double>(); });
}

TEST(Tensor, ItemConvertsFromAnyNumericType) {
  EXPECT_EQ(Tensor::scalar<int64_t>(-3).item<float>(), -3.0f);
  EXPECT_EQ(Tensor::scalar<float>(2.75f).item<double>(), 2.75);
  EXPECT_EQ(Tensor::scalar<float>(2.75f).item<int64_t>(), 2);
  EXPECT_EQ(Tensor::scalar<uint8_t>(200).item<int32_t>(), 200);
  EXPECT_EQ(Tensor::scalar<bool>(true).item<float>(), 1.0f);
  EXPECT_EQ(Tensor::scalar<int32_t>(0).item<bool>(), false);
  EXPECT_EQ(Tensor::from_vector<int8_t>({1, 1, 1}, {-5}).item<int64_t>(), -5);
  // An element of a view, not the first of the storage.
  EXPECT_EQ(iota({3, 4}).slice(0, 2, 3).slice(1, 1, 2).item<float>(), 9.0f);
  EXPECT_TRUE(contains(error_message([] { iota({2}).item<float>(); }), "2 elements"));
  error_message([] { Tensor::scalar<float>(1e30f).item<int32_t>(); });
  error_message([] { Tensor::scalar<float>(std::numeric_limits<float>::quiet_NaN()).item<int64_t>(); });
}

TEST(Tensor, ItemReadsHalfPrecision) {
  // f16 1.5 is 0x3e00, -2 is 0xc000; bf16 1.5 is 0x3fc0.
  auto with_bits = [](DType dtype, uint16_t bits) {
    Tensor t = Tensor::empty({}, dtype);
    std::memcpy(t.raw_data(), &bits, 2);
    return t;
  };
  EXPECT_EQ(with_bits(DType::kF16, 0x3e00).item<float>(), 1.5f);
  EXPECT_EQ(with_bits(DType::kF16, 0xc000).item<float>(), -2.0f);
  EXPECT_EQ(with_bits(DType::kF16, 0x0001).item<double>(), std::ldexp(1.0, -24));  // smallest subnormal
  EXPECT_TRUE(std::isinf(with_bits(DType::kF16, 0x7c00).item<float>()));
  EXPECT_EQ(with_bits(DType::kBF16, 0x3fc0).item<float>(), 1.5f);
}

TEST(Tensor, DimAcceptsNegativeAxes) {
  Tensor t = Tensor::empty({2, 3, 4}, DType::kF32);
  EXPECT_EQ(t.dim(0), 2);
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_EQ(t.dim(-3), 2);
  EXPECT_TRUE(contains(error_message([&] { t.dim(3); }), "axis 3"));
  error_message([&] { t.dim(-4); });
  error_message([] { Tensor::scalar(1.0f).dim(0); });
}

TEST(Views, SliceStridesAndOffset) {
  Tensor t = iota({4, 6});
  Tensor s = t.slice(1, 1, 5, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), (Dims{4, 2}));
  EXPECT_EQ(s.strides(), (Dims{6, 2}));
  EXPECT_EQ(s.offset(), 1);
  EXPECT_EQ(s.storage(), t.storage());
  EXPECT_FALSE(s.is_contiguous());
  std::vector<float> expected;
  for (int r = 0; r < 4; ++r) {
    for (int c = 1; c < 5; c += 2) expected.push_back(static_cast<float>(r * 6 + c));
  }
  EXPECT_EQ(s.to_vector<float>(), expected);
  EXPECT_EQ(s.contiguous().to_vector<float>(), expected);
  EXPECT_TRUE(s.contiguous().is_contiguous());
  EXPECT_EQ(s.contiguous().strides(), (Dims{2, 1}));
}

TEST(Views, SliceNegativeAndClampedBounds) {
  Tensor t = iota({10});
  EXPECT_EQ(t.slice(0, -3, 100).to_vector<float>(), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(t.slice(0, -100, 2).to_vector<float>(), (std::vector<float>{0, 1}));
  EXPECT_EQ(t.slice(0, 2, -5, 3).to_vector<float>(), (std::vector<float>{2}));
  EXPECT_EQ(t.slice(0, 1, 10, 4).to_vector<float>(), (std::vector<float>{1, 5, 9}));
  EXPECT_EQ(t.slice(0, 0, 10, std::numeric_limits<int64_t>::max()).to_vector<float>(),
            (std::vector<float>{0}));
  Tensor e = t.slice(0, 6, 3);
  EXPECT_EQ(e.shape(), (Dims{0}));
  EXPECT_TRUE(e.to_vector<float>().empty());
  EXPECT_TRUE(contains(error_message([&] { t.slice(0, 0, 5, 0); }), "step 0"));
  error_message([&] { t.slice(0, 0, 5, -1); });
  EXPECT_TRUE(contains(error_message([&] { t.slice(1, 0, 5); }), "axis 1"));
}

TEST(Views, TransposeAndContiguous) {
  Tensor t = iota({2, 3});
  Tensor tt = t.transpose(0, 1);
  EXPECT_EQ(tt.shape(), (Dims{3, 2}));
  EXPECT_EQ(tt.strides(), (Dims{1, 3}));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.storage(), t.storage());
  Tensor c = tt.contiguous();
  EXPECT_NE(c.storage(), t.storage());
  std::vector<float> expected;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 2; ++j) expected.push_back(static_cast<float>(j * 3 + i));
  }
  EXPECT_EQ(c.to_vector<float>(), expected);         // 0 3 1 4 2 5
  EXPECT_EQ(t.contiguous().storage(), t.storage());  // already contiguous: no copy
  error_message([&] { t.transpose(0, 2); });
}

TEST(Views, PermuteRank6) {
  const Dims shape = {2, 1, 3, 2, 1, 2};
  Tensor t = iota(shape);
  const Dims perm = {5, 3, 0, 2, 4, 1};
  Tensor p = t.permute(perm);
  Dims src_strides = contiguous_strides(shape);
  for (size_t i = 0; i < perm.size(); ++i) {
    EXPECT_EQ(p.shape()[i], shape[perm[i]]);
    EXPECT_EQ(p.strides()[i], src_strides[perm[i]]);
  }
  // Reference: walk the permuted index space in row-major order.
  std::vector<float> expected;
  Dims idx(6, 0);
  for (int64_t k = 0; k < p.numel(); ++k) {
    int64_t flat = 0;
    for (size_t i = 0; i < 6; ++i) flat += idx[i] * src_strides[perm[i]];
    expected.push_back(static_cast<float>(flat));
    for (size_t i = 6; i-- > 0;) {
      if (++idx[i] < p.shape()[i]) break;
      idx[i] = 0;
    }
  }
  EXPECT_EQ(p.contiguous().to_vector<float>(), expected);
  EXPECT_TRUE(contains(error_message([&] { t.permute({0, 1, 2, 3, 4, 4}); }), "repeats"));
  error_message([&] { t.permute({0, 1}); });
  error_message([&] { t.permute({0, 1, 2, 3, 4, 6}); });
}

TEST(Views, ViewSharesStorage) {
  Tensor t = iota({2, 3, 4});
  Tensor v = t.view({6, -1});
  EXPECT_EQ(v.shape(), (Dims{6, 4}));
  EXPECT_EQ(v.strides(), (Dims{4, 1}));
  EXPECT_EQ(v.storage(), t.storage());
  EXPECT_EQ(t.view({24}).to_vector<float>(), t.to_vector<float>());
  EXPECT_EQ(t.view({1, 2, 1, 12, 1}).shape(), (Dims{1, 2, 1, 12, 1}));
  // A slice along the outer axis keeps the inner dims contiguous, so they still merge.
  Tensor s = iota({4, 3, 2}).slice(0, 1, 3);
  Tensor sv = s.view({2, 6});
  EXPECT_EQ(sv.strides(), (Dims{6, 1}));
  EXPECT_EQ(sv.offset(), 6);
  EXPECT_EQ(sv.to_vector<float>(), (std::vector<float>{6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}));
  // Splitting a transposed dim is a view too.
  Tensor tt = iota({4, 6}).transpose(0, 1);  // [6,4], strides [1,6]
  Tensor split = tt.view({2, 3, 4});
  EXPECT_EQ(split.strides(), (Dims{3, 1, 6}));
  EXPECT_EQ(split.contiguous().to_vector<float>(), tt.contiguous().to_vector<float>());
}

TEST(Views, ViewErrors) {
  Tensor t = iota({2, 3});
  EXPECT_TRUE(contains(error_message([&] { t.transpose(0, 1).view({6}); }), "reshape"));
  EXPECT_TRUE(contains(error_message([&] { t.view({4, 2}); }), "6 elements"));
  EXPECT_TRUE(contains(error_message([&] { t.view({-1, -1}); }), "only one"));
  error_message([&] { t.view({4, -1}); });
  error_message([&] { t.view({0, -1}); });
  error_message([&] { t.view({-2, 3}); });
}

TEST(Views, ReshapeCopiesOnlyWhenNeeded) {
  Tensor t = iota({2, 3});
  EXPECT_EQ(t.reshape({3, 2}).storage(), t.storage());
  Tensor tt = t.transpose(0, 1);
  Tensor r = tt.reshape({6});
  EXPECT_NE(r.storage(), t.storage());
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(tt.reshape({-1, 3}).shape(), (Dims{2, 3}));
  error_message([&] { tt.reshape({5}); });
}

TEST(Views, ExpandUsesStrideZero) {
  Tensor t = Tensor::from_vector<float>({3, 1}, {1, 2, 3});
  Tensor e = t.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Dims{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Dims{0, 1, 0}));
  EXPECT_EQ(e.storage(), t.storage());
  std::vector<float> expected;
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) expected.push_back(static_cast<float>(i + 1));
    }
  }
  EXPECT_EQ(e.contiguous().to_vector<float>(), expected);
  EXPECT_EQ(t.expand({-1, 2}).shape(), (Dims{3, 2}));
  EXPECT_EQ(t.expand({3, 0}).numel(), 0);
  EXPECT_EQ(Tensor::scalar(7.0f).expand({2, 2}).to_vector<float>(), std::vector<float>(4, 7.0f));
  EXPECT_TRUE(contains(error_message([&] { t.expand({2, 4}); }), "axis 0"));
  error_message([&] { t.expand({4}); });
  error_message([&] { t.expand({-1, 3, 4}); });
  // An expanded tensor cannot be flattened without a copy; reshape copies.
  error_message([&] { e.view({24}); });
  EXPECT_EQ(e.reshape({24}).to_vector<float>(), expected);
  // All-broadcast dims merge: every element is the same one.
  EXPECT_EQ(Tensor::scalar(1.0f).expand({3, 4}).view({12}).strides(), (Dims{0}));
}

TEST(Views, ChainedViewsOfRank7) {
  const Dims shape = {2, 3, 1, 2, 2, 1, 3};
  Tensor t = iota(shape);
  Tensor v = t.slice(1, 1, 3).transpose(0, 6).slice(0, 0, 3, 2);
  EXPECT_EQ(v.shape(), (Dims{2, 2, 1, 2, 2, 1, 2}));
  Dims st = contiguous_strides(shape);
  EXPECT_EQ(v.strides(), (Dims{2 * st[6], st[1], st[2], st[3], st[4], st[5], st[0]}));
  EXPECT_EQ(v.offset(), st[1]);
  std::vector<float> expected;
  Dims idx(7, 0);
  for (int64_t k = 0; k < v.numel(); ++k) {
    // v[i0..i6] = t[i6, i1+1, i2, i3, i4, i5, 2*i0]
    const Dims src = {idx[6], idx[1] + 1, idx[2], idx[3], idx[4], idx[5], 2 * idx[0]};
    int64_t flat = 0;
    for (size_t i = 0; i < 7; ++i) flat += src[i] * st[i];
    expected.push_back(static_cast<float>(flat));
    for (size_t i = 7; i-- > 0;) {
      if (++idx[i] < v.shape()[i]) break;
      idx[i] = 0;
    }
  }
  EXPECT_EQ(v.contiguous().to_vector<float>(), expected);
  EXPECT_EQ(v.clone().to_vector<float>(), expected);
}

TEST(Views, SizeZeroAndRankZero) {
  Tensor z = Tensor::empty({3, 0, 2}, DType::kF32);
  EXPECT_EQ(z.numel(), 0);
  EXPECT_EQ(z.nbytes(), 0u);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_TRUE(z.to_vector<float>().empty());
  EXPECT_EQ(z.transpose(0, 2).contiguous().shape(), (Dims{2, 0, 3}));
  EXPECT_EQ(z.view({0, 5}).shape(), (Dims{0, 5}));
  EXPECT_EQ(z.reshape({-1, 6}).shape(), (Dims{0, 6}));
  EXPECT_EQ(z.slice(0, 1, 2).clone().shape(), (Dims{1, 0, 2}));
  EXPECT_EQ(z.to_string(), "Tensor[f32, [3,0,2], host] {}");
  Tensor s = Tensor::scalar<int32_t>(5);
  EXPECT_TRUE(s.is_contiguous());
  EXPECT_EQ(s.view({1, 1}).item<int32_t>(), 5);
  EXPECT_EQ(s.reshape({}).item<int32_t>(), 5);
  EXPECT_EQ(s.clone().item<int32_t>(), 5);
  EXPECT_EQ(iota({1}).view({}).rank(), 0u);
}

TEST(Tensor, CloneIsIndependent) {
  Tensor t = iota({2, 2});
  Tensor c = t.clone();
  c.data<float>()[0] = 42;
  EXPECT_EQ(t.data<float>()[0], 0.0f);
  Tensor same = t.to(Device::host());
  EXPECT_EQ(same.storage(), t.storage());
  Tensor moved = t.transpose(0, 1).to(Device::host());
  EXPECT_TRUE(moved.is_contiguous());
  EXPECT_EQ(moved.to_vector<float>(), (std::vector<float>{0, 2, 1, 3}));
}

TEST(Tensor, ViewOfChecksBounds) {
  auto storage = Storage::allocate(Device::host(), 6 * sizeof(float));
  Tensor t = Tensor::view_of(storage, DType::kF32, {2, 2}, {1, 2}, 1);  // reads elements 1..4
  EXPECT_EQ(t.offset(), 1);
  EXPECT_TRUE(contains(error_message([&] {
                         Tensor::view_of(storage, DType::kF32, {2, 3}, {3, 1}, 1);
                       }),
                       "past the storage"));
  error_message([&] { Tensor::view_of(storage, DType::kF32, {2}, {1, 1}, 0); });
  error_message([&] { Tensor::view_of(storage, DType::kF32, {2}, {-1}, 1); });
  error_message([&] { Tensor::view_of(storage, DType::kF32, {2}, {1}, -1); });
  error_message([&] { Tensor::view_of(nullptr, DType::kF32, {2}, {1}, 0); });
  error_message([&] {
    Tensor::view_of(storage, DType::kF32, {2, 2}, {std::numeric_limits<int64_t>::max(), 1}, 0);
  });
  EXPECT_EQ(Tensor::view_of(storage, DType::kF32, {0, 100}, {100, 1}, 6).numel(), 0);
}

TEST(Storage, WrapRunsTheDeleter) {
  int released = 0;
  float buffer[4] = {1, 2, 3, 4};
  {
    auto s = Storage::wrap(buffer, sizeof buffer, [&](void* p) {
      EXPECT_EQ(p, buffer);
      ++released;
    });
    Tensor t = Tensor::view_of(s, DType::kF32, {2, 2}, {2, 1}, 0);
    s.reset();
    EXPECT_EQ(released, 0);  // the tensor still holds it
    EXPECT_EQ(t.transpose(0, 1).contiguous().to_vector<float>(), (std::vector<float>{1, 3, 2, 4}));
  }
  EXPECT_EQ(released, 1);
  auto no_deleter = Storage::wrap(buffer, sizeof buffer, nullptr);
  EXPECT_EQ(no_deleter->data(), buffer);
  EXPECT_TRUE(no_deleter->device().is_host());
}

TEST(Tensor, ToStringShowsTheFirstValues) {
  EXPECT_EQ(iota({2, 3}).to_string(), "Tensor[f32, [2,3], host] {0, 1, 2, 3, 4, 5}");
  EXPECT_EQ(iota({3, 4}).to_string(), "Tensor[f32, [3,4], host] {0, 1, 2, 3, 4, 5, 6, 7, ...}");
  EXPECT_EQ(iota({2, 3}).transpose(0, 1).to_string(), "Tensor[f32, [3,2], host] {0, 3, 1, 4, 2, 5}");
  EXPECT_EQ(Tensor::from_vector<bool>({2}, {true, false}).to_string(),
            "Tensor[bool, [2], host] {true, false}");
  EXPECT_EQ(Tensor::scalar<int64_t>(-4).to_string(), "Tensor[i64, [], host] {-4}");
  EXPECT_EQ(Device::host().to_string(), "host");
}

TEST(InferReshape, ResolvesOneWildcard) {
  EXPECT_EQ(infer_reshape({-1, 4}, 12), (Dims{3, 4}));
  EXPECT_EQ(infer_reshape({2, 3}, 6), (Dims{2, 3}));
  EXPECT_EQ(infer_reshape({-1}, 0), (Dims{0}));
  EXPECT_EQ(infer_reshape({}, 1), Dims{});
  EXPECT_TRUE(contains(error_message([] { infer_reshape({-1, 5}, 12); }), "12 elements"));
  error_message([] { infer_reshape({3, 5}, 12); });
  error_message([] { infer_reshape({-1, 0}, 0); });
  error_message([] { infer_reshape({int64_t{1} << 40, int64_t{1} << 40, -1}, 4); });
}

// The test plugin's device is not host accessible: every read or write goes through
// copy_to_host / copy_from_host, and a host pointer handed to it fails.
class DeviceTensor : public ::testing::Test {
 protected:
  void SetUp() override {
    Backend* backend = test_registry().find("test");
    ASSERT_NE(backend, nullptr) << test_registry().why_missing("test");
    device_ = Device{backend, 0};
    ASSERT_FALSE(device_.host_accessible());
  }
  Device device_;
};

TEST_F(DeviceTensor, CopiesThroughTheHost) {
  Tensor host = iota({2, 3});
  Tensor d = host.to(device_);
  EXPECT_EQ(d.device(), device_);
  EXPECT_EQ(d.device().to_string(), "test:0");
  EXPECT_TRUE(d.is_contiguous());
  EXPECT_TRUE(contains(error_message([&] { d.data<float>(); }), "not host accessible"));
  EXPECT_EQ(d.to_vector<float>(), host.to_vector<float>());
  EXPECT_EQ(d.to(device_).storage(), d.storage());  // already there
  Tensor back = d.to(Device::host());
  EXPECT_TRUE(back.device().is_host());
  EXPECT_EQ(back.to_vector<float>(), host.to_vector<float>());
  EXPECT_EQ(d.to_string(), "Tensor[f32, [2,3], test:0] {0, 1, 2, 3, 4, 5}");
}

TEST_F(DeviceTensor, ViewsRearrangeOnTheDevice) {
  Tensor d = iota({3, 4}).to(device_);
  Tensor t = d.transpose(0, 1).slice(0, 1, 4, 2);  // rows 1 and 3 of the transpose
  EXPECT_EQ(t.storage(), d.storage());
  Tensor c = t.contiguous();
  EXPECT_EQ(c.device(), device_);
  EXPECT_NE(c.storage(), d.storage());
  std::vector<float> expected;
  for (int i = 1; i < 4; i += 2) {
    for (int j = 0; j < 3; ++j) expected.push_back(static_cast<float>(j * 4 + i));
  }
  EXPECT_EQ(c.to_vector<float>(), expected);
  EXPECT_EQ(t.to_vector<float>(), expected);
  EXPECT_EQ(t.to(Device::host()).to_vector<float>(), expected);
  EXPECT_EQ(t.clone().to_vector<float>(), expected);
  EXPECT_EQ(d.slice(0, 2, 3).slice(1, 3, 4).item<float>(), 11.0f);
  EXPECT_EQ(d.reshape({2, 6}).storage(), d.storage());
  Tensor e = Tensor::from_vector<int64_t>({2, 1}, {5, 6}).to(device_).expand({2, 3});
  EXPECT_EQ(e.contiguous().to_vector<int64_t>(), (std::vector<int64_t>{5, 5, 5, 6, 6, 6}));
}

TEST_F(DeviceTensor, ZerosAndEmptyTensors) {
  EXPECT_EQ(Tensor::zeros({2, 2}, DType::kI32, device_).to_vector<int32_t>(), std::vector<int32_t>(4, 0));
  Tensor z = Tensor::empty({0, 3}, DType::kF32, device_);
  EXPECT_TRUE(z.to_vector<float>().empty());
  EXPECT_EQ(z.to(Device::host()).shape(), (Dims{0, 3}));
  EXPECT_EQ(z.to_string(), "Tensor[f32, [0,3], test:0] {}");
}

}  // namespace
}  // namespace kiln
