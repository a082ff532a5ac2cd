#pragma once
// Line charts as standalone SVG files: the demo's loss and prediction figures and `kiln plot`.

#include <string>
#include <vector>

namespace kiln::plot {

struct Series {
  std::string label;
  std::vector<double> x, y;  // same length; non-finite points break the line
  bool markers = false;      // dots instead of a line (targets, samples)
};

struct PlotOptions {
  std::string title, x_label, y_label;
  bool log_y = false;  // for loss curves; non-positive values are skipped
  int width = 720, height = 440;
};

/// The chart as SVG text. Throws Error(kInvalidArgument) when a series' x and y lengths differ.
std::string svg_chart(const std::vector<Series>& series, const PlotOptions& options);

/// Writes svg_chart to path atomically (temp file, fsync, rename). Throws Error(kIo) naming path
/// when it cannot be written.
void write_svg_chart(const std::string& path, const std::vector<Series>& series, const PlotOptions& options);

}  // namespace kiln::plot
