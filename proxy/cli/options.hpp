// The one options parser of every `llmux` command. A command binds its options and positional arguments to its
// own variables, then parses; a usage error is one line that the caller prefixes with the command and exits 2 on:
//
//   OptionParser p;
//   p.flag("--json", o.json_out)                                     // no value
//       .value("--url", o.url, "a URL")                              // --url URL | --url=URL
//       .value("--model|-m", o.model, "a model name")                // a short alias after '|'
//       .values("--dir", o.dirs, "a directory")                      // repeatable, in order
//       .integer("-n|--lines", o.lines, 0, 100000, "a number of lines (0 to 100000)")
//       .positionals(o.files, 1, "FILE");                            // at most one FILE (default: none)
//   if (const std::string err = p.parse(args); !err.empty()) return usage("logs: " + err);
//
// Accepted: `--name value` and `--name=value` (the `=` form for long names only; the value may be empty or start
// with '-'), options anywhere between positionals, "-" as a positional (stdin), "--" ending the options.
// Refused, one line each: an unknown option, a missing value, a value given to a flag, an option given twice
// (unless repeatable), a positional beyond the declared count, a number that is malformed or out of range.
// `--help` never reaches a command (cli.cpp answers it first). Pure: no I/O, nothing thrown but std::bad_alloc;
// the bound variables must outlive parse(), which writes only the options it meets.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

// The one checked conversion for numbers on the command line: all of `text` in decimal, min ≤ value ≤ max.
// Integers: digits, a leading '-' only when min < 0. Decimals: digits and one '.', no exponent, inf or nan.
std::optional<long long> parse_integer(std::string_view text, long long min, long long max);
std::optional<double> parse_decimal(std::string_view text, double min, double max);

// Takes the first `name VALUE` or `name=VALUE` out of `args` (a global option, such as --api-key, that every
// command accepts anywhere after its name), leaving the rest to the command. "" or the missing-value line.
std::string take_option(std::vector<std::string>& args, std::string_view name, std::optional<std::string>& out,
                        std::string_view what);

class OptionParser {
 public:
  // `names`: "--long" or "--long|-s" (the first is the one messages name). `what`: the value in words, used as
  // "--url needs a URL" (a missing or, for numbers, an invalid value: ", got 'x'" follows).
  OptionParser& flag(std::string_view names, bool& out);
  OptionParser& value(std::string_view names, std::string& out, std::string_view what);
  OptionParser& value(std::string_view names, std::optional<std::string>& out, std::string_view what);
  OptionParser& values(std::string_view names, std::vector<std::string>& out, std::string_view what);
  OptionParser& integer(std::string_view names, long long& out, long long min, long long max, std::string_view what);
  OptionParser& integer(std::string_view names, std::optional<long long>& out, long long min, long long max,
                        std::string_view what);
  OptionParser& integer(std::string_view names, size_t& out, size_t min, size_t max, std::string_view what);
  OptionParser& decimal(std::string_view names, double& out, double min, double max, std::string_view what);
  // Up to `max` positional arguments (any number: SIZE_MAX), named `what` in the error ("FILE", "MODEL").
  OptionParser& positionals(std::vector<std::string>& out, size_t max, std::string_view what);

  // "" when `args` fit the declaration, else the one-line reason (no "llmux: " or command prefix).
  std::string parse(const std::vector<std::string>& args);

 private:
  // Stores the value (or, for a flag, nothing); returns "" or why the value is refused.
  using Take = std::function<std::string(const std::string& value)>;
  struct Spec {
    std::vector<std::string> names;
    bool takes_value = false;
    bool repeatable = false;
    std::string what;
    Take take;
    int seen = 0;
  };
  OptionParser& add(std::string_view names, bool takes_value, bool repeatable, std::string_view what, Take take);
  Spec* find(std::string_view name);
  std::string option(const std::vector<std::string>& args, size_t& i);
  std::string positional(const std::string& arg);

  std::vector<Spec> specs_;
  std::vector<std::string>* positionals_ = nullptr;
  size_t max_positionals_ = 0;
  std::string positional_what_;
};

}  // namespace llmux
