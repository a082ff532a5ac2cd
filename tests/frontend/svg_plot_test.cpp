#include "kiln/frontend/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "frontend_test_util.h"
#include "test_errors.h"

namespace kiln::plot {
namespace {

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

TEST(SvgPlot, LinesMarkersLegendAndEscapedText) {
  Series line{"train <loss>", {0, 1, 2, 3}, {4, 3, 2, 1}};
  Series dots{"targets", {0, 1}, {1, 2}, true};
  std::string svg = svg_chart({line, dots}, {"a & b", "epoch", "loss"});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("train &lt;loss&gt;"), std::string::npos);
  EXPECT_NE(svg.find("a &amp; b"), std::string::npos);
  EXPECT_EQ(count(svg, "<path"), 1u);
  EXPECT_EQ(count(svg, " L"), 3u);  // one move and three line segments
  EXPECT_EQ(count(svg, "<circle"), 2u);
}

TEST(SvgPlot, NonFiniteAndLogScaleBreakTheLine) {
  Series s{"loss", {0, 1, 2, 3, 4}, {1, NAN, 0.1, -1, 0.01}};
  std::string linear = svg_chart({s}, {});
  EXPECT_EQ(count(linear, "M"), 2u);  // NaN breaks the line into two pieces
  PlotOptions log;
  log.log_y = true;
  std::string svg = svg_chart({s}, log);
  EXPECT_EQ(count(svg, "M"), 3u);  // and on a log axis -1 breaks it again
  EXPECT_NE(svg.find(">0.1<"), std::string::npos);  // decade ticks
}

TEST(SvgPlot, ErrorsAndFiles) {
  expect_error([] { svg_chart({Series{"bad", {0, 1}, {1}}}, {}); }, ErrorCode::kInvalidArgument, {"bad", "2 x values"});
  TempDir dir;
  const std::string path = dir.path() + "/chart.svg";
  write_svg_chart(path, {Series{"s", {0, 1}, {0, 1}}}, {});
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), svg_chart({Series{"s", {0, 1}, {0, 1}}}, {}));
  expect_error([&] { write_svg_chart(dir.path() + "/missing/chart.svg", {}, {}); }, ErrorCode::kIo, "missing");
}

}  // namespace
}  // namespace kiln::plot
