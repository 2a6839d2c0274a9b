// The request/response nodes of an AMQP connection: $cbs put-token (spec §6.2) and
// the Event Hub-compatible entity's $management READ (spec §6.3). A request is a
// message with application properties naming the operation; the answer goes to
// its reply-to with correlation-id = the request's message-id and a numeric
// status-code, as the SDKs check them.
#pragma once

#include <string>

#include "amqp/cbs_claims.h"
#include "core/event_log.h"

namespace iothub::amqp {

struct EntityInfo {
  std::string hub_name;  // the Event Hub-compatible entity's name
  TimePoint created_at;
  std::string host;       // where the Event Hub-compatible endpoint is, for redirects
  int amqps_port = 5671;
};

struct Reply {
  std::string reply_to;  // where the request asked for it
  std::string bytes;     // the encoded answer
};

// A put-token request: the claim is added to `claims` when the token holds.
Reply HandleCbsRequest(const std::string& request_bytes, CbsClaims& claims);

// A READ of the entity or one partition, allowed by a claim on the entity (or its
// $management) or by the request's own security_token.
Reply HandleManagementRequest(const std::string& request_bytes, const CbsClaims& claims, const SasAuthenticator& sas,
                              EventLog& log, const EntityInfo& entity);

}  // namespace iothub::amqp
