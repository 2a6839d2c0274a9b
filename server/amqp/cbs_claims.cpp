#include "amqp/cbs_claims.h"

#include <algorithm>

#include "core/url_encoding.h"

namespace iothub::amqp {
namespace {

TimePoint ExpiryOf(const Principal& p) { return TimePoint(std::chrono::seconds(p.token_expiry)); }

bool IsSegmentPrefix(std::string_view prefix, std::string_view path) {
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  if (prefix.empty()) return true;
  if (path.size() < prefix.size()) return false;
  // Event Hubs names are case-insensitive.
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(prefix[i])) != std::tolower(static_cast<unsigned char>(path[i]))) {
      return false;
    }
  }
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace

std::string EntityPath(std::string_view text, const SasAuthenticator& sas) {
  if (size_t scheme = text.find("://"); scheme != std::string_view::npos) {
    text.remove_prefix(scheme + 3);
    size_t slash = text.find('/');
    text = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
  } else {
    size_t slash = text.find('/');
    std::string_view first = text.substr(0, slash);
    if (sas.IsOwnHost(first)) text = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
  }
  while (text.starts_with('/')) text.remove_prefix(1);
  return std::string(text);
}

Status CbsClaims::Put(std::string_view audience, std::string_view token, Permissions any_of) {
  // The device SDKs put the token's `sr` as it is written in the token: URL-encoded.
  std::optional<std::string> decoded;
  if (audience.find('%') != std::string_view::npos && (decoded = UrlDecode(audience))) audience = *decoded;
  std::string path = EntityPath(audience, sas_);
  auto principal = sas_.Authorize(token, path, any_of);
  if (!principal.ok()) return principal.status();
  auto same = std::find_if(claims_.begin(), claims_.end(), [&](const Claim& c) { return c.path == path; });
  if (same != claims_.end()) {
    same->principal = principal.value();
  } else if (claims_.size() >= kMaxClaims) {
    return Status(ErrorCode::kIotHubQuotaExceeded,
                  "A connection may hold tokens for at most " + std::to_string(kMaxClaims) + " audiences");
  } else {
    claims_.push_back({std::move(path), principal.value()});
  }
  return Status::Ok();
}

void CbsClaims::Grant(std::string path, const Principal& who) { claims_.push_back({std::move(path), who}); }

std::optional<Principal> CbsClaims::Covering(std::string_view address, Permissions any_of, TimePoint now) const {
  const std::string path = EntityPath(address, sas_);
  for (const Claim& c : claims_) {
    if ((c.principal.permissions & any_of) && ExpiryOf(c.principal) > now && IsSegmentPrefix(c.path, path)) {
      return c.principal;
    }
  }
  return std::nullopt;
}

void CbsClaims::DropExpired(TimePoint now) {
  std::erase_if(claims_, [&](const Claim& c) { return ExpiryOf(c.principal) <= now; });
}

std::optional<TimePoint> CbsClaims::NextExpiry() const {
  std::optional<TimePoint> next;
  for (const Claim& c : claims_) {
    if (!next || ExpiryOf(c.principal) < *next) next = ExpiryOf(c.principal);
  }
  return next;
}

}  // namespace iothub::amqp
