#pragma once
// One function per `kiln` subcommand. Each registers its options on the CLI11 app and
// returns the action to run when the subcommand is chosen.

#include <CLI/CLI.hpp>

#include <functional>

namespace kiln::cli {

using Action = std::function<int()>;

Action add_backends_command(CLI::App& app);
Action add_info_command(CLI::App& app);
Action add_run_command(CLI::App& app);
Action add_bench_command(CLI::App& app);
Action add_demo_command(CLI::App& app);
Action add_plot_command(CLI::App& app);
Action add_train_command(CLI::App& app);
Action add_export_command(CLI::App& app);

}  // namespace kiln::cli
