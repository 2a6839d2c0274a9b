#include "amqp/requests.h"

#include <proton/annotation_key.hpp>
#include <proton/error.hpp>
#include <proton/map.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/timestamp.hpp>
#include <proton/types.hpp>
#include <proton/value.hpp>

#include <cctype>
#include <map>
#include <vector>

#include "core/access_policy.h"

namespace iothub::amqp {
namespace {

constexpr Permissions kAnyPermission = kRegistryRead | kRegistryWrite | kServiceConnect | kDeviceConnect;

proton::timestamp Timestamp(TimePoint t) {
  return proton::timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

// An application property as text; "" when absent or not a string.
std::string TextProperty(const proton::message& m, const std::string& name) {
  try {
    if (!m.properties().exists(name)) return "";
    const proton::scalar v = m.properties().get(name);
    if (v.type() == proton::STRING) return proton::get<std::string>(v);
    if (v.type() == proton::SYMBOL) return proton::get<proton::symbol>(v);
  } catch (const proton::error&) {
  }
  return "";
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

Reply Answer(const proton::message& request, int status, const std::string& description,
             const proton::value& body = proton::value()) {
  proton::message m;
  m.correlation_id(request.id());  // the same type as the request's message-id, as the SDKs compare them
  m.properties().put("status-code", int32_t{status});
  m.properties().put("status-description", description);
  if (!body.empty()) m.body(body);
  std::vector<char> bytes;
  m.encode(bytes);
  return {request.reply_to(), std::string(bytes.begin(), bytes.end())};
}

std::optional<proton::message> Decode(const std::string& bytes) {
  try {
    proton::message m;
    m.decode(std::vector<char>(bytes.begin(), bytes.end()));
    return m;
  } catch (const proton::error&) {
    return std::nullopt;
  }
}

// Not an AMQP message: there is no reply-to to answer, so it is dropped.
Reply Undecodable() { return {"", ""}; }

int HttpStatusOf(const Status& s) { return ErrorCodeNumber(s.code()) / 1000; }

}  // namespace

Reply HandleCbsRequest(const std::string& request_bytes, CbsClaims& claims) {
  auto request = Decode(request_bytes);
  if (!request) return Undecodable();
  const proton::message& m = *request;
  if (TextProperty(m, "operation") != "put-token") return Answer(m, 400, "Only put-token is supported on $cbs");
  const std::string type = TextProperty(m, "type");
  if (type != "servicebus.windows.net:sastoken" && type != "azure-devices.net:sastoken") {
    return Answer(m, 400, "Only SAS tokens are supported (type servicebus.windows.net:sastoken), not '" + type + "'");
  }
  std::string token;
  try {
    token = proton::get<std::string>(m.body());
  } catch (const proton::error&) {
    return Answer(m, 400, "The token must be the body, as a string");
  }
  Status s = claims.Put(TextProperty(m, "name"), token, kAnyPermission);
  if (!s.ok()) return Answer(m, HttpStatusOf(s), s.message());
  return Answer(m, 200, "OK");
}

Reply HandleManagementRequest(const std::string& request_bytes, const CbsClaims& claims, const SasAuthenticator& sas,
                              EventLog& log, const EntityInfo& entity) {
  auto request = Decode(request_bytes);
  if (!request) return Undecodable();
  const proton::message& m = *request;
  if (TextProperty(m, "operation") != "READ") return Answer(m, 400, "Only READ is supported on $management");
  const std::string name = TextProperty(m, "name");
  bool allowed = claims.Covering(entity.hub_name + "/$management", kServiceConnect, Clock::now()).has_value();
  if (!allowed) {
    const std::string token = TextProperty(m, "security_token");
    allowed = !token.empty() && sas.Authorize(token, entity.hub_name, kServiceConnect).ok();
  }
  if (!allowed) return Answer(m, 401, "Put a token for " + entity.hub_name + " with ServiceConnect on $cbs first");
  if (!EqualsIgnoringCase(name, entity.hub_name)) {
    return Answer(m, 404, "The messaging entity '" + name + "' could not be found; this hub's is '" +
                              entity.hub_name + "'");
  }

  const int count = log.partition_count();
  const std::string type = TextProperty(m, "type");
  if (type == "com.microsoft:eventhub") {
    std::vector<std::string> ids;
    for (int p = 0; p < count; ++p) ids.push_back(std::to_string(p));
    std::map<std::string, proton::value> body{{"name", entity.hub_name},
                                              {"created_at", Timestamp(entity.created_at)},
                                              {"partition_count", int32_t{count}},
                                              {"partition_ids", ids}};
    return Answer(m, 200, "OK", body);
  }
  if (type == "com.microsoft:partition") {
    const std::string id = TextProperty(m, "partition");
    int p = -1;
    for (int i = 0; i < count; ++i) {
      if (id == std::to_string(i)) p = i;
    }
    if (p < 0) return Answer(m, 404, "There is no partition '" + id + "'; there are " + std::to_string(count));
    const int64_t next = log.NextSequenceNumbers()[p];
    auto first = log.ReadPartition(p, 0, 1);
    std::vector<EventPtr> last = next > 0 ? log.ReadPartition(p, next - 1, 1) : std::vector<EventPtr>{};
    const bool empty = first.empty() || last.empty();
    std::map<std::string, proton::value> body{
        {"name", entity.hub_name},
        {"partition", id},
        {"begin_sequence_number", int64_t{empty ? -1 : first[0]->sequence_number}},
        {"last_enqueued_sequence_number", int64_t{empty ? -1 : last[0]->sequence_number}},
        {"last_enqueued_offset", empty ? std::string("-1") : std::to_string(last[0]->offset)},
        {"last_enqueued_time_utc", Timestamp(empty ? TimePoint{} : last[0]->enqueued_time)},
        {"is_partition_empty", empty}};
    return Answer(m, 200, "OK", body);
  }
  return Answer(m, 400, "READ supports type com.microsoft:eventhub and com.microsoft:partition, not '" + type + "'");
}

}  // namespace iothub::amqp
