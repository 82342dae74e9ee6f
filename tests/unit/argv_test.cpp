#include "common/argv.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace llmux {
namespace {

using Words = std::vector<std::string>;

TEST(SplitCommand, BlanksSeparateWords) {
  EXPECT_EQ(split_command("llama-server  --port ${PORT}\t-m  model.gguf"),
            (Words{"llama-server", "--port", "${PORT}", "-m", "model.gguf"}));
  EXPECT_EQ(split_command("  a \n b \r\n c  "), (Words{"a", "b", "c"}));
}

TEST(SplitCommand, EmptyAndBlankGiveNoWords) {
  EXPECT_EQ(split_command(""), Words{});
  EXPECT_EQ(split_command(" \t\n "), Words{});
  EXPECT_EQ(split_command("# only a comment\n  # and another"), Words{});
}

TEST(SplitCommand, SingleQuotesAreLiteral) {
  EXPECT_EQ(split_command(R"(echo 'a  b' 'it''s' '\n $x "q"')"), (Words{"echo", "a  b", "its", R"(\n $x "q")"}));
}

TEST(SplitCommand, DoubleQuotesKeepBlanksAndHonourFourEscapes) {
  EXPECT_EQ(split_command(R"(x "a  b" "say \"hi\"" "c:\\dir" "\$HOME" "\`" "\n\t")"),
            (Words{"x", "a  b", "say \"hi\"", R"(c:\dir)", "$HOME", "`", R"(\n\t)"}));
}

TEST(SplitCommand, QuotesJoinWithAdjacentText) {
  EXPECT_EQ(split_command(R"(--chat-template-kwargs='{"enable_thinking": false}')"),
            (Words{R"(--chat-template-kwargs={"enable_thinking": false})"}));
  EXPECT_EQ(split_command(R"(a"b c"'d e'f)"), (Words{"ab cd ef"}));
}

TEST(SplitCommand, EmptyQuotesMakeAnEmptyWord) {
  EXPECT_EQ(split_command(R"(cmd '' "" --x)"), (Words{"cmd", "", "", "--x"}));
}

TEST(SplitCommand, BackslashOutsideQuotesEscapesNextCharacter) {
  EXPECT_EQ(split_command(R"(a\ b c\"d \'e\' f\\g \#h)"), (Words{"a b", "c\"d", "'e'", R"(f\g)", "#h"}));
}

TEST(SplitCommand, BackslashNewlineIsAContinuation) {
  EXPECT_EQ(split_command("llama-server \\\n  --port 1 \\\r\n  -m x"),
            (Words{"llama-server", "--port", "1", "-m", "x"}));
  EXPECT_EQ(split_command("abc\\\ndef"), (Words{"abcdef"}));
  EXPECT_EQ(split_command("\"abc\\\ndef\""), (Words{"abcdef"}));
}

TEST(SplitCommand, HashStartsACommentOnlyAtTheStartOfAWord) {
  const std::string cmd =
      "# the engine\n"
      "llama-server   # trailing comment 'with quote\n"
      "  --port ${PORT}\n"
      "  # -ngl 99\n"
      "  -m model#1.gguf '#not-a-comment' \"#nor-this\"\n";
  EXPECT_EQ(split_command(cmd),
            (Words{"llama-server", "--port", "${PORT}", "-m", "model#1.gguf", "#not-a-comment", "#nor-this"}));
}

TEST(SplitCommand, BackslashInsideACommentDoesNotContinueIt) {
  EXPECT_EQ(split_command("a # comment \\\nb"), (Words{"a", "b"}));
}

TEST(SplitCommand, NothingIsExpanded) {
  EXPECT_EQ(split_command("echo $HOME ~ *.gguf ${env.X}"), (Words{"echo", "$HOME", "~", "*.gguf", "${env.X}"}));
}

TEST(SplitCommand, ErrorsNameTheProblem) {
  const auto message = [](const std::string& cmd) {
    try {
      split_command(cmd);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("echo 'abc"), "unterminated single quote");
  EXPECT_EQ(message("echo \"abc"), "unterminated double quote");
  EXPECT_EQ(message("echo \"abc\\\""), "unterminated double quote");
  EXPECT_EQ(message("echo abc\\"), "trailing backslash");
  EXPECT_EQ(message("# 'unbalanced quote in a comment is fine\necho"), "no error");
}

TEST(StripComments, RemovesExactlyWhatSplitCommandSkips) {
  const std::string cmd = "# head ${x}\nengine \"#kept\" '#kept' a#kept # tail ${y}\n  --flag # z\n";
  EXPECT_EQ(strip_comments(cmd), "\nengine \"#kept\" '#kept' a#kept \n  --flag \n");
  EXPECT_EQ(split_command(strip_comments(cmd)), split_command(cmd));
  EXPECT_EQ(strip_comments("no comment"), "no comment");
  EXPECT_EQ(strip_comments(""), "");
}

TEST(StripComments, ThrowsLikeSplitCommand) {
  EXPECT_THROW(strip_comments("a 'b"), std::invalid_argument);
  EXPECT_THROW(strip_comments("a \\"), std::invalid_argument);
}

TEST(SplitCommand, HomeExpandsAtTheStartOfUnquotedWordsLikeAShell) {
  const std::string home = "/home/u";
  EXPECT_EQ(split_command("llama-server -m ~/models/q.gguf --dir $HOME/x ~ $HOME", home),
            (Words{"llama-server", "-m", "/home/u/models/q.gguf", "--dir", "/home/u/x", "/home/u", "/home/u"}));
  // Quoted, inside a word, another user's home, or another variable: left as written.
  EXPECT_EQ(split_command("a '~/x' \"$HOME/y\" x~/z ~bob/m $HOMEX --m=~/q \\~/r", home),
            (Words{"a", "~/x", "$HOME/y", "x~/z", "~bob/m", "$HOMEX", "--m=~/q", "~/r"}));
  EXPECT_EQ(split_command("a ~/x", ""), (Words{"a", "~/x"}));  // no home known
}

}  // namespace
}  // namespace llmux
