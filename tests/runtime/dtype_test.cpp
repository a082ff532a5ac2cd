#include "kiln/runtime/dtype.h"

#include <gtest/gtest.h>

#include "kiln/runtime/error.h"

namespace kiln {
namespace {

const DType kAll[] = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI64,
                      DType::kI32, DType::kI8,  DType::kU8,  DType::kBool};

TEST(DType, SizesMatchTheElementTypes) {
  EXPECT_EQ(size_of(DType::kF32), sizeof(float));
  EXPECT_EQ(size_of(DType::kF64), sizeof(double));
  EXPECT_EQ(size_of(DType::kF16), 2u);
  EXPECT_EQ(size_of(DType::kBF16), 2u);
  EXPECT_EQ(size_of(DType::kI64), sizeof(int64_t));
  EXPECT_EQ(size_of(DType::kI32), sizeof(int32_t));
  EXPECT_EQ(size_of(DType::kI8), 1u);
  EXPECT_EQ(size_of(DType::kU8), 1u);
  EXPECT_EQ(size_of(DType::kBool), 1u);
  EXPECT_EQ(size_of(DType::kUndefined), 0u);
}

TEST(DType, NamesRoundTrip) {
  for (DType d : kAll) {
    EXPECT_EQ(dtype_from_string(to_string(d)), d) << to_string(d);
  }
  EXPECT_EQ(to_string(DType::kF32), "f32");
  EXPECT_EQ(to_string(DType::kBF16), "bf16");
  EXPECT_EQ(to_string(DType::kI64), "i64");
  EXPECT_EQ(to_string(DType::kBool), "bool");
  EXPECT_EQ(to_string(DType::kUndefined), "undefined");
}

TEST(DType, UnknownNameIsInvalidArgument) {
  try {
    dtype_from_string("float32");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'float32'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dtype_from_string(""), Error);
}

TEST(DType, Categories) {
  int floating = 0;
  int integral = 0;
  for (DType d : kAll) {
    EXPECT_FALSE(is_floating(d) && is_integral(d)) << to_string(d);
    floating += is_floating(d);
    integral += is_integral(d);
  }
  EXPECT_EQ(floating, 4);
  EXPECT_EQ(integral, 4);
  EXPECT_FALSE(is_floating(DType::kBool));
  EXPECT_FALSE(is_integral(DType::kBool));
  EXPECT_TRUE(is_integral(DType::kU8));
  EXPECT_TRUE(is_floating(DType::kF16));
}

TEST(DType, MatchesTheAbiValues) {
  EXPECT_EQ(static_cast<int32_t>(DType::kI64), KILN_DTYPE_I64);
  EXPECT_EQ(static_cast<int32_t>(DType::kBool), KILN_DTYPE_BOOL);
  static_assert(dtype_of<float>() == DType::kF32);
  static_assert(dtype_of<int64_t>() == DType::kI64);
  static_assert(dtype_of<bool>() == DType::kBool);
  static_assert(dtype_of<uint8_t>() == DType::kU8);
}

TEST(ErrorCodes, Names) {
  EXPECT_EQ(to_string(ErrorCode::kInvalidArgument), "InvalidArgument");
  EXPECT_EQ(to_string(ErrorCode::kNotFound), "NotFound");
  EXPECT_EQ(to_string(ErrorCode::kUnsupported), "Unsupported");
  EXPECT_EQ(to_string(ErrorCode::kOutOfMemory), "OutOfMemory");
  EXPECT_EQ(to_string(ErrorCode::kBackend), "Backend");
  EXPECT_EQ(to_string(ErrorCode::kIo), "Io");
  EXPECT_EQ(to_string(ErrorCode::kInternal), "Internal");
}

TEST(ErrorCodes, RaiseFormatsAndKeepsTheCode) {
  try {
    raise(ErrorCode::kNotFound, "node '{}': input {} missing", "Conv_1", 2);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_STREQ(e.what(), "node 'Conv_1': input 2 missing");
  }
}

}  // namespace
}  // namespace kiln
