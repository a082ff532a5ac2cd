#pragma once
// The seed's experiment: fit y = sin(x) on 100 points with Linear(1,10), ReLU, Linear(10,1) and
// MSELoss, full batch for 100 epochs, once with SGD(lr 0.1) and once with SGD(lr 0.1, momentum
// 0.9). Shared by examples/sine_regression.cpp and `kiln demo`.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "kiln/runtime/tensor.h"

namespace kiln::examples {

/// NumPy's legacy generator: np.random.seed(seed) then np.random.rand(n) gives these values
/// (MT19937 with init_genrand, 53-bit doubles from two draws), so the demo sees NumPy's points.
class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint32_t seed);
  /// The next n values of np.random.rand.
  std::vector<double> rand(size_t n);

 private:
  uint32_t next();
  uint32_t state_[624];
  size_t index_ = 624;
};

struct SineData {
  Tensor x_train, y_train;  // [100, 1] f32: X = sort(5 * rand(100, 1)), y = sin(X)
  Tensor x_val, y_val;      // [50, 1] f32: the next 50 draws of the same generator, sorted
};

/// The demo's data after np.random.seed(1).
SineData sine_data();

struct SineDemoOptions {
  std::string out_dir = "kiln-demo";  // SVG figures and the data/loss arrays go here
  int epochs = 100;
  double lr = 0.1;
  uint64_t init_seed = 0;  // both runs start from the same initial weights
  std::ostream* log = nullptr;  // progress lines; nullptr: quiet
  /// TensorBoard runs logdir/sgd and logdir/momentum ("" = none): per-epoch loss/train,
  /// loss/val, lr and grad_norm, weight and gradient histograms every histogram_every epochs,
  /// the model graph once, and hparams with the final losses.
  std::string logdir;
  int histogram_every = 10;
};

struct SineRun {
  std::string name;     // "sgd", "momentum"
  double momentum = 0;
  std::vector<double> train_loss, val_loss;  // per epoch: train before its update, val after it
  double prediction_at_6_5 = 0;
};

/// Trains both runs, prints every 10 epochs, and writes loss.svg, predictions.svg,
/// sine_demo.npz (data, losses, predictions on a grid) and each trained model as ONNX
/// (sgd.onnx, momentum.onnx) into out_dir. Throws kiln::Error on a failed write.
std::vector<SineRun> run_sine_demo(const SineDemoOptions& options);

}  // namespace kiln::examples
