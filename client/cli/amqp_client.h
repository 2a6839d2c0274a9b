// What the CLI's AMQP clients (c2d_sender.cpp, event_hub_monitor.cpp) share: connecting to
// the hub's AMQP port and the SAS expiry their tokens carry.
#pragma once

#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>

#include <cstdint>
#include <string>

namespace iothub::cli {

// Connects `c` to host:port with `opts` (their sign-in), virtual host `host`, over TLS
// verifying the peer's name against `ca_file` when `tls`, else plain AMQP.
proton::connection ConnectToHub(proton::container& c, proton::connection_options opts, const std::string& host,
                                int port, bool tls, const std::string& ca_file);

// The expiry of a token made now: an hour from now, in seconds since the epoch.
int64_t TokenExpiry();

}  // namespace iothub::cli
