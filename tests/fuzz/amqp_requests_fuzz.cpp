// The $cbs and $management request handlers (spec §6.2, §6.3) on what a client sends:
// HandleCbsRequest and HandleManagementRequest, each with its own connection's claims and
// the in-memory hub's event log, on a message the input builds (FuzzedDataProvider: ids
// of every kind, the properties the SDKs set with good, odd or mistyped values, tokens
// good and bad, bodies of several types), or on the input's raw bytes; and the encoder of
// device events (EncodeEventMessage) on an event whose contents the input chooses.
// Properties: no crash or exception; a decodable request is always answered, an
// undecodable one never; an answer is an AMQP message with an int status-code (200-599),
// the request's message-id as correlation-id and its reply-to; a put-token answered 200
// leaves a claim covering its audience; a READ answered 200 carries the entity's map.
// An encoded event decodes back with its body, ids and annotations.
#include <fuzzer/FuzzedDataProvider.h>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/error.hpp>
#include <proton/map.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/symbol.hpp>
#include <proton/types.hpp>
#include <proton/uuid.hpp>
#include <proton/value.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "amqp/event_message.h"
#include "amqp/requests.h"
#include "amqp_fuzz_hub.h"
#include "fuzz_hub.h"

namespace {

using namespace iothub;
using fuzz::Check;

constexpr Permissions kAny = kRegistryRead | kRegistryWrite | kServiceConnect | kDeviceConnect;

const std::vector<std::string> kAudiences = {
    "sb://localhost/emulator",
    "sb://localhost:5671/emulator/ConsumerGroups/$Default/Partitions/0",
    "sb://LOCALHOST/emulator/$management",
    "emulator/$management",
    "emulator",
    "localhost",
    "myhub.azure-devices.net/devices/dev1",
    "sb://elsewhere/emulator",
    "amqps://localhost/emulator/",
    "",
};
const std::vector<std::string> kPolicies = {"service", "iothubowner", "device", "registryRead", "nosuch"};

std::string Pick(FuzzedDataProvider& in, const std::vector<std::string>& from) {
  return in.ConsumeBool() ? from[in.ConsumeIntegralInRange<size_t>(0, from.size() - 1)]
                          : in.ConsumeRandomLengthString(80);
}

int64_t Expiry(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: return fuzz::kFarExpiry;
    case 1: return 1'000'000'000;  // 2001
    case 2: return INT64_MAX;
    default: return in.ConsumeIntegral<int64_t>();
  }
}

// A token: an Event Hubs one, an IoT Hub one (sr = host, the decoded key), or any text.
std::string Token(FuzzedDataProvider& in, const std::string& audience) {
  const std::string for_audience = in.ConsumeBool() ? audience : Pick(in, kAudiences);
  const std::string policy = Pick(in, kPolicies);
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0: return fuzz::EventHubsToken(for_audience, policy, Expiry(in));
    case 1: {
      const AccessPolicy* p = fuzz::DefaultPolicies().Find(policy);
      return CreateSasToken(for_audience, p ? p->primary_key : "a2V5", Expiry(in), policy);
    }
    default: return in.ConsumeRandomLengthString(300);
  }
}

// A property value: mostly text, sometimes another type.
proton::scalar Value(FuzzedDataProvider& in, const std::string& text) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: return proton::symbol(text);
    case 1: return in.ConsumeIntegral<int32_t>();
    case 2: return proton::binary(text.begin(), text.end());
    case 3: return in.ConsumeBool();
    default: return text;
  }
}

proton::message_id Id(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: return in.ConsumeIntegral<uint64_t>();
    case 1: {
      proton::uuid u;
      for (auto& b : u) b = in.ConsumeIntegral<uint8_t>();
      return u;
    }
    case 2: {
      std::string b = in.ConsumeRandomLengthString(20);
      return proton::binary(b.begin(), b.end());
    }
    default: return in.ConsumeRandomLengthString(40);
  }
}

proton::message Request(FuzzedDataProvider& in) {
  proton::message m;
  if (in.ConsumeBool()) m.id(Id(in));
  if (in.ConsumeBool()) m.reply_to(in.ConsumeBool() ? "cbs-1" : in.ConsumeRandomLengthString(40));
  const std::string name = Pick(in, kAudiences);
  const std::map<std::string, std::vector<std::string>> known = {
      {"operation", {"put-token", "READ", "read", "delete-token"}},
      {"type",
       {"servicebus.windows.net:sastoken", "azure-devices.net:sastoken", "jwt", "com.microsoft:eventhub",
        "com.microsoft:partition"}},
      {"name", {name}},
      {"partition", {"0", "1", "3", "4", "-1", "01", ""}},
  };
  for (const auto& [key, values] : known) {
    if (in.ConsumeIntegralInRange(0, 7) == 0) continue;  // absent
    m.properties().put(key, Value(in, Pick(in, values)));
  }
  if (in.ConsumeBool()) m.properties().put("security_token", Value(in, Token(in, name)));
  for (int extra = in.ConsumeIntegralInRange(0, 2); extra > 0; --extra) {
    m.properties().put(in.ConsumeRandomLengthString(20), in.ConsumeRandomLengthString(20));
  }
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: break;  // no body
    case 1: m.body(proton::binary(std::string("[]")));
      break;
    case 2: m.body(std::vector<proton::value>{proton::value(std::string("a")), proton::value(int32_t{1})});
      break;
    case 3: m.body(in.ConsumeRandomLengthString(100));
      break;
    default: m.body(Token(in, name));
  }
  return m;
}

std::optional<int32_t> IntProperty(const proton::message& m, const std::string& name) {
  if (!m.properties().exists(name)) return std::nullopt;
  const proton::scalar v = m.properties().get(name);
  if (v.type() != proton::INT) return std::nullopt;
  return proton::get<int32_t>(v);
}

// The answer's shape; its status-code (0 when there is no answer).
int CheckAnswer(const amqp::Reply& reply, const proton::message* request) {
  if (reply.bytes.empty()) {
    Check(request == nullptr, "a decodable request is answered");
    return 0;
  }
  proton::message answer;
  try {
    answer.decode(std::vector<char>(reply.bytes.begin(), reply.bytes.end()));
  } catch (const proton::error&) {
    Check(false, "an answer decodes as an AMQP message");
  }
  const auto status = IntProperty(answer, "status-code");
  Check(status && *status >= 200 && *status <= 599, "an answer has an int status-code");
  if (request) {
    Check(answer.correlation_id() == request->id(), "an answer's correlation-id is the request's message-id");
    Check(reply.reply_to == request->reply_to(), "an answer goes where the request asked");
  }
  return *status;
}

void Requests(FuzzedDataProvider& in) {
  auto& hub = fuzz::TheHub<fuzz::AmqpHub>();
  amqp::CbsClaims claims(hub.sas);
  // Sometimes the connection already holds a claim, so that READs get past authorization.
  if (in.ConsumeBool()) (void)claims.Put("sb://localhost/emulator", fuzz::EventHubsToken("sb://localhost/emulator", Pick(in, kPolicies)), kAny);

  const bool structured = in.ConsumeBool();
  std::optional<proton::message> request;
  std::string bytes;
  if (structured) {
    request = Request(in);
    std::vector<char> encoded;
    request->encode(encoded);
    bytes.assign(encoded.begin(), encoded.end());
  } else {
    bytes = in.ConsumeRemainingBytesAsString();
  }
  const proton::message* known = request ? &*request : nullptr;

  if (CheckAnswer(amqp::HandleCbsRequest(bytes, claims), known) == 200 && request) {
    // The name as the handler reads it: text (a string or a symbol), else "".
    std::string name;
    if (request->properties().exists("name")) {
      const proton::scalar v = request->properties().get("name");
      if (v.type() == proton::STRING || v.type() == proton::SYMBOL) name = proton::coerce<std::string>(v);
    }
    Check(claims.Covering(name, kAny, Clock::now()).has_value(), "a put-token answered 200 leaves its claim");
  }
  const amqp::Reply read = amqp::HandleManagementRequest(bytes, claims, hub.sas, hub.log, hub.services.entity);
  if (CheckAnswer(read, known) == 200) {
    proton::message answer;
    answer.decode(std::vector<char>(read.bytes.begin(), read.bytes.end()));
    std::map<std::string, proton::value> body;
    proton::get(answer.body(), body);
    Check(body.count("name") && proton::get<std::string>(body["name"]) == fuzz::kHubName,
          "a READ answered 200 names the entity");
  }
}

// A device's event, encoded for readers and decoded back.
void EventMessage(FuzzedDataProvider& in) {
  Event e;
  e.partition = 1;
  e.sequence_number = in.ConsumeIntegral<int64_t>();
  e.offset = in.ConsumeIntegral<int64_t>();
  e.enqueued_time = TimePoint(std::chrono::milliseconds(in.ConsumeIntegralInRange<int64_t>(0, 7'258'118'400'000)));
  auto maybe = [&in]() -> std::optional<std::string> {
    if (!in.ConsumeBool()) return std::nullopt;
    return in.ConsumeRandomLengthString(40);
  };
  e.properties.message_id = maybe();
  e.properties.correlation_id = maybe();
  e.properties.user_id = maybe();
  e.properties.content_type = maybe();
  e.properties.content_encoding = maybe();
  for (int n = in.ConsumeIntegralInRange(0, 4); n > 0; --n) {
    std::string k = in.ConsumeRandomLengthString(20);
    e.application_properties.emplace_back(std::move(k), in.ConsumeRandomLengthString(40));
  }
  for (int n = in.ConsumeIntegralInRange(0, 4); n > 0; --n) {
    std::string k = in.ConsumeRandomLengthString(20);
    e.annotations.emplace_back(std::move(k), in.ConsumeRandomLengthString(40));
  }
  e.body = in.ConsumeRemainingBytesAsString();

  const std::string bytes = amqp::EncodeEventMessage(e);
  proton::message m;
  m.decode(std::vector<char>(bytes.begin(), bytes.end()));
  const proton::binary body = proton::get<proton::binary>(m.body());
  Check(std::string(body.begin(), body.end()) == e.body, "the body goes out as it came");
  if (e.properties.message_id) Check(proton::coerce<std::string>(m.id()) == *e.properties.message_id, "message-id kept");
  for (const auto& [k, v] : e.application_properties) Check(m.properties().exists(k), "application properties kept");
  const auto& annotations = m.message_annotations();
  Check(proton::get<int64_t>(annotations.get(proton::symbol("x-opt-sequence-number"))) == e.sequence_number,
        "x-opt-sequence-number is the event's");
  Check(proton::get<std::string>(annotations.get(proton::symbol("x-opt-offset"))) == std::to_string(e.offset),
        "x-opt-offset is the event's offset, as a string");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeIntegralInRange(0, 7) == 0) {
    EventMessage(in);
  } else {
    Requests(in);
  }
  return 0;
}
