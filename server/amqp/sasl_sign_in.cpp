#include "amqp/sasl_sign_in.h"

#include <proton/sasl_plugin.h>

#include <string_view>

#include "core/crypto.h"
#include "core/sas_token.h"

namespace iothub::amqp {
namespace {

const char* ListMechanisms(pn_transport_t*) { return "PLAIN ANONYMOUS"; }
bool InitServer(pn_transport_t* t) {
  pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
  return true;
}
bool InitClient(pn_transport_t*) { return false; }  // servers only
void Nothing(pn_transport_t*) {}
void ProcessResponse(pn_transport_t* t, const pn_bytes_t*) {  // we never challenge
  pnx_sasl_set_failed(t);
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}
bool ProcessMechanisms(pn_transport_t*, const char*) { return false; }
void ProcessChallenge(pn_transport_t*, const pn_bytes_t*) {}
void ProcessOutcome(pn_transport_t*, const pn_bytes_t*) {}
bool CanEncrypt(pn_transport_t*) { return false; }
ssize_t MaxEncryptSize(pn_transport_t*) { return 0; }
ssize_t Encode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) { return 0; }
ssize_t Decode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) { return 0; }

}  // namespace

void SaslSignIn::ProcessInit(pn_transport_t* t, const char* mechanism, const pn_bytes_t* response) {
  auto* self = static_cast<SaslSignIn*>(pnx_sasl_get_context(t));
  const std::string_view mech(mechanism ? mechanism : "");
  bool ok = false;
  if (mech == "ANONYMOUS" && pnx_sasl_is_mechanism_included(t, pn_bytes(9, "ANONYMOUS"))) {
    pnx_sasl_set_succeeded(t, "anonymous", nullptr);
    ok = true;
  } else if (mech == "PLAIN" && response && pnx_sasl_is_mechanism_included(t, pn_bytes(5, "PLAIN"))) {
    // authzid NUL authcid NUL password (RFC 4616)
    std::string_view r(response->start, response->size);
    const size_t first = r.find('\0');
    const size_t second = first == std::string_view::npos ? first : r.find('\0', first + 1);
    if (second != std::string_view::npos) {
      std::string user(r.substr(first + 1, second - first - 1));
      std::string password(r.substr(second + 1));
      if (auto who = self->check_(user, password)) {
        self->principal_ = *who;
        pnx_sasl_set_succeeded(t, self->principal_->name.c_str(), nullptr);
        ok = true;
      }
    }
  }
  if (!ok) pnx_sasl_set_failed(t);
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

void SaslSignIn::Install(pn_transport_t* transport) {
  static const pnx_sasl_implementation kImplementation{
      Nothing,        ListMechanisms, InitServer,       InitClient,       Nothing,    &SaslSignIn::ProcessInit,
      ProcessResponse, ProcessMechanisms, ProcessChallenge, ProcessOutcome, CanEncrypt, MaxEncryptSize,
      Encode,         Decode};
  pnx_sasl_set_implementation(transport, &kImplementation, this);
}

PlainCheck PolicyPlainCheck(const SasAuthenticator& sas, std::string hub_name) {
  return [&sas, hub_name = std::move(hub_name)](const std::string& user,
                                                const std::string& password) -> std::optional<Principal> {
    // "{deviceId}@sas.{hub}" with a SAS token for the device (its own, or a policy's with DeviceConnect).
    if (size_t at = user.find("@sas."); at != std::string::npos && user.find("@sas.root.") == std::string::npos) {
      if (user.substr(at + 5) != hub_name || at == 0) return std::nullopt;  // another hub's, or no device
      auto who = sas.Authorize(password, "devices/" + user.substr(0, at), kDeviceConnect);
      if (!who.ok()) return std::nullopt;
      return who.value();
    }
    // "{policy}@sas.root.{hub}" as IoT Hub's own AMQP clients write it, or the bare policy name.
    std::string policy = user;
    const std::string suffix = "@sas.root." + hub_name;
    if (size_t at = user.find("@sas.root."); at != std::string::npos) {
      if (user.size() < suffix.size() || user.compare(user.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return std::nullopt;  // another hub's
      }
      policy = user.substr(0, at);
    }
    const AccessPolicy* p = sas.policies().Find(policy);
    if (!p) return std::nullopt;
    if (password.starts_with("SharedAccessSignature ")) {
      auto token = ParseSasToken(password);
      if (!token.ok() || token->key_name != policy) return std::nullopt;
      // The token's own scope is what it grants; Authorize checks host, signature and expiry.
      std::string_view scope = token->resource;
      if (size_t scheme = scope.find("://"); scheme != std::string_view::npos) scope.remove_prefix(scheme + 3);
      const size_t slash = scope.find('/');
      auto who = sas.Authorize(password, slash == std::string_view::npos ? "" : scope.substr(slash + 1),
                               p->permissions);
      if (!who.ok()) return std::nullopt;
      return who.value();
    }
    if (crypto::ConstantTimeEquals(password, p->primary_key) || crypto::ConstantTimeEquals(password, p->secondary_key)) {
      return Principal{Principal::Kind::kPolicy, p->name, p->permissions, kLatestTokenExpiry};
    }
    return std::nullopt;
  };
}

}  // namespace iothub::amqp
