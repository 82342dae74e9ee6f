#include "proxy/cli/options.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace llmux {

namespace {

std::vector<std::string> split_names(std::string_view names) {
  std::vector<std::string> out;
  while (true) {
    const size_t bar = names.find('|');
    out.emplace_back(names.substr(0, bar));
    if (bar == std::string_view::npos) return out;
    names.remove_prefix(bar + 1);
  }
}

std::string needs(const std::string& name, const std::string& what) {
  return name + " needs " + (what.empty() ? std::string("a value") : what);
}

std::string needs(const std::string& name, const std::string& what, const std::string& got) {
  return needs(name, what) + ", got '" + got + "'";
}

std::string count_word(size_t n) {
  static const char* const kWords[] = {"no", "one", "two", "three"};
  return n < 4 ? kWords[n] : std::to_string(n);
}

}  // namespace

std::optional<long long> parse_integer(std::string_view text, long long min, long long max) {
  const std::string_view digits = text.starts_with('-') && min < 0 ? text.substr(1) : text;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  long long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) return std::nullopt;
  return v;
}

std::optional<double> parse_decimal(std::string_view text, double min, double max) {
  const std::string_view digits = text.starts_with('-') && min < 0 ? text.substr(1) : text;
  if (digits.empty() || digits == "." || digits.find_first_not_of("0123456789.") != std::string_view::npos ||
      digits.find('.') != digits.rfind('.'))
    return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) return std::nullopt;
  return v;
}

std::string take_option(std::vector<std::string>& args, std::string_view name, std::optional<std::string>& out,
                        std::string_view what) {
  const std::string prefix = std::string(name) + "=";
  for (size_t i = 1; i < args.size(); ++i) {
    const auto at = args.begin() + static_cast<std::ptrdiff_t>(i);
    if (args[i] == "--") return "";
    if (args[i] == name) {
      if (i + 1 >= args.size()) return needs(args[i], std::string(what));
      out = args[i + 1];
      args.erase(at, at + 2);
      return "";
    }
    if (args[i].starts_with(prefix)) {
      out = args[i].substr(prefix.size());
      args.erase(at);
      return "";
    }
  }
  return "";
}

OptionParser& OptionParser::add(std::string_view names, bool takes_value, bool repeatable, std::string_view what,
                                Take take) {
  specs_.push_back(Spec{split_names(names), takes_value, repeatable, std::string(what), std::move(take), 0});
  return *this;
}

OptionParser& OptionParser::flag(std::string_view names, bool& out) {
  return add(names, false, false, "", [&out](const std::string&) { return out = true, std::string(); });
}

OptionParser& OptionParser::value(std::string_view names, std::string& out, std::string_view what) {
  return add(names, true, false, what, [&out](const std::string& v) { return out = v, std::string(); });
}

OptionParser& OptionParser::value(std::string_view names, std::optional<std::string>& out, std::string_view what) {
  return add(names, true, false, what, [&out](const std::string& v) { return out = v, std::string(); });
}

OptionParser& OptionParser::values(std::string_view names, std::vector<std::string>& out, std::string_view what) {
  return add(names, true, true, what, [&out](const std::string& v) { return out.push_back(v), std::string(); });
}

OptionParser& OptionParser::integer(std::string_view names, std::optional<long long>& out, long long min,
                                    long long max, std::string_view what) {
  const std::string name = split_names(names).front(), w(what);
  return add(names, true, false, what, [&out, min, max, name, w](const std::string& v) {
    const auto n = parse_integer(v, min, max);
    if (!n) return needs(name, w, v);
    return out = *n, std::string();
  });
}

OptionParser& OptionParser::integer(std::string_view names, long long& out, long long min, long long max,
                                    std::string_view what) {
  const std::string name = split_names(names).front(), w(what);
  return add(names, true, false, what, [&out, min, max, name, w](const std::string& v) {
    const auto n = parse_integer(v, min, max);
    if (!n) return needs(name, w, v);
    return out = *n, std::string();
  });
}

OptionParser& OptionParser::integer(std::string_view names, size_t& out, size_t min, size_t max,
                                    std::string_view what) {
  const std::string name = split_names(names).front(), w(what);
  const auto lo = static_cast<long long>(min), hi = static_cast<long long>(std::min<size_t>(max, INT64_MAX));
  return add(names, true, false, what, [&out, lo, hi, name, w](const std::string& v) {
    const auto n = parse_integer(v, lo, hi);
    if (!n) return needs(name, w, v);
    return out = static_cast<size_t>(*n), std::string();
  });
}

OptionParser& OptionParser::decimal(std::string_view names, double& out, double min, double max,
                                    std::string_view what) {
  const std::string name = split_names(names).front(), w(what);
  return add(names, true, false, what, [&out, min, max, name, w](const std::string& v) {
    const auto n = parse_decimal(v, min, max);
    if (!n) return needs(name, w, v);
    return out = *n, std::string();
  });
}

OptionParser& OptionParser::positionals(std::vector<std::string>& out, size_t max, std::string_view what) {
  positionals_ = &out;
  max_positionals_ = max;
  positional_what_ = what;
  return *this;
}

OptionParser::Spec* OptionParser::find(std::string_view name) {
  for (auto& s : specs_)
    for (const auto& n : s.names)
      if (n == name) return &s;
  return nullptr;
}

// args[i] starts with '-': the option, its value (`=` or the next argument, then i moves past it).
std::string OptionParser::option(const std::vector<std::string>& args, size_t& i) {
  const std::string& a = args[i];
  const size_t eq = a.starts_with("--") ? a.find('=') : std::string::npos;
  const std::string written = a.substr(0, eq);
  Spec* s = find(written);
  if (!s) return "unknown option '" + written + "'";
  if (++s->seen > 1 && !s->repeatable) return s->names.front() + " given twice";
  if (!s->takes_value) return eq == std::string::npos ? s->take("") : written + " takes no value";
  if (eq != std::string::npos) return s->take(a.substr(eq + 1));
  if (i + 1 >= args.size()) return needs(written, s->what);
  return s->take(args[++i]);
}

std::string OptionParser::positional(const std::string& arg) {
  if (!positionals_ || max_positionals_ == 0) return "unexpected argument '" + arg + "'";
  if (positionals_->size() >= max_positionals_)
    return "more than " + count_word(max_positionals_) + " " + positional_what_ + " given ('" + arg + "')";
  positionals_->push_back(arg);
  return "";
}

std::string OptionParser::parse(const std::vector<std::string>& args) {
  bool options_end = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string error;
    if (!options_end && a == "--") options_end = true;
    else if (!options_end && a.size() > 1 && a.starts_with('-')) error = option(args, i);
    else error = positional(a);
    if (!error.empty()) return error;
  }
  return "";
}

}  // namespace llmux
