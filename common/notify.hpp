// Service-manager readiness notification (the sd_notify datagram protocol, without libsystemd).
// notify_service_manager("READY=1\nSTATUS=...") sends `state` as one datagram to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or '@' + name for Linux's abstract namespace). Without $NOTIFY_SOCKET it does nothing
// and logs nothing (always the case on macOS, where launchd has no such protocol). Never throws; a failed send is
// logged once as a warning (systemd would otherwise wait for READY until TimeoutStartSec).
#pragma once

#include <string_view>

namespace llmux {

void notify_service_manager(std::string_view state) noexcept;

}  // namespace llmux
