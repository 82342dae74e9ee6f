#include "common/macros.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

namespace llmux {
namespace {

using Macros = std::map<std::string, std::string>;

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const std::string& text, const Macros& macros, const std::set<std::string>& keep = {},
                     const EnvLookup& env = fake_env({})) {
  try {
    expand_macros(text, macros, keep, env);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(ExpandMacros, ReplacesEveryOccurrence) {
  const Macros m = {{"bin", "/opt/llama-server"}, {"ctx", "8192"}};
  EXPECT_EQ(expand_macros("${bin} -c ${ctx} --batch ${ctx}", m, {}), "/opt/llama-server -c 8192 --batch 8192");
}

TEST(ExpandMacros, TextWithoutMacrosIsUnchanged) {
  EXPECT_EQ(expand_macros("", {}, {}), "");
  EXPECT_EQ(expand_macros("a $HOME $ {x} $$ }", {}, {}), "a $HOME $ {x} $$ }");
}

TEST(ExpandMacros, ValuesAreExpandedRecursively) {
  const Macros m = {{"dir", "${root}/models"}, {"root", "/srv"}, {"model", "${dir}/${name}.gguf"}, {"name", "q"}};
  EXPECT_EQ(expand_macros("-m ${model}", m, {}), "-m /srv/models/q.gguf");
}

TEST(ExpandMacros, KeptNamesStayForSpawnTime) {
  const Macros m = {{"engine", "llama-server --port ${PORT}"}};
  EXPECT_EQ(expand_macros("${engine} --pidfile /tmp/${PID}", m, {"PORT", "PID"}),
            "llama-server --port ${PORT} --pidfile /tmp/${PID}");
}

TEST(ExpandMacros, KeepWinsOverAMacroOfTheSameName) {
  EXPECT_EQ(expand_macros("${PORT}", {{"PORT", "1"}}, {"PORT"}), "${PORT}");
}

TEST(ExpandMacros, EnvironmentVariables) {
  const EnvLookup env = fake_env({{"HOME", "/home/u"}, {"EMPTY", ""}});
  EXPECT_EQ(expand_macros("${env.HOME}/m ${env.EMPTY}|", {}, {}, env), "/home/u/m |");
  // Inside a macro value too; the variable's own text is not expanded again.
  const EnvLookup tricky = fake_env({{"X", "${y}"}});
  EXPECT_EQ(expand_macros("${a}", {{"a", "<${env.X}>"}}, {}, tricky), "<${y}>");
}

TEST(ExpandMacros, ProcessEnvironmentIsTheDefault) {
  ASSERT_EQ(setenv("LLMUX_MACROS_TEST", "value 1", 1), 0);
  EXPECT_EQ(expand_macros("${env.LLMUX_MACROS_TEST}", {}, {}), "value 1");
  unsetenv("LLMUX_MACROS_TEST");
  EXPECT_EQ(error_of("${env.LLMUX_MACROS_TEST}", {}, {}, process_env()),
            "environment variable LLMUX_MACROS_TEST is not set");
}

TEST(ExpandMacros, Errors) {
  EXPECT_EQ(error_of("a ${nope} b", {}), "unknown macro ${nope}");
  EXPECT_EQ(error_of("${}", {}), "unknown macro ${}");
  EXPECT_EQ(error_of("${env.}", {}), "unknown macro ${env.}");
  EXPECT_EQ(error_of("${env.MISSING}", {}), "environment variable MISSING is not set");
  EXPECT_EQ(error_of("--port ${PORT", {}, {"PORT"}), "unterminated ${");
  EXPECT_EQ(error_of("${a}", {{"a", "x ${b}"}}), "unknown macro ${b}");
  EXPECT_EQ(error_of("${a}", {{"a", "${"}}), "unterminated ${");
}

TEST(ExpandMacros, RecursionIsBoundedAtEightLevels) {
  Macros chain;  // m1 → m2 → … → mN → "end"
  const auto make_chain = [&](int levels) {
    chain.clear();
    for (int i = 1; i < levels; ++i) chain["m" + std::to_string(i)] = "${m" + std::to_string(i + 1) + "}";
    chain["m" + std::to_string(levels)] = "end";
  };
  make_chain(8);
  EXPECT_EQ(expand_macros("${m1}", chain, {}), "end");
  make_chain(9);
  EXPECT_EQ(error_of("${m1}", chain), "macro recursion too deep at ${m9}");
  EXPECT_EQ(error_of("${self}", {{"self", "x${self}"}}), "macro recursion too deep at ${self}");
  EXPECT_EQ(error_of("${a}", {{"a", "${b}"}, {"b", "${a}"}}), "macro recursion too deep at ${a}");
}

TEST(Substitute, ReplacesOnlyTheGivenNames) {
  EXPECT_EQ(substitute("--port ${PORT} --pid ${PID} ${other} $PORT", {{"PORT", "5801"}}),
            "--port 5801 --pid ${PID} ${other} $PORT");
  EXPECT_EQ(substitute("${PORT}${PORT}", {{"PORT", "1"}}), "11");
}

TEST(Substitute, DoesNotRescanInsertedValues) { EXPECT_EQ(substitute("${A}", {{"A", "${B}"}, {"B", "no"}}), "${B}"); }

TEST(Substitute, LeavesMalformedTextAlone) {
  EXPECT_EQ(substitute("a ${PORT", {{"PORT", "1"}}), "a ${PORT");
  EXPECT_EQ(substitute("", {{"PORT", "1"}}), "");
}

}  // namespace
}  // namespace llmux
