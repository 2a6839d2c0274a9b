// Explains why a listener's address cannot be bound, in terms a user can act on.
#pragma once

#include <optional>
#include <string>

namespace iothub::app {

// nullopt when address:port can be bound right now; otherwise the reason and a fix.
// flag names the option that moves the listener, e.g. "--https-port". It binds with
// SO_REUSEADDR, as the listeners do (RESTinio's acceptor, transport::Listener): a
// check with other options would disagree with the real bind while TIME_WAIT sockets linger.
std::optional<std::string> WhyCannotBind(const std::string& address, int port, const std::string& flag);

}  // namespace iothub::app
