#include "kiln/runtime/shape.h"

#include <gtest/gtest.h>

#include <limits>

#include "kiln/runtime/error.h"

namespace kiln {
namespace {

template <class F>
ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected a kiln::Error";
  return ErrorCode::kInternal;
}

TEST(Dim, Kinds) {
  Dim unknown;
  Dim number(7);
  Dim symbol("batch");
  EXPECT_TRUE(unknown.is_unknown());
  EXPECT_FALSE(unknown.is_static());
  EXPECT_TRUE(number.is_static());
  EXPECT_EQ(number.value(), 7);
  EXPECT_TRUE(symbol.is_symbolic());
  EXPECT_EQ(symbol.value(), -1);
  EXPECT_EQ(symbol.symbol(), "batch");
  EXPECT_TRUE(Dim(0).is_static());
  EXPECT_EQ(Dim(size_t{4}).value(), 4);
  EXPECT_EQ(Dim(int32_t{5}).value(), 5);
  EXPECT_EQ(unknown.to_string(), "?");
  EXPECT_EQ(number.to_string(), "7");
  EXPECT_EQ(symbol.to_string(), "batch");
}

TEST(Shape, PrintsSymbolicAndUnknownDims) {
  EXPECT_EQ(Shape({"N", 3, 224, 224}).to_string(), "[N,3,224,224]");
  EXPECT_EQ(Shape({Dim()}).to_string(), "[?]");
  EXPECT_EQ(Shape({Dim(), "seq", 0}).to_string(), "[?,seq,0]");
  EXPECT_EQ(Shape().to_string(), "[]");
  EXPECT_EQ(Shape::unknown_rank().to_string(), "?");
}

TEST(Shape, Equality) {
  EXPECT_EQ(Shape({"N", 3}), Shape({"N", 3}));
  EXPECT_NE(Shape({"N", 3}), Shape({"M", 3}));
  EXPECT_NE(Shape({"N", 3}), Shape({Dim(), 3}));
  EXPECT_NE(Shape({2, 3}), Shape({3, 2}));
  EXPECT_NE(Shape({2, 3}), Shape({2, 3, 1}));
  EXPECT_EQ(Shape::of({2, 3}), Shape({2, 3}));
  // Rank 0 (a scalar) and an unknown rank are different things.
  EXPECT_NE(Shape(), Shape::unknown_rank());
  EXPECT_EQ(Shape::unknown_rank(), Shape::unknown_rank());
  EXPECT_FALSE(Shape::unknown_rank().has_rank());
  EXPECT_TRUE(Shape().has_rank());
}

TEST(Shape, StaticShapesGiveConcreteDims) {
  Shape s({2, 0, 5});
  EXPECT_TRUE(s.is_static());
  EXPECT_EQ(s.concrete(), (Dims{2, 0, 5}));
  EXPECT_EQ(s.numel(), 0);
  EXPECT_EQ(Shape({4, 5, 6}).numel(), 120);
  EXPECT_EQ(Shape().numel(), 1);
  EXPECT_EQ(Shape().concrete(), Dims{});
}

TEST(Shape, SymbolicShapesHaveNoConcreteDims) {
  Shape s({"N", 3});
  EXPECT_FALSE(s.is_static());
  EXPECT_EQ(s.numel(), std::nullopt);
  EXPECT_EQ(code_of([&] { s.concrete(); }), ErrorCode::kInvalidArgument);
  try {
    s.concrete();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[N,3]"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(Shape::unknown_rank().is_static());
  EXPECT_EQ(Shape::unknown_rank().numel(), std::nullopt);
  EXPECT_EQ(code_of([] { Shape::unknown_rank().concrete(); }), ErrorCode::kInvalidArgument);
}

TEST(Shape, DimsAreEditable) {
  Shape s({"N", 3});
  s[0] = 8;
  EXPECT_EQ(s.concrete(), (Dims{8, 3}));
  EXPECT_EQ(s.rank(), 2u);
}

TEST(CheckedNumel, Products) {
  EXPECT_EQ(checked_numel({}), 1);
  EXPECT_EQ(checked_numel({2, 3, 4}), 24);
  EXPECT_EQ(checked_numel({2, 0, 4}), 0);
  EXPECT_EQ(checked_numel({1, 1, 1, 1, 1, 1, 7}), 7);
  EXPECT_EQ(checked_numel({int64_t{1} << 31, int64_t{1} << 31}), int64_t{1} << 62);
}

TEST(CheckedNumel, OverflowIsAnError) {
  const int64_t big = int64_t{1} << 32;
  EXPECT_EQ(code_of([&] { checked_numel({big, big}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] {
              checked_numel({std::numeric_limits<int64_t>::max(), 2});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { checked_numel({3, big, big / 2}); }), ErrorCode::kInvalidArgument);
  try {
    checked_numel({big, big});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos) << e.what();
  }
  // A zero anywhere makes the product zero, however large the other dims.
  EXPECT_EQ(checked_numel({big, big, 0}), 0);
}

TEST(CheckedNumel, NegativeDimIsAnError) {
  EXPECT_EQ(code_of([] { checked_numel({2, -1}); }), ErrorCode::kInvalidArgument);
  try {
    checked_numel({2, -3});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dim 1"), std::string::npos) << e.what();
  }
}

TEST(ContiguousStrides, RowMajor) {
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Dims{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({5}), (Dims{1}));
  EXPECT_EQ(contiguous_strides({}), Dims{});
  EXPECT_EQ(contiguous_strides({2, 1, 3}), (Dims{3, 3, 1}));
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Dims{3, 3, 1}));
  EXPECT_EQ(contiguous_strides({2, 1, 2, 1, 2, 1, 2}), (Dims{8, 8, 4, 4, 2, 2, 1}));
}

TEST(DimsToString, Brackets) {
  EXPECT_EQ(to_string(Dims{2, 3}), "[2,3]");
  EXPECT_EQ(to_string(Dims{}), "[]");
}

}  // namespace
}  // namespace kiln
