#include "kiln/frontend/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/runtime/error.h"
#include "npy_file.h"

namespace kiln::plot {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
constexpr double kLeft = 70, kRight = 20, kTop = 40, kBottom = 50;

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

// A 1-2-5 tick step giving about `count` ticks over the range.
double nice_step(double span, int count) {
  const double raw = span / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * magnitude) return m * magnitude;
  return 10 * magnitude;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string tick_label(double v) { return fmt::format("{:.4g}", std::abs(v) < 1e-12 ? 0.0 : v); }

}  // namespace

std::string svg_chart(const std::vector<Series>& series, const PlotOptions& options) {
  auto usable = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!options.log_y || y > 0); };
  auto ty = [&](double y) { return options.log_y ? std::log10(y) : y; };
  Range xr, yr;
  for (const Series& s : series) {
    if (s.x.size() != s.y.size()) {
      raise(ErrorCode::kInvalidArgument, "plot: series '{}' has {} x values and {} y values", s.label, s.x.size(),
            s.y.size());
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      xr.add(s.x[i]);
      yr.add(ty(s.y[i]));
    }
  }
  if (xr.empty()) xr = {0, 1};
  if (yr.empty()) yr = {0, 1};
  if (xr.hi == xr.lo) xr = {xr.lo - 0.5, xr.hi + 0.5};
  if (yr.hi == yr.lo) yr = {yr.lo - 0.5, yr.hi + 0.5};
  const double pad = 0.05 * (yr.hi - yr.lo);
  yr = {yr.lo - pad, yr.hi + pad};
  const double w = options.width, h = options.height;
  const double pw = w - kLeft - kRight, ph = h - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double y) { return kTop + (1 - (ty(y) - yr.lo) / (yr.hi - yr.lo)) * ph; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      options.width, options.height);
  svg += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n", w / 2,
                     escape(options.title));
  // Axes, grid and ticks.
  const double xstep = nice_step(xr.hi - xr.lo, 8);
  for (double x = std::ceil(xr.lo / xstep) * xstep; x <= xr.hi + 1e-9 * xstep; x += xstep) {
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                       px(x), kTop, kTop + ph, kTop + ph + 16, tick_label(x));
  }
  const double ystep = options.log_y ? 1.0 : nice_step(yr.hi - yr.lo, 6);
  for (double y = std::ceil(yr.lo / ystep) * ystep; y <= yr.hi + 1e-9 * ystep; y += ystep) {
    const double pos = kTop + (1 - (y - yr.lo) / (yr.hi - yr.lo)) * ph;
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#e5e5e5\"/>"
                       "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                       kLeft, pos, kLeft + pw, kLeft - 6, pos + 4, tick_label(options.log_y ? std::pow(10, y) : y));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", kLeft,
                     kTop, pw, ph);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", kLeft + pw / 2, h - 12,
                     escape(options.x_label));
  svg += fmt::format("<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">{1}</text>\n",
                     kTop + ph / 2, escape(options.y_label));
  // Series and legend.
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const char* color = kColors[k % std::size(kColors)];
    std::string path;
    bool pen_down = false;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) {
        pen_down = false;
        continue;
      }
      if (s.markers) {
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"2.5\" fill=\"{}\"/>\n", px(s.x[i]), py(s.y[i]),
                           color);
        continue;
      }
      path += fmt::format("{}{:.2f},{:.2f} ", pen_down ? "L" : "M", px(s.x[i]), py(s.y[i]));
      pen_down = true;
    }
    if (!path.empty())
      svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>\n", path, color);
    const double ly = kTop + 16 + 18 * static_cast<double>(k);
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\">{}</text>\n",
                       kLeft + pw - 170, ly - 5, color, kLeft + pw - 150, ly, escape(s.label));
  }
  svg += "</svg>\n";
  return svg;
}

void write_svg_chart(const std::string& path, const std::vector<Series>& series, const PlotOptions& options) {
  const std::string svg = svg_chart(series, options);
  npy::FileSink sink(path);
  sink.write(svg.data(), svg.size());
  sink.commit();
}

}  // namespace kiln::plot
