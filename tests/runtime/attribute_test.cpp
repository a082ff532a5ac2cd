#include "kiln/runtime/attribute.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(Attributes, TypedGettersReturnValuesOrFallbacks) {
  Attributes a;
  a.set("axis", int64_t{-1});
  a.set("alpha", 0.5f);
  a.set("mode", std::string("constant"));
  a.set("pads", std::vector<int64_t>{1, 2, 1, 2});
  a.set("scales", std::vector<float>{1.0f, 2.0f});
  a.set("value", Tensor::scalar(3.0f));
  EXPECT_EQ(a.size(), 6u);
  EXPECT_EQ(a.get_int("axis", 0), -1);
  EXPECT_EQ(a.get_float("alpha", 1.0f), 0.5f);
  EXPECT_EQ(a.get_string("mode", "reflect"), "constant");
  EXPECT_EQ(a.get_ints("pads", {}), (std::vector<int64_t>{1, 2, 1, 2}));
  EXPECT_EQ(a.get_floats("scales", {}), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(a.get_tensor("value").item<float>(), 3.0f);
  EXPECT_EQ(a.get_int("missing", 7), 7);
  EXPECT_EQ(a.get_float("missing", 0.25f), 0.25f);
  EXPECT_EQ(a.get_string("missing", "x"), "x");
  EXPECT_EQ(a.get_ints("missing", {4}), std::vector<int64_t>{4});
  EXPECT_EQ(a.get_floats("missing", {}), std::vector<float>{});
}

TEST(Attributes, WrongTypeNamesBothTypes) {
  Attributes a;
  a.set("axis", std::vector<float>{1.0f});
  try {
    a.get_int("axis", 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_STREQ(e.what(), "attribute 'axis' has type floats, expected int");
  }
  try {
    a.get_ints("axis", {}, "node 'Conv_3' (Conv)");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "node 'Conv_3' (Conv): attribute 'axis' has type floats, expected ints");
  }
  a.set("n", int64_t{2});
  EXPECT_THROW(a.get_float("n", 0), Error);  // no silent int -> float conversion
  EXPECT_THROW(a.get_string("n", ""), Error);
  EXPECT_THROW(a.get_floats("n", {}), Error);
  EXPECT_THROW(a.get_tensor("n"), Error);
}

TEST(Attributes, MissingTensorIsAnError) {
  Attributes a;
  try {
    a.get_tensor("value", "node 'c' (Constant)");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_STREQ(e.what(), "node 'c' (Constant): attribute 'value' (tensor) is missing");
  }
}

TEST(Attributes, FindSetEraseAndTypes) {
  Attributes a;
  EXPECT_FALSE(a.has("x"));
  EXPECT_EQ(a.find("x"), nullptr);
  a.set("x", int64_t{1});
  a.set("x", std::vector<std::string>{"a", "b"});  // set replaces
  ASSERT_NE(a.find("x"), nullptr);
  EXPECT_EQ(type_of(*a.find("x")), AttrType::kStrings);
  a.set("ts", std::vector<Tensor>{Tensor::scalar(1.0f)});
  EXPECT_EQ(type_of(a.all().at("ts")), AttrType::kTensors);
  a.erase("x");
  EXPECT_FALSE(a.has("x"));
  EXPECT_EQ(a.size(), 1u);

  EXPECT_EQ(type_of(Attribute(int64_t{1})), AttrType::kInt);
  EXPECT_EQ(type_of(Attribute(1.0f)), AttrType::kFloat);
  EXPECT_EQ(type_of(Attribute(std::string("s"))), AttrType::kString);
  EXPECT_EQ(type_of(Attribute(Tensor())), AttrType::kTensor);
  EXPECT_EQ(type_of(Attribute(std::vector<int64_t>{})), AttrType::kInts);
  EXPECT_EQ(type_of(Attribute(std::vector<float>{})), AttrType::kFloats);
}

TEST(Attributes, TypeNames) {
  EXPECT_EQ(to_string(AttrType::kInt), "int");
  EXPECT_EQ(to_string(AttrType::kFloat), "float");
  EXPECT_EQ(to_string(AttrType::kString), "string");
  EXPECT_EQ(to_string(AttrType::kTensor), "tensor");
  EXPECT_EQ(to_string(AttrType::kInts), "ints");
  EXPECT_EQ(to_string(AttrType::kFloats), "floats");
  EXPECT_EQ(to_string(AttrType::kStrings), "strings");
  EXPECT_EQ(to_string(AttrType::kTensors), "tensors");
}

}  // namespace
}  // namespace kiln
