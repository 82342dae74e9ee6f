// A line chart as a standalone SVG document, written by the benches themselves (no plotting dependency): one or
// more panels side by side, each with its series as polylines over shared axes, ticks and a legend. Pure.
#pragma once

#include <string>
#include <vector>

namespace llmux::bench {

struct Series {
  std::string name;
  std::string color;  // any SVG colour, e.g. "#1f77b4"
  std::vector<std::pair<double, double>> points;  // (x, y)
  bool dashed = false;
};

struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_x = false;  // x on a log2 scale (context depths)
};

// The panels side by side, each 480x320 pixels.
std::string svg_chart(const std::string& title, const std::vector<Panel>& panels);

// Writes `text` to `path`; false (and a line on stderr) when it cannot.
bool write_text_file(const std::string& path, const std::string& text);

}  // namespace llmux::bench
