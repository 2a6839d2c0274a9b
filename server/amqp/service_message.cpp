#include "amqp/service_message.h"

#include <proton/codec.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <memory>

#include "core/time_format.h"
#include "core/url_encoding.h"

namespace iothub::amqp {
namespace {

// AMQP 1.0 §3.2: the sections of a message, by their descriptor codes and names.
constexpr uint64_t kHeader = 0x70;
constexpr uint64_t kDeliveryAnnotations = 0x71;
constexpr uint64_t kMessageAnnotations = 0x72;
constexpr uint64_t kProperties = 0x73;
constexpr uint64_t kApplicationProperties = 0x74;
constexpr uint64_t kData = 0x75;
constexpr uint64_t kAmqpSequence = 0x76;
constexpr uint64_t kAmqpValue = 0x77;
constexpr uint64_t kFooter = 0x78;

struct SectionName {
  const char* name;
  uint64_t code;
};
constexpr SectionName kSectionNames[] = {
    {"amqp:header:list", kHeader},
    {"amqp:delivery-annotations:map", kDeliveryAnnotations},
    {"amqp:message-annotations:map", kMessageAnnotations},
    {"amqp:properties:list", kProperties},
    {"amqp:application-properties:map", kApplicationProperties},
    {"amqp:data:binary", kData},
    {"amqp:amqp-sequence:list", kAmqpSequence},
    {"amqp:amqp-value:*", kAmqpValue},
    {"amqp:footer:map", kFooter},
};

using Data = std::unique_ptr<pn_data_t, decltype(&pn_data_free)>;

std::string_view View(pn_bytes_t b) { return {b.start, b.size}; }
pn_bytes_t Bytes(std::string_view s) { return pn_bytes(s.size(), s.data()); }
int64_t Millis(TimePoint t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count(); }

std::string UuidText(const pn_uuid_t& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    const auto b = static_cast<unsigned char>(u.bytes[i]);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// The current scalar as text; nullopt for null; ArgumentInvalid for a compound value.
Result<std::optional<std::string>> ScalarText(pn_data_t* d, const std::string& what) {
  switch (pn_data_type(d)) {
    case PN_NULL: return std::optional<std::string>();
    case PN_STRING: return std::optional<std::string>(View(pn_data_get_string(d)));
    case PN_SYMBOL: return std::optional<std::string>(View(pn_data_get_symbol(d)));
    case PN_BINARY: return std::optional<std::string>(View(pn_data_get_binary(d)));
    case PN_UUID: return std::optional<std::string>(UuidText(pn_data_get_uuid(d)));
    case PN_BOOL: return std::optional<std::string>(pn_data_get_bool(d) ? "true" : "false");
    case PN_UBYTE: return std::optional<std::string>(std::to_string(pn_data_get_ubyte(d)));
    case PN_BYTE: return std::optional<std::string>(std::to_string(pn_data_get_byte(d)));
    case PN_USHORT: return std::optional<std::string>(std::to_string(pn_data_get_ushort(d)));
    case PN_SHORT: return std::optional<std::string>(std::to_string(pn_data_get_short(d)));
    case PN_UINT: return std::optional<std::string>(std::to_string(pn_data_get_uint(d)));
    case PN_INT: return std::optional<std::string>(std::to_string(pn_data_get_int(d)));
    case PN_ULONG: return std::optional<std::string>(std::to_string(pn_data_get_ulong(d)));
    case PN_LONG: return std::optional<std::string>(std::to_string(pn_data_get_long(d)));
    case PN_FLOAT: return std::optional<std::string>(nlohmann::json(pn_data_get_float(d)).dump());
    case PN_DOUBLE: return std::optional<std::string>(nlohmann::json(pn_data_get_double(d)).dump());
    case PN_TIMESTAMP:
      return std::optional<std::string>(FormatIso8601(TimePoint(std::chrono::milliseconds(pn_data_get_timestamp(d)))));
    default: return Status::ArgumentInvalid(what + " must be a string, a number, a uuid or binary");
  }
}

Status ReadProperties(pn_data_t* d, CloudToDeviceMessage& m, std::optional<std::string>& to) {
  if (pn_data_type(d) != PN_LIST) return Status::ArgumentInvalid("The properties section must be a list");
  const size_t count = pn_data_get_list(d);
  pn_data_enter(d);
  // message-id, user-id, to, subject, reply-to, correlation-id, content-type, content-encoding,
  // absolute-expiry-time, creation-time, group-id, group-sequence, reply-to-group-id
  for (size_t i = 0; i < count && pn_data_next(d); ++i) {
    const pn_type_t type = pn_data_type(d);
    if (type == PN_NULL) continue;
    auto text = [&](const char* field, std::optional<std::string>& into) -> Status {
      auto value = ScalarText(d, field);
      if (!value.ok()) return value.status();
      into = *value;
      return Status::Ok();
    };
    Status s;
    switch (i) {
      case 0: s = text("message-id", m.properties.message_id); break;
      case 1: s = text("user-id", m.properties.user_id); break;
      case 2:
        if (type != PN_STRING) s = Status::ArgumentInvalid("'to' must be a string");
        else to = std::string(View(pn_data_get_string(d)));
        break;
      case 5: s = text("correlation-id", m.properties.correlation_id); break;
      case 6: s = text("content-type", m.properties.content_type); break;
      case 7: s = text("content-encoding", m.properties.content_encoding); break;
      case 8:
        if (type != PN_TIMESTAMP) s = Status::ArgumentInvalid("'absolute-expiry-time' must be a timestamp");
        else m.expiry_time = TimePoint(std::chrono::milliseconds(pn_data_get_timestamp(d)));
        break;
      default: break;  // subject, reply-to, creation-time, groups: nothing a device is given
    }
    if (!s.ok()) {
      pn_data_exit(d);
      return s;
    }
  }
  pn_data_exit(d);
  return Status::Ok();
}

Status ReadApplicationProperties(pn_data_t* d, CloudToDeviceMessage& m) {
  if (pn_data_type(d) != PN_MAP) return Status::ArgumentInvalid("The application-properties section must be a map");
  const size_t entries = pn_data_get_map(d) / 2;
  pn_data_enter(d);
  Status status;
  for (size_t i = 0; i < entries && status.ok(); ++i) {
    if (!pn_data_next(d)) break;
    if (pn_data_type(d) != PN_STRING && pn_data_type(d) != PN_SYMBOL) {
      status = Status::ArgumentInvalid("Application property names must be strings");
      break;
    }
    const std::string key(pn_data_type(d) == PN_STRING ? View(pn_data_get_string(d)) : View(pn_data_get_symbol(d)));
    if (!pn_data_next(d)) break;
    auto value = ScalarText(d, "Application property '" + key + "'");
    if (!value.ok()) {
      status = value.status();
    } else if (key == "iothub-ack") {
      m.ack = value->value_or("none");
      if (m.ack != "none" && m.ack != "positive" && m.ack != "negative" && m.ack != "full") {
        status = Status::ArgumentInvalid("'iothub-ack' must be none, positive, negative or full");
      }
    } else if (key.starts_with("$.")) {
      // A device's MQTT topic carries system properties as "$.mid" and the like: none may pose as one.
      status = Status::ArgumentInvalid("Application property '" + key + "' may not start with '$.'");
    } else {
      m.application_properties.emplace_back(key, value->value_or(""));
    }
  }
  pn_data_exit(d);
  return status;
}

// The section's code, from its descriptor (a ulong, or the symbol that names it); 0 for none.
uint64_t SectionCode(pn_data_t* d) {
  if (pn_data_type(d) == PN_ULONG) return pn_data_get_ulong(d);
  if (pn_data_type(d) != PN_SYMBOL) return 0;
  const std::string_view name = View(pn_data_get_symbol(d));
  for (const SectionName& s : kSectionNames) {
    if (name == s.name) return s.code;
  }
  return 0;
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
  Data data(pn_data(16), &pn_data_free);
  pn_data_t* d = data.get();
  CloudToDeviceMessage m;
  std::optional<std::string> to;
  bool has_body = false;
  while (!bytes.empty()) {
    pn_data_clear(d);
    const ssize_t used = pn_data_decode(d, bytes.data(), bytes.size());
    if (used <= 0) return Status::ArgumentInvalid("The message is not an encoded AMQP message");
    bytes.remove_prefix(static_cast<size_t>(used));
    pn_data_rewind(d);
    if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED) {
      return Status::ArgumentInvalid("An AMQP message is made of described sections");
    }
    pn_data_enter(d);
    if (!pn_data_next(d)) return Status::ArgumentInvalid("A section without its descriptor");
    const uint64_t code = SectionCode(d);
    if (!pn_data_next(d)) return Status::ArgumentInvalid("A section without its value");
    Status s;
    switch (code) {
      case kHeader:
      case kDeliveryAnnotations:
      case kMessageAnnotations:
      case kFooter: break;  // nothing IoT Hub hands a device
      case kProperties: s = ReadProperties(d, m, to); break;
      case kApplicationProperties: s = ReadApplicationProperties(d, m); break;
      case kData:
        if (pn_data_type(d) != PN_BINARY) s = Status::ArgumentInvalid("A data section must be binary");
        else m.body += View(pn_data_get_binary(d));
        has_body = true;
        break;
      case kAmqpValue:
        if (has_body) s = Status::ArgumentInvalid("A message has one body");
        else if (pn_data_type(d) == PN_BINARY) m.body = View(pn_data_get_binary(d));
        else if (pn_data_type(d) == PN_STRING) m.body = View(pn_data_get_string(d));
        else if (pn_data_type(d) != PN_NULL) s = Status::ArgumentInvalid("An amqp-value body must be a string or binary");
        has_body = true;
        break;
      case kAmqpSequence: s = Status::ArgumentInvalid("An amqp-sequence body cannot be given to a device"); break;
      default: s = Status::ArgumentInvalid("The message has a section that is not AMQP's"); break;
    }
    if (!s.ok()) return s;
  }
  if (!to) return Status::ArgumentInvalid("The message has no 'to': set it to /devices/{deviceId}/messages/devicebound");
  auto device = DeviceIdOfAddress(*to);
  if (!device) {
    return Status::ArgumentInvalid("The message's 'to' is '" + *to + "', not /devices/{deviceId}/messages/devicebound");
  }
  m.device_id = std::move(*device);
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
  Data data(pn_data(16), &pn_data_free);
  pn_data_t* d = data.get();
  auto begin = [d](uint64_t code) {
    pn_data_put_described(d);
    pn_data_enter(d);
    pn_data_put_ulong(d, code);
  };

  begin(kMessageAnnotations);
  pn_data_put_map(d);
  pn_data_enter(d);
  pn_data_put_symbol(d, Bytes("iothub-enqueuedtime"));
  pn_data_put_timestamp(d, Millis(now));
  pn_data_exit(d);
  pn_data_exit(d);

  begin(kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  pn_data_put_string(d, Bytes(message_id));
  pn_data_put_binary(d, Bytes(hub_name));  // user-id
  pn_data_put_null(d);                     // to
  pn_data_put_null(d);                     // subject
  pn_data_put_null(d);                     // reply-to
  pn_data_put_null(d);                     // correlation-id
  pn_data_put_symbol(d, Bytes(kFeedbackContentType));
  pn_data_put_symbol(d, Bytes("utf-8"));  // content-encoding
  pn_data_put_null(d);                    // absolute-expiry-time
  pn_data_put_timestamp(d, Millis(now));  // creation-time
  pn_data_exit(d);
  pn_data_exit(d);

  const std::string body = FeedbackJson(batch);
  begin(kData);
  pn_data_put_binary(d, Bytes(body));
  pn_data_exit(d);

  std::string out(body.size() + 512, '\0');
  for (;;) {
    const ssize_t n = pn_data_encode(d, out.data(), out.size());
    if (n >= 0) {
      out.resize(static_cast<size_t>(n));
      return out;
    }
    if (n != PN_OVERFLOW) return {};
    out.resize(out.size() * 2);
  }
}

}  // namespace iothub::amqp
