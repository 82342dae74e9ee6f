#include <csignal>

#include <string>
#include <vector>

#include "proxy/bridge/bridge.hpp"
#include "proxy/cli/cli.hpp"
#include "proxy/serve.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // pipes to engines do not use MSG_NOSIGNAL
  if (argc > 1 && std::string(argv[1]) == "bridge")  // a remote model's engine (proxy/bridge/bridge.hpp)
    return llmux::bridge_main(std::vector<std::string>(argv + 2, argv + argc));
  return llmux::run_cli(argc, argv, &llmux::serve_command);
}
