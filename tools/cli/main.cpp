// kiln: the command-line tool. Every failure prints one line and exits non-zero.

#include <fmt/format.h>

#include <map>

#include "commands.h"
#include "kiln/runtime/error.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: run, fine-tune and export ONNX models on the backend your machine has"};
  app.require_subcommand(1);
  std::map<CLI::App*, kiln::cli::Action> actions;
  auto add = [&](kiln::cli::Action action) { actions[app.get_subcommands({}).back()] = std::move(action); };
  add(kiln::cli::add_backends_command(app));
  add(kiln::cli::add_info_command(app));
  add(kiln::cli::add_run_command(app));
  add(kiln::cli::add_bench_command(app));
  add(kiln::cli::add_demo_command(app));
  add(kiln::cli::add_plot_command(app));
  add(kiln::cli::add_train_command(app));
  add(kiln::cli::add_export_command(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // Usage errors follow the one-line rule too.
    fmt::print(stderr, "kiln: error [{}]: {}\n", kiln::to_string(kiln::ErrorCode::kInvalidArgument),
               e.what());
    return 2;
  }
  try {
    for (const auto& [sub, action] : actions)
      if (sub->parsed()) return action();
    return 2;
  } catch (const kiln::Error& e) {
    fmt::print(stderr, "kiln: error [{}]: {}\n", kiln::to_string(e.code()), e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "kiln: internal error: {}\n", e.what());
    return 1;
  }
}
