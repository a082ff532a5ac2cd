// Datasets over files: .npy pairs, .npz keys, CSV numbers and every bad file.

#include "kiln/frontend/data/file_datasets.h"

#include "frontend/frontend_test_util.h"
#include "kiln/frontend/npy.h"
#include "test_errors.h"

namespace kiln::data {
namespace {

TEST(NpyDataset, ReadsInputsAndTargets) {
  TempDir dir;
  write_npy(dir.file("x.npy"), Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  write_npy(dir.file("y.npy"), Tensor::from_vector<int64_t>({3}, {7, 8, 9}));
  NpyDataset ds(dir.file("x.npy"), dir.file("y.npy"));
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.get(1).data.to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(ds.get(2).target.item<int64_t>(), 9);
  EXPECT_FALSE(NpyDataset(dir.file("x.npy")).get(0).target.defined());
}

TEST(NpyDataset, BadInput) {
  TempDir dir;
  write_npy(dir.file("x.npy"), Tensor::zeros({3, 2}, DType::kF32));
  write_npy(dir.file("y.npy"), Tensor::zeros({4}, DType::kF32));
  expect_error([&] { NpyDataset(dir.file("x.npy"), dir.file("y.npy")); }, ErrorCode::kInvalidArgument,
               {"x.npy and ", "y.npy: data has 3 rows but target has 4"});
  expect_error([&] { NpyDataset(dir.file("missing.npy")); }, ErrorCode::kIo, "missing.npy");
}

TEST(NpzDataset, ReadsKeys) {
  TempDir dir;
  write_npz(dir.file("d.npz"), {{"x", Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})},
                                {"y", Tensor::from_vector<float>({2}, {5, 6})}});
  NpzDataset ds(dir.file("d.npz"));
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.get(1).data.to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(ds.get(1).target.item<float>(), 6);
  NpzDataset swapped(dir.file("d.npz"), "y", "");
  EXPECT_EQ(swapped.get(0).data.item<float>(), 5);
  expect_error([&] { NpzDataset(dir.file("d.npz"), "x", "labels"); }, ErrorCode::kNotFound,
               "d.npz: no array 'labels' (the archive has 'x', 'y')");
}

TEST(CsvDataset, ParsesNumbersWithHeader) {
  TempDir dir;
  write_bytes(dir.file("a.csv"), "a, b ,label\n1,2,0\n\n-3.5, 4e2 ,+1\r\n");
  CsvDataset ds(dir.file("a.csv"));
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.data().shape(), (Dims{2, 2}));
  EXPECT_EQ(ds.target().shape(), (Dims{2, 1}));
  EXPECT_EQ(ds.data().to_vector<float>(), (std::vector<float>{1, 2, -3.5f, 400}));
  EXPECT_EQ(ds.target().to_vector<float>(), (std::vector<float>{0, 1}));
}

TEST(CsvDataset, TargetColumnsNoHeaderOtherDelimiter) {
  TempDir dir;
  write_bytes(dir.file("b.csv"), "1;2;3;4\n5;6;7;8");  // no newline at the end
  CsvDataset ds(dir.file("b.csv"), {3, 0}, /*has_header=*/false, ';');
  EXPECT_EQ(ds.data().to_vector<float>(), (std::vector<float>{2, 3, 6, 7}));
  EXPECT_EQ(ds.target().to_vector<float>(), (std::vector<float>{4, 1, 8, 5}));
  CsvDataset unlabeled(dir.file("b.csv"), {}, false, ';');
  EXPECT_EQ(unlabeled.data().shape(), (Dims{2, 4}));
  EXPECT_FALSE(unlabeled.target().defined());
}

TEST(CsvDataset, BadFiles) {
  TempDir dir;
  const std::string ragged = dir.file("ragged.csv");
  write_bytes(ragged, "a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3\n");
  expect_error([&] { CsvDataset ds(ragged); }, ErrorCode::kInvalidArgument,
               "ragged.csv: line 7 has 3 fields, expected 4");

  const std::string text = dir.file("text.csv");
  write_bytes(text, "x,age\n1,2\n3,old\n");
  expect_error([&] { CsvDataset ds(text); }, ErrorCode::kInvalidArgument,
               "text.csv: line 3, column 2 ('age'): 'old' is not a number");
  write_bytes(text, "1,,2\n");
  expect_error([&] { CsvDataset ds(text, {-1}, false); }, ErrorCode::kInvalidArgument,
               "line 1, column 2: '' is not a number");
  write_bytes(text, "1,2x\n");
  expect_error([&] { CsvDataset ds(text, {-1}, false); }, ErrorCode::kInvalidArgument,
               "'2x' is not a number");
  write_bytes(text, "1,1e999\n");
  expect_error([&] { CsvDataset ds(text, {-1}, false); }, ErrorCode::kInvalidArgument,
               "'1e999' is out of range for f32");

  const std::string two = dir.file("two.csv");
  write_bytes(two, "1,2\n");
  expect_error([&] { CsvDataset ds(two, {2}, false); }, ErrorCode::kInvalidArgument,
               "two.csv: target column 2 is out of range: rows have 2 columns");
  expect_error(
      [&] {
        CsvDataset ds(two, {1, -1}, false);
      },
      ErrorCode::kInvalidArgument, "column 2 is listed twice");
  expect_error([&] { CsvDataset ds(two, {0, 1}, false); }, ErrorCode::kInvalidArgument, "no data columns");

  const std::string header_only = dir.file("header.csv");
  write_bytes(header_only, "a,b\n");
  expect_error([&] { CsvDataset ds(header_only); }, ErrorCode::kInvalidArgument, "header.csv: no data rows");
  expect_error([&] { CsvDataset ds(dir.file("none.csv")); }, ErrorCode::kIo, "cannot open");
}

}  // namespace
}  // namespace kiln::data
