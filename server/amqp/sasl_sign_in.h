// SASL on the AMQP endpoints, through Proton's plugin interface (Debian's Proton has no
// Cyrus SASL, so its built-in server side knows ANONYMOUS only): ANONYMOUS, which the
// Event Hubs SDKs use before proving themselves on $cbs, and PLAIN, with the user a
// policy name or `{policy}@sas.root.{hub}` and the password a SAS token or the policy's key,
// or the user `{deviceId}@sas.{hub}` and the password a SAS token that signs that device in.
#pragma once

#include <proton/transport.h>

#include <functional>
#include <optional>
#include <string>

#include "core/sas_authenticator.h"

namespace iothub::amqp {

// Who a PLAIN user and password stand for; nullopt refuses the sign-in.
using PlainCheck = std::function<std::optional<Principal>(const std::string& user, const std::string& password)>;

// A connection's sign-in: install it on the transport before any byte is read. Must
// outlive the transport.
class SaslSignIn {
 public:
  explicit SaslSignIn(PlainCheck check) : check_(std::move(check)) {}
  void Install(pn_transport_t* transport);
  // Set once PLAIN succeeded.
  const std::optional<Principal>& principal() const { return principal_; }

 private:
  static void ProcessInit(pn_transport_t* transport, const char* mechanism, const pn_bytes_t* response);

  PlainCheck check_;
  std::optional<Principal> principal_;
};

// The PLAIN check against the hub's policies (and SAS tokens for them) and devices' SAS tokens.
PlainCheck PolicyPlainCheck(const SasAuthenticator& sas, std::string hub_name);

}  // namespace iothub::amqp
