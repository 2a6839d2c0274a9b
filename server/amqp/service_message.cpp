#include "amqp/service_message.h"

#include <proton/codec.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <tuple>

#include "amqp/amqp_message.h"
#include "core/time_format.h"
#include "core/url_encoding.h"

namespace iothub::amqp {
namespace {

// An AMQP timestamp (ms since the epoch) as a time, from 1970 to 2200: a TimePoint counts nanoseconds
// in 64 bits (to 2262), and times are added to.
std::optional<TimePoint> TimeOf(int64_t ms) {
  if (ms < 0 || ms > kLatestMillis) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(ms));
}

// The value as text; nullopt for null; ArgumentInvalid for a compound value.
Result<std::optional<std::string>> ScalarText(const AmqpValue& v, const std::string& what) {
  using T = AmqpValue::Type;
  switch (v.type) {
    case T::kNull: return std::optional<std::string>();
    case T::kFloat: return std::optional<std::string>(nlohmann::json(static_cast<float>(v.number)).dump());
    case T::kDouble: return std::optional<std::string>(nlohmann::json(v.number).dump());
    case T::kTimestamp: {
      auto time = TimeOf(v.millis);
      if (!time) return Status::ArgumentInvalid(what + " is a timestamp out of range");
      return std::optional<std::string>(FormatIso8601(*time));
    }
    case T::kOther: return Status::ArgumentInvalid(what + " must be a string, a number, a uuid or binary");
    default: return std::optional<std::string>(v.text);
  }
}

// The properties section's fields a device is given (subject, reply-to, creation-time and groups are not).
Status ReadProperties(const AmqpMessage& a, CloudToDeviceMessage& m, std::optional<std::string>& to) {
  if (a.properties_not_list) return Status::ArgumentInvalid("The properties section must be a list");
  SystemProperties& p = m.properties;
  const std::tuple<const AmqpValue&, std::optional<std::string>&, const char*> texts[] = {
      {a.message_id, p.message_id, "message-id"},       {a.user_id, p.user_id, "user-id"},
      {a.correlation_id, p.correlation_id, "correlation-id"}, {a.content_type, p.content_type, "content-type"},
      {a.content_encoding, p.content_encoding, "content-encoding"}};
  if (a.to.type == AmqpValue::Type::kString) to = a.to.text;
  else if (a.to.type != AmqpValue::Type::kNull) return Status::ArgumentInvalid("'to' must be a string");
  for (const auto& [field, into, name] : texts) {
    auto value = ScalarText(field, name);
    if (!value.ok()) return value.status();
    into = std::move(*value);
  }
  const AmqpValue& expiry = a.absolute_expiry_time;
  if (expiry.type == AmqpValue::Type::kNull) return Status::Ok();
  if (expiry.type != AmqpValue::Type::kTimestamp) {
    return Status::ArgumentInvalid("'absolute-expiry-time' must be a timestamp");
  }
  auto time = TimeOf(expiry.millis);
  if (!time) return Status::ArgumentInvalid("'absolute-expiry-time' is out of range");
  m.expiry_time = *time;
  return Status::Ok();
}

Status ReadApplicationProperties(const AmqpMessage& a, CloudToDeviceMessage& m) {
  if (a.application_properties_not_map) {
    return Status::ArgumentInvalid("The application-properties section must be a map");
  }
  for (const auto& [k, v] : a.application_properties) {
    if (k.type != AmqpValue::Type::kString && k.type != AmqpValue::Type::kSymbol) {
      return Status::ArgumentInvalid("Application property names must be strings");
    }
    const std::string& key = k.text;
    auto value = ScalarText(v, "Application property '" + key + "'");
    if (!value.ok()) return value.status();
    if (key == "iothub-ack") {
      m.ack = value->value_or("none");
      if (m.ack != "none" && m.ack != "positive" && m.ack != "negative" && m.ack != "full") {
        return Status::ArgumentInvalid("'iothub-ack' must be none, positive, negative or full");
      }
    } else if (key.starts_with("$.")) {
      // A device's MQTT topic carries system properties as "$.mid" and the like: none may pose as one.
      return Status::ArgumentInvalid("Application property '" + key + "' may not start with '$.'");
    } else {
      m.application_properties.emplace_back(key, value->value_or(""));
    }
  }
  return Status::Ok();
}

}  // namespace

std::optional<std::string> DeviceIdOfAddress(std::string_view to) {
  if (to.starts_with('/')) to.remove_prefix(1);
  constexpr std::string_view kPrefix = "devices/", kSuffix = "/messages/devicebound";
  if (!to.starts_with(kPrefix) || !to.ends_with(kSuffix) || to.size() <= kPrefix.size() + kSuffix.size()) {
    return std::nullopt;
  }
  const std::string_view encoded = to.substr(kPrefix.size(), to.size() - kPrefix.size() - kSuffix.size());
  if (encoded.find('/') != std::string_view::npos) return std::nullopt;
  auto id = UrlDecode(encoded);
  if (!id || id->empty()) return std::nullopt;
  return id;
}

Result<CloudToDeviceMessage> DecodeServiceMessage(std::string_view bytes) {
  AmqpMessage a;
  const AmqpFault fault = DecodeAmqpMessage(bytes, a);
  // What came before a section that could not be read is judged first: the first problem is the one told.
  CloudToDeviceMessage m;
  std::optional<std::string> to;
  if (Status s = ReadProperties(a, m, to); !s.ok()) return s;
  if (Status s = ReadApplicationProperties(a, m); !s.ok()) return s;
  if (a.extra_value) return Status::ArgumentInvalid("A message has one body");
  const AmqpValue::Type value = a.value_body.type;
  if (value != AmqpValue::Type::kNull && value != AmqpValue::Type::kString && value != AmqpValue::Type::kBinary) {
    return Status::ArgumentInvalid("An amqp-value body must be a string or binary");
  }
  if (a.sequence_body) return Status::ArgumentInvalid("An amqp-sequence body cannot be given to a device");
  // Header, annotations and footer: nothing IoT Hub hands a device.
  if (a.unknown_code) return Status::ArgumentInvalid("The message has a section that is not AMQP's");
  switch (fault) {
    case AmqpFault::kNone: break;
    case AmqpFault::kNotEncoded: return Status::ArgumentInvalid("The message is not an encoded AMQP message");
    case AmqpFault::kNotDescribed: return Status::ArgumentInvalid("An AMQP message is made of described sections");
    case AmqpFault::kNoDescriptor: return Status::ArgumentInvalid("A section without its descriptor");
    case AmqpFault::kNoValue: return Status::ArgumentInvalid("A section without its value");
    case AmqpFault::kUnknownSection: return Status::ArgumentInvalid("The message has a section that is not AMQP's");
    case AmqpFault::kDataNotBinary: return Status::ArgumentInvalid("A data section must be binary");
  }
  if (!to) return Status::ArgumentInvalid("The message has no 'to': set it to /devices/{deviceId}/messages/devicebound");
  auto device = DeviceIdOfAddress(*to);
  if (!device) {
    return Status::ArgumentInvalid("The message's 'to' is '" + *to + "', not /devices/{deviceId}/messages/devicebound");
  }
  m.device_id = std::move(*device);
  m.body = std::move(a.body);
  return m;
}

std::string FeedbackJson(const FeedbackBatch& batch) {
  nlohmann::json records = nlohmann::json::array();
  for (const FeedbackRecord& r : batch.records) {
    records.push_back({{"originalMessageId", r.original_message_id},
                       {"enqueuedTimeUtc", FormatIso8601(r.enqueued_time)},
                       {"statusCode", FeedbackStatusName(r.status)},
                       {"description", r.description},
                       {"deviceId", r.device_id},
                       {"deviceGenerationId", r.device_generation_id}});
  }
  return records.dump();
}

std::string EncodeFeedbackMessage(const FeedbackBatch& batch, const std::string& message_id,
                                  const std::string& hub_name, TimePoint now) {
  pn_data_t* d = FreshData();
  BeginSection(d, section::kMessageAnnotations);
  pn_data_put_map(d);
  pn_data_enter(d);
  pn_data_put_symbol(d, Bytes("iothub-enqueuedtime"));
  pn_data_put_timestamp(d, Millis(now));
  pn_data_exit(d);
  pn_data_exit(d);

  SystemProperties p;
  p.message_id = message_id;
  p.user_id = hub_name;
  p.content_type = kFeedbackContentType;
  p.content_encoding = "utf-8";
  BeginSection(d, section::kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  PutPropertiesHead(d, p, std::nullopt);
  pn_data_put_null(d);                    // absolute-expiry-time
  pn_data_put_timestamp(d, Millis(now));  // creation-time
  pn_data_exit(d);
  pn_data_exit(d);

  const std::string body = FeedbackJson(batch);
  PutDataSection(d, body);
  return EncodeData(d, body.size());
}

}  // namespace iothub::amqp
