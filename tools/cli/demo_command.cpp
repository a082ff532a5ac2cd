// `kiln demo [--out DIR] [--epochs N] [--logdir DIR]`: the seed's sine regression (examples/sine), SGD against
// SGD with momentum, with loss and prediction figures written as SVG.

#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "sine/sine_regression.h"

namespace kiln::cli {

Action add_demo_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("demo", "Train the sine-regression demo with SGD and with momentum");
  auto options = std::make_shared<examples::SineDemoOptions>();
  sub->add_option("--out", options->out_dir, "Folder for loss.svg, predictions.svg and sine_demo.npz")
      ->capture_default_str();
  sub->add_option("--epochs", options->epochs, "Full-batch epochs per run")->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--logdir", options->logdir,
                  "TensorBoard log folder: runs DIR/sgd and DIR/momentum (losses, lr, gradient norm, "
                  "weight histograms, graph, hparams)");
  sub->add_option("--histogram-every", options->histogram_every, "Epochs between weight histograms with --logdir")
      ->check(CLI::PositiveNumber)->capture_default_str();
  return [options] {
    options->log = &std::cout;
    examples::run_sine_demo(*options);
    fmt::print("figures: {0}/loss.svg, {0}/predictions.svg; models: {0}/sgd.onnx, {0}/momentum.onnx; arrays: {0}/sine_demo.npz\n",
               options->out_dir);
    if (!options->logdir.empty())
      fmt::print("TensorBoard runs: {0}/sgd, {0}/momentum (tensorboard --logdir {0}; kiln plot {0} -o FILE.svg)\n",
                 options->logdir);
    return 0;
  };
}

}  // namespace kiln::cli
