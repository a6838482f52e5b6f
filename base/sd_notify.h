// systemd's readiness protocol without libsystemd: one datagram to $NOTIFY_SOCKET. Lets the
// units use Type=notify (systemd 252 has no notify-reload, so reload uses ExecReload).
#pragma once

#include <string_view>

namespace ringway::base {

// Sends `state` (e.g. "READY=1", "STOPPING=1") when run under systemd with NotifyAccess.
// Returns: false when not under systemd or the send failed (always harmless to ignore).
bool sd_notify(std::string_view state);

// "RELOADING=1\nMONOTONIC_USEC=..." as systemd expects at the start of a reload.
bool sd_notify_reloading();

}  // namespace ringway::base
