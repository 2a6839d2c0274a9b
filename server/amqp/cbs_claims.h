// What an AMQP connection has proved through $cbs put-token (spec §6.2): for each
// audience, who the token speaks for and until when. A link is opened only on an
// address a live claim covers, and is closed when that claim expires unrenewed.
// Not thread-safe: one connection's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sas_authenticator.h"

namespace iothub::amqp {

// "sb://localhost:5671/emulator/ConsumerGroups/$Default" → "emulator/ConsumerGroups/$Default";
// "localhost/devices/d1" → "devices/d1"; "emulator/$management" stays. Scheme and host
// are dropped when present (a first segment with a '.' or ':' or that is "localhost").
std::string EntityPath(std::string_view audience_or_address, const SasAuthenticator& sas);

// A path's '/'-separated segments ("a//b" has an empty one; "" has none).
std::vector<std::string_view> PathSegments(std::string_view path);
// Whether two names are the same ignoring ASCII case, as Event Hubs and IoT Hub compare them.
bool SameName(std::string_view a, std::string_view b);

class CbsClaims {
 public:
  // Distinct audiences one connection may hold tokens for: a client cannot grow the list without end.
  static constexpr size_t kMaxClaims = 1000;

  explicit CbsClaims(const SasAuthenticator& sas) : sas_(sas) {}

  // put-token: `audience` is the name the token is put for, `token` the SAS text.
  // A new token for the same audience replaces the old one (renewal).
  Status Put(std::string_view audience, std::string_view token, Permissions any_of);
  // A claim made otherwise (SASL PLAIN at sign-in), on `path` and below.
  void Grant(std::string path, const Principal& who);
  // A claim on `address` (or on a leading run of its segments) with any of `any_of`,
  // unexpired at `now`; nullopt when there is none.
  std::optional<Principal> Covering(std::string_view address, Permissions any_of, TimePoint now) const;
  // Forgets the claims expired at `now`.
  void DropExpired(TimePoint now);
  // When the next claim expires; nullopt when there are none.
  std::optional<TimePoint> NextExpiry() const;

 private:
  struct Claim {
    std::string path;
    Principal principal;
  };
  const SasAuthenticator& sas_;
  std::vector<Claim> claims_;
};

}  // namespace iothub::amqp
