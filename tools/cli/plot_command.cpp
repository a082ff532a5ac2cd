// `kiln plot LOGDIR [--tags TAG...] -o FILE.svg [--log-y]`: scalar curves from every event file
// under LOGDIR (kiln's, TensorBoard's, PyTorch's) drawn as one SVG chart. Bad records are
// reported on stderr by file and record, and the readable ones are still drawn.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "commands.h"
#include "kiln/frontend/svg_plot.h"
#include "kiln/frontend/tensorboard/event_reader.h"
#include "kiln/runtime/error.h"

namespace kiln::cli {
namespace {

struct PlotArgs {
  std::string logdir, out;
  std::vector<std::string> tags;
  bool log_y = false;
};

// A tag matches TAG when equal to it or below it ("loss" matches "loss/train").
bool tag_matches(const std::string& tag, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return true;
  for (const auto& w : wanted)
    if (tag == w || (tag.size() > w.size() && tag.compare(0, w.size(), w) == 0 && tag[w.size()] == '/'))
      return true;
  return false;
}

int run_plot(const PlotArgs& args) {
  namespace fs = std::filesystem;
  const auto files = tensorboard::find_event_files(args.logdir);
  if (files.empty())
    raise(ErrorCode::kNotFound, "{}: no event files (events.out.tfevents.*) in it", args.logdir);
  // (run, tag) -> points; the run is the file's folder relative to LOGDIR.
  std::map<std::pair<std::string, std::string>, std::vector<tensorboard::ScalarPoint>> curves;
  std::set<std::string> all_tags;
  for (const auto& path : files) {
    tensorboard::EventFile file = tensorboard::read_event_file(path);
    for (const auto& e : file.errors) fmt::print(stderr, "kiln plot: warning: {}\n", e);
    if (file.truncated_tail)
      fmt::print(stderr, "kiln plot: warning: {}: ends in an incomplete record (skipped)\n", path);
    std::string run = fs::relative(fs::path(path).parent_path(), args.logdir).generic_string();
    for (auto& [tag, points] : tensorboard::scalars_of(file)) {
      all_tags.insert(tag);
      if (!tag_matches(tag, args.tags)) continue;
      auto& curve = curves[{run, tag}];
      curve.insert(curve.end(), points.begin(), points.end());
    }
  }
  if (curves.empty()) {
    std::string present;
    for (const auto& t : all_tags) present += (present.empty() ? "" : ", ") + t;
    if (args.tags.empty()) raise(ErrorCode::kNotFound, "{}: no scalars in its event files", args.logdir);
    raise(ErrorCode::kNotFound, "{}: no scalar matches --tags {} (scalar tags present: {})", args.logdir,
          fmt::join(args.tags, " "), present.empty() ? "none" : present);
  }
  std::set<std::string> runs;
  for (const auto& [key, points] : curves) runs.insert(key.first);
  std::vector<plot::Series> series;
  size_t points_total = 0;
  for (auto& [key, points] : curves) {
    std::stable_sort(points.begin(), points.end(),
                     [](const auto& a, const auto& b) { return a.step < b.step; });
    plot::Series s;
    s.label = runs.size() > 1 ? fmt::format("{}: {}", key.first, key.second) : key.second;
    for (const auto& p : points) {
      s.x.push_back(static_cast<double>(p.step));
      s.y.push_back(p.value);
    }
    points_total += points.size();
    series.push_back(std::move(s));
  }
  plot::PlotOptions options;
  options.title = args.logdir;
  options.x_label = "step";
  options.y_label = "value";
  options.log_y = args.log_y;
  plot::write_svg_chart(args.out, series, options);
  fmt::print("{}: {} curves, {} points from {} event files\n", args.out, series.size(), points_total,
             files.size());
  return 0;
}

}  // namespace

Action add_plot_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("plot", "Draw scalar curves from TensorBoard event files as SVG");
  auto args = std::make_shared<PlotArgs>();
  sub->add_option("logdir", args->logdir, "Folder searched recursively for event files")->required();
  sub->add_option("--tags", args->tags,
                  "Tags to draw (a tag also matches the tags below it: loss -> loss/train)");
  sub->add_option("-o,--output", args->out, "SVG file to write")->required();
  sub->add_flag("--log-y", args->log_y, "Logarithmic y axis");
  return [args] { return run_plot(*args); };
}

}  // namespace kiln::cli
