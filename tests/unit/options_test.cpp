// The CLI options parser (proxy/cli/options.hpp): both value forms, aliases, positionals between options, and
// one precise line for every refusal; the shared number conversions at their edges.
#include <gtest/gtest.h>

#include <cstdint>

#include "proxy/cli/options.hpp"

using namespace llmux;

namespace {

struct Parsed {
  bool json = false, force = false;
  std::string url = "default";
  std::optional<std::string> config;
  std::vector<std::string> dirs, files;
  size_t lines = 100;
  std::optional<long long> max_tokens;
  double ratio = 1.0;
};

// A command shaped like the real ones: flags, values, a repeatable value, numbers, at most one FILE.
std::string parse(const std::vector<std::string>& args, Parsed& o, size_t max_files = 1) {
  return OptionParser()
      .flag("--json", o.json)
      .flag("--force|-f", o.force)
      .value("--url", o.url, "a URL")
      .value("--config|-c", o.config, "a file")
      .values("--dir", o.dirs, "a directory")
      .integer("-n|--lines", o.lines, 0, 1000, "a number of lines (0 to 1000)")
      .integer("--max-tokens", o.max_tokens, 1, 1'000'000, "a positive number")
      .decimal("--ratio", o.ratio, 0.1, 2, "a ratio from 0.1 to 2")
      .positionals(o.files, max_files, "FILE")
      .parse(args);
}

std::string error_of(const std::vector<std::string>& args) {
  Parsed o;
  return parse(args, o);
}

}  // namespace

TEST(Options, BothValueFormsAliasesAndDefaults) {
  Parsed o;
  ASSERT_EQ(parse({"--url", "http://a", "-c", "x.yaml", "--lines=7", "--json", "--max-tokens", "3"}, o), "");
  EXPECT_EQ(o.url, "http://a");
  EXPECT_EQ(o.config, "x.yaml");
  EXPECT_EQ(o.lines, 7u);
  EXPECT_EQ(o.max_tokens, 3);
  EXPECT_TRUE(o.json);
  EXPECT_FALSE(o.force);  // untouched when absent
  EXPECT_EQ(o.ratio, 1.0);

  Parsed d;
  ASSERT_EQ(parse({"--url=http://b", "--config=c.yaml", "-f", "--ratio=0.5"}, d), "");
  EXPECT_EQ(d.url, "http://b");
  EXPECT_EQ(d.config, "c.yaml");
  EXPECT_TRUE(d.force);
  EXPECT_DOUBLE_EQ(d.ratio, 0.5);
  EXPECT_FALSE(d.max_tokens.has_value());
}

TEST(Options, EmptyEqualsValueIsAnEmptyValue) {
  Parsed o;
  ASSERT_EQ(parse({"--url="}, o), "");
  EXPECT_EQ(o.url, "");
  ASSERT_EQ(parse({"--config="}, o), "");
  EXPECT_EQ(o.config, "");
  // A number cannot be empty.
  EXPECT_EQ(error_of({"--lines="}), "-n needs a number of lines (0 to 1000), got ''");
}

TEST(Options, AValueMayStartWithADash) {
  Parsed o;
  ASSERT_EQ(parse({"--url", "-weird", "--dir", "--json", "-c", "-"}, o), "");
  EXPECT_EQ(o.url, "-weird");
  EXPECT_EQ(o.dirs, std::vector<std::string>{"--json"});
  EXPECT_FALSE(o.json) << "--json was --dir's value";
  EXPECT_EQ(o.config, "-");
}

TEST(Options, PositionalsBeforeBetweenAndAfterOptions) {
  Parsed o;
  ASSERT_EQ(parse({"--json", "a.yaml"}, o), "");
  EXPECT_EQ(o.files, std::vector<std::string>{"a.yaml"});

  Parsed many;
  ASSERT_EQ(parse({"one", "--url", "u", "two", "-", "--force", "three"}, many, SIZE_MAX), "");
  EXPECT_EQ(many.files, (std::vector<std::string>{"one", "two", "-", "three"}));
  EXPECT_EQ(many.url, "u");
  EXPECT_TRUE(many.force);
}

TEST(Options, DoubleDashEndsTheOptions) {
  Parsed o;
  ASSERT_EQ(parse({"--json", "--", "--url", "-n", "--"}, o, SIZE_MAX), "");
  EXPECT_EQ(o.files, (std::vector<std::string>{"--url", "-n", "--"}));
  EXPECT_EQ(o.url, "default");
}

TEST(Options, RepeatableValuesKeepTheirOrder) {
  Parsed o;
  ASSERT_EQ(parse({"--dir", "a", "--dir=b", "--dir", "c"}, o), "");
  EXPECT_EQ(o.dirs, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Options, EveryRefusalIsOnePreciseLine) {
  EXPECT_EQ(error_of({"--nope"}), "unknown option '--nope'");
  EXPECT_EQ(error_of({"--nope=1"}), "unknown option '--nope'");
  EXPECT_EQ(error_of({"-x"}), "unknown option '-x'");
  EXPECT_EQ(error_of({"-n=5"}), "unknown option '-n=5'") << "the '=' form is for long names";
  EXPECT_EQ(error_of({"--url"}), "--url needs a URL");
  EXPECT_EQ(error_of({"--json", "-c"}), "-c needs a file") << "named as written";
  EXPECT_EQ(error_of({"--lines"}), "--lines needs a number of lines (0 to 1000)");
  EXPECT_EQ(error_of({"--json=yes"}), "--json takes no value");
  EXPECT_EQ(error_of({"--url", "a", "--url=b"}), "--url given twice");
  EXPECT_EQ(error_of({"-c", "a", "--config", "b"}), "--config given twice");
  EXPECT_EQ(error_of({"--json", "--json"}), "--json given twice");
  EXPECT_EQ(error_of({"a", "b"}), "more than one FILE given ('b')");
  EXPECT_EQ(error_of({"-n", "lots"}), "-n needs a number of lines (0 to 1000), got 'lots'");
  EXPECT_EQ(error_of({"-n", "1001"}), "-n needs a number of lines (0 to 1000), got '1001'");
  EXPECT_EQ(error_of({"-n", "-1"}), "-n needs a number of lines (0 to 1000), got '-1'");
  EXPECT_EQ(error_of({"--max-tokens", "0"}), "--max-tokens needs a positive number, got '0'");
  EXPECT_EQ(error_of({"--ratio", "3"}), "--ratio needs a ratio from 0.1 to 2, got '3'");

  Parsed o;
  EXPECT_EQ(parse({"a", "b", "c"}, o, 2), "more than two FILE given ('c')");
  std::vector<std::string> none;
  EXPECT_EQ(OptionParser().parse({"x"}), "unexpected argument 'x'");
  EXPECT_EQ(OptionParser().positionals(none, 0, "X").parse({"-"}), "unexpected argument '-'");
}

TEST(Options, IntegersAreAllDigitsInRange) {
  EXPECT_EQ(parse_integer("0", 0, 10), 0);
  EXPECT_EQ(parse_integer("10", 0, 10), 10);
  EXPECT_EQ(parse_integer("-3", -5, 5), -3);
  EXPECT_EQ(parse_integer("9223372036854775807", 0, INT64_MAX), INT64_MAX);
  for (const char* bad : {"", "11", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.0", "-", "99999999999999999999"})
    EXPECT_FALSE(parse_integer(bad, 0, 10).has_value()) << "'" << bad << "'";
  EXPECT_FALSE(parse_integer("-6", -5, 5).has_value());
  EXPECT_FALSE(parse_integer("--1", -5, 5).has_value());
}

TEST(Options, DecimalsAreDigitsAndOnePointInRange) {
  EXPECT_EQ(parse_decimal("0.5", 0.1, 10), 0.5);
  EXPECT_EQ(parse_decimal(".5", 0.1, 10), 0.5);
  EXPECT_EQ(parse_decimal("2", 0.1, 10), 2.0);
  EXPECT_EQ(parse_decimal("3600", 0.1, 3600), 3600.0);
  for (const char* bad : {"", ".", "0", "0.05", "11", "1e1", "inf", "nan", "1.2.3", "-1", "+1", "1s", " 1"})
    EXPECT_FALSE(parse_decimal(bad, 0.1, 10).has_value()) << "'" << bad << "'";
}

TEST(Options, TakeOptionRemovesAGlobalOption) {
  std::vector<std::string> args{"status", "--json", "--api-key", "k1", "--url", "u"};
  std::optional<std::string> key;
  EXPECT_EQ(take_option(args, "--api-key", key, "a key"), "");
  EXPECT_EQ(key, "k1");
  EXPECT_EQ(args, (std::vector<std::string>{"status", "--json", "--url", "u"}));

  std::vector<std::string> eq{"load", "--api-key=k2", "a"};
  std::optional<std::string> key2;
  EXPECT_EQ(take_option(eq, "--api-key", key2, "a key"), "");
  EXPECT_EQ(key2, "k2");
  EXPECT_EQ(eq, (std::vector<std::string>{"load", "a"}));

  std::vector<std::string> missing{"status", "--api-key"};
  std::optional<std::string> key3;
  EXPECT_EQ(take_option(missing, "--api-key", key3, "a key"), "--api-key needs a key");
  EXPECT_FALSE(key3.has_value());

  std::vector<std::string> text{"prompt", "--", "--api-key", "x"};  // after "--": the command's text
  std::optional<std::string> key4;
  EXPECT_EQ(take_option(text, "--api-key", key4, "a key"), "");
  EXPECT_FALSE(key4.has_value());
  EXPECT_EQ(text.size(), 4u);
}
