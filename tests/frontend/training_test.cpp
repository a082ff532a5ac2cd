// Training checkpoints (a resumed run repeats the uninterrupted run bit for bit on cpu, bad and
// foreign checkpoints are refused) and the non-finite loss guard.
#include "kiln/frontend/training.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "frontend_test_util.h"
#include "kiln/frontend/data.h"
#include "kiln/frontend/nn.h"
#include "kiln/frontend/optim.h"
#include "test_errors.h"

namespace kiln::train {
namespace {

// Everything that decides a run: weights, momentum, schedule, dropout's draws, shuffle order.
struct TrainingRun {
  Generator dropout_gen{7};
  nn::Sequential model{nullptr};
  std::unique_ptr<optim::SGD> optimizer;
  std::unique_ptr<optim::StepLR> scheduler;
  std::unique_ptr<data::DataLoader> loader;
  int64_t step = 0;

  TrainingRun() {
    manual_seed(3);
    model = nn::Sequential(nn::Linear(2, 8), nn::ReLU(), nn::Dropout(nn::DropoutOptions(0.2).generator(&dropout_gen)),
                           nn::Linear(8, 1));
    optimizer = std::make_unique<optim::SGD>(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
    scheduler = std::make_unique<optim::StepLR>(*optimizer, 5, 0.5);
    Generator data_gen(11);
    Tensor x = randn({40, 2}, data_gen);
    Tensor y = sum(x, {1}, /*keepdim=*/true) * 0.5;
    loader = std::make_unique<data::DataLoader>(std::make_shared<data::TensorDataset>(x, y),
                                                data::DataLoaderOptions().batch_size(8).shuffle(true).seed(5));
  }
  TrainingParts parts() { return {model.ptr().get(), optimizer.get(), json_state(*scheduler), &dropout_gen, loader.get()}; }

  // Trains until `until` steps have been taken in total; returns each step's loss.
  std::vector<double> train_until(int64_t until) {
    std::vector<double> losses;
    while (step < until) {
      for (const data::Example& batch : *loader) {
        optimizer->zero_grad();
        Tensor loss = nn::functional::mse_loss(model->forward(batch.data), batch.target);
        loss.backward();
        optimizer->step();
        losses.push_back(loss.item<double>());
        if (++step % 5 == 0) scheduler->step();
        if (step == until) return losses;
      }
    }
    return losses;
  }
};

TEST(TrainingCheckpoint, ResumeRepeatsTheUninterruptedRunBitForBit) {
  TempDir dir;
  TrainingRun uninterrupted;
  std::vector<double> expected = uninterrupted.train_until(23);

  TrainingRun first;
  std::vector<double> losses = first.train_until(12);  // stops mid-epoch (5 batches per epoch)
  save_training_checkpoint(dir.path() + "/ckpt", first.parts(), {first.step, 0});
  TrainingRun resumed;  // fresh objects: different weights until the checkpoint is loaded
  TrainingProgress progress = load_training_checkpoint(dir.path() + "/ckpt", resumed.parts());
  EXPECT_EQ(progress.step, 12);
  resumed.step = progress.step;
  for (double loss : resumed.train_until(23)) losses.push_back(loss);
  ASSERT_EQ(losses.size(), expected.size());
  for (size_t i = 0; i < losses.size(); ++i) EXPECT_EQ(losses[i], expected[i]) << "step " << i + 1;
}

TEST(TrainingCheckpoint, CorruptedFileIsRefusedAndThePreviousOneStaysUsable) {
  TempDir dir;
  TrainingRun run;
  run.train_until(3);
  save_training_checkpoint(dir.path() + "/step3", run.parts(), {3, 0});
  run.train_until(6);
  const std::string latest = dir.path() + "/step6";
  save_training_checkpoint(latest, run.parts(), {6, 1});
  const auto size = std::filesystem::file_size(latest);
  {
    std::fstream f(latest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put('\x5a');
  }
  TrainingRun other;
  expect_error([&] { load_training_checkpoint(latest, other.parts()); }, ErrorCode::kInvalidArgument, "checksum");
  std::filesystem::resize_file(latest, size / 3);
  expect_error([&] { load_training_checkpoint(latest, other.parts()); }, ErrorCode::kInvalidArgument, "step6");
  EXPECT_EQ(load_training_checkpoint(dir.path() + "/step3", other.parts()).step, 3);
}

TEST(TrainingCheckpoint, CheckpointOfAnotherModelListsWhatDiffers) {
  TempDir dir;
  TrainingRun run;
  save_training_checkpoint(dir.path() + "/ckpt", run.parts(), {});
  nn::Sequential other(nn::Linear(2, 16), nn::ReLU(), nn::Dropout(0.2), nn::Linear(16, 1), nn::Linear(1, 1));
  TrainingParts parts;
  parts.model = other.ptr().get();
  const std::vector<float> before = other->parameters()[0].to_vector<float>();
  std::string message = error_message([&] { load_training_checkpoint(dir.path() + "/ckpt", parts); });
  for (const char* needle : {"different model", "0.weight", "[16,2]", "[8,2]", "4.weight"})
    EXPECT_NE(message.find(needle), std::string::npos) << needle << " missing in: " << message;
  EXPECT_EQ(other->parameters()[0].to_vector<float>(), before);  // nothing was loaded
}

TEST(TrainingCheckpoint, MissingPartsAreRefused) {
  TempDir dir;
  TrainingRun run;
  TrainingParts model_only;
  model_only.model = run.model.ptr().get();
  save_training_checkpoint(dir.path() + "/ckpt", model_only, {});
  expect_error([&] { load_training_checkpoint(dir.path() + "/ckpt", run.parts()); }, ErrorCode::kInvalidArgument,
               "no optimizer state");
  expect_error([&] { save_training_checkpoint(dir.path() + "/x", TrainingParts{}, {}); }, ErrorCode::kInvalidArgument,
               "needs a model");
}

TEST(CheckLoss, NonFiniteLossStopsNamingTheStepOrContinuesWhenAsked) {
  EXPECT_TRUE(check_loss(Tensor::scalar<float>(0.5f), 1));
  expect_error([] { check_loss(Tensor::scalar<float>(NAN), 12); }, ErrorCode::kInvalidArgument, {"step 12", "nan"});
  expect_error([] { check_loss(Tensor::scalar<float>(-INFINITY), 3); }, ErrorCode::kInvalidArgument, {"step 3", "-inf"});
  EXPECT_FALSE(check_loss(Tensor::scalar<float>(INFINITY), 4, NonFiniteLoss::kContinue));
}

}  // namespace
}  // namespace kiln::train
