#include "bench/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace llmux::bench {

namespace {

constexpr double kW = 480, kH = 320, kLeft = 64, kRight = 16, kTop = 36, kBottom = 48;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_text(double v) {
  char buf[32];
  if (std::fabs(v) >= 1000) std::snprintf(buf, sizeof buf, "%.0fk", v / 1000);
  else if (std::fabs(v) >= 10 || v == 0) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

void panel(std::string& out, const Panel& p, double x0) {
  double xmin = 1e300, xmax = -1e300, ymax = 0;
  auto fx = [&](double x) { return p.log_x ? std::log2(std::max(x, 1e-9)) : x; };
  for (const auto& s : p.series)
    for (auto [x, y] : s.points) {
      xmin = std::min(xmin, fx(x));
      xmax = std::max(xmax, fx(x));
      ymax = std::max(ymax, y);
    }
  if (xmin > xmax) xmin = 0, xmax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax <= 0) ymax = 1;
  ymax *= 1.1;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto X = [&](double x) { return x0 + kLeft + (fx(x) - xmin) / (xmax - xmin) * pw; };
  auto Y = [&](double y) { return kTop + ph - y / ymax * ph; };
  out += "<text x='" + num(x0 + kW / 2) + "' y='20' text-anchor='middle' font-weight='bold'>" + escape(p.title) +
         "</text>\n";
  out += "<rect x='" + num(x0 + kLeft) + "' y='" + num(kTop) + "' width='" + num(pw) + "' height='" + num(ph) +
         "' fill='none' stroke='#888'/>\n";
  for (int i = 0; i <= 4; ++i) {  // y ticks
    const double v = ymax * i / 4;
    out += "<line x1='" + num(x0 + kLeft) + "' x2='" + num(x0 + kLeft + pw) + "' y1='" + num(Y(v)) + "' y2='" +
           num(Y(v)) + "' stroke='#eee'/>\n";
    out += "<text x='" + num(x0 + kLeft - 4) + "' y='" + num(Y(v) + 4) + "' text-anchor='end'>" + tick_text(v) +
           "</text>\n";
  }
  for (int i = 0; i <= 4; ++i) {  // x ticks
    const double f = xmin + (xmax - xmin) * i / 4;
    const double v = p.log_x ? std::exp2(f) : f;
    out += "<text x='" + num(x0 + kLeft + pw * i / 4) + "' y='" + num(kTop + ph + 16) + "' text-anchor='middle'>" +
           tick_text(v) + "</text>\n";
  }
  out += "<text x='" + num(x0 + kLeft + pw / 2) + "' y='" + num(kH - 10) + "' text-anchor='middle'>" +
         escape(p.x_label) + "</text>\n";
  out += "<text transform='translate(" + num(x0 + 14) + "," + num(kTop + ph / 2) +
         ") rotate(-90)' text-anchor='middle'>" + escape(p.y_label) + "</text>\n";
  int legend = 0;
  for (const auto& s : p.series) {
    std::string pts;
    for (auto [x, y] : s.points) pts += num(X(x)) + "," + num(Y(y)) + " ";
    out += "<polyline fill='none' stroke='" + s.color + "' stroke-width='2'" +
           (s.dashed ? std::string(" stroke-dasharray='6,3'") : std::string()) + " points='" + pts + "'/>\n";
    const double ly = kTop + 14 + 16 * legend++;
    out += "<line x1='" + num(x0 + kLeft + 8) + "' x2='" + num(x0 + kLeft + 28) + "' y1='" + num(ly - 4) + "' y2='" +
           num(ly - 4) + "' stroke='" + s.color + "' stroke-width='2'/>\n";
    out += "<text x='" + num(x0 + kLeft + 32) + "' y='" + num(ly) + "'>" + escape(s.name) + "</text>\n";
  }
}

}  // namespace

std::string svg_chart(const std::string& title, const std::vector<Panel>& panels) {
  const double width = kW * static_cast<double>(std::max<size_t>(panels.size(), 1));
  std::string out = "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='" +
                    num(width) + "' height='" + num(kH + 24) + "' font-family='sans-serif' font-size='12'>\n";
  out += "<title>" + escape(title) + "</title>\n<rect width='100%' height='100%' fill='white'/>\n<g transform='translate(0,24)'>\n";
  for (size_t i = 0; i < panels.size(); ++i) panel(out, panels[i], kW * static_cast<double>(i));
  out += "</g>\n<text x='8' y='16' font-weight='bold'>" + escape(title) + "</text>\n</svg>\n";
  return out;
}

bool write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) {
    std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace llmux::bench
