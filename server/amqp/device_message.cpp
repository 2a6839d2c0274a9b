#include "amqp/device_message.h"

#include <proton/codec.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "amqp/amqp_message.h"
#include "core/time_format.h"

namespace iothub::amqp {
namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // cut short
    for (int k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::optional<pn_uuid_t> ParseUuid(std::string_view text) {
  pn_uuid_t u{};
  int n = 0;
  int half = -1;
  for (char c : text) {
    if (c == '-') continue;
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    if (n >= 16) return std::nullopt;
    if (half < 0) {
      half = v;
    } else {
      u.bytes[n++] = static_cast<char>((half << 4) | v);
      half = -1;
    }
  }
  if (n != 16 || half >= 0) return std::nullopt;
  return u;
}

std::string TimestampText(int64_t millis) {
  millis = std::clamp<int64_t>(millis, 0, kLatestMillis);
  return FormatIso8601(TimePoint(std::chrono::milliseconds(millis)));
}

template <typename T>
std::string Decimal(T n) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

// Maps a decoded message's values: text that is not UTF-8 marks the whole message bad.
struct Reader {
  bool bad_text = false;

  std::string Checked(std::string_view s) {
    if (!IsUtf8(s)) bad_text = true;
    return std::string(s);
  }

  // The value as text; nullopt for null and for what has no text (lists, maps, arrays, described).
  std::optional<std::string> Text(const AmqpValue& v) {
    using T = AmqpValue::Type;
    switch (v.type) {
      case T::kString:
      case T::kSymbol:
      case T::kBinary: return Checked(v.text);
      case T::kBool:
      case T::kUlong:
      case T::kInteger:
      case T::kUuid: return v.text;
      case T::kFloat: return Decimal(static_cast<float>(v.number));
      case T::kDouble: return Decimal(v.number);
      case T::kTimestamp: return TimestampText(v.millis);
      default: return std::nullopt;
    }
  }

  std::optional<AmqpId> Id(const AmqpValue& v) {
    switch (v.type) {
      case AmqpValue::Type::kString: return AmqpId{AmqpId::Type::kString, Checked(v.text)};
      case AmqpValue::Type::kUuid: return AmqpId{AmqpId::Type::kUuid, v.text};
      case AmqpValue::Type::kUlong: return AmqpId{AmqpId::Type::kUlong, v.text};
      case AmqpValue::Type::kBinary: return AmqpId{AmqpId::Type::kBinary, v.text};
      default: return std::nullopt;
    }
  }

  // A map's entries with text keys and values (others left out).
  Properties Map(const AmqpEntries& entries) {
    Properties out;
    for (const auto& [k, v] : entries) {
      auto key = Text(k);
      auto value = Text(v);
      if (key && value) out.emplace_back(std::move(*key), std::move(*value));
    }
    return out;
  }
};

void PutId(pn_data_t* d, const std::optional<AmqpId>& id) {
  if (!id) return (void)pn_data_put_null(d);
  switch (id->type) {
    case AmqpId::Type::kString:
      pn_data_put_string(d, Bytes(id->text));
      return;
    case AmqpId::Type::kUuid:
      if (auto u = ParseUuid(id->text)) return (void)pn_data_put_uuid(d, *u);
      break;
    case AmqpId::Type::kUlong: {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(id->text.data(), id->text.data() + id->text.size(), n);
      if (ec == std::errc() && end == id->text.data() + id->text.size()) return (void)pn_data_put_ulong(d, n);
      break;
    }
    case AmqpId::Type::kBinary:
      pn_data_put_binary(d, Bytes(id->text));
      return;
  }
  pn_data_put_string(d, Bytes(id->text));
}

// The annotations of the twin link's messages: `status` and `version`, each when there is one.
void PutTwinAnnotations(pn_data_t* d, std::optional<int> status, std::optional<int64_t> version) {
  BeginSection(d, section::kMessageAnnotations);
  pn_data_put_map(d);
  pn_data_enter(d);
  if (status) {
    pn_data_put_symbol(d, Bytes("status"));
    pn_data_put_int(d, *status);
  }
  if (version) {
    pn_data_put_symbol(d, Bytes("version"));
    pn_data_put_long(d, *version);
  }
  pn_data_exit(d);
  pn_data_exit(d);
}

}  // namespace

const std::string* DeviceMessage::Annotation(std::string_view name) const {
  for (const auto& [k, v] : annotations) {
    if (k == name) return &v;
  }
  return nullptr;
}

const std::string* DeviceMessage::ApplicationProperty(std::string_view name) const {
  for (const auto& [k, v] : application_properties) {
    if (k == name) return &v;
  }
  return nullptr;
}

Result<DeviceMessage> DecodeDeviceMessage(std::string_view bytes) {
  AmqpMessage a;
  switch (DecodeAmqpMessage(bytes, a)) {
    case AmqpFault::kNone: break;
    case AmqpFault::kNotEncoded: return Status::FormatError("The message is not AMQP 1.0 encoded");
    case AmqpFault::kNotDescribed: return Status::FormatError("A message section must be a described value");
    case AmqpFault::kNoDescriptor: return Status::FormatError("A message section has no descriptor");
    case AmqpFault::kUnknownSection: return Status::FormatError("Unknown message section");
    case AmqpFault::kNoValue: return Status::FormatError("A message section has no value");
    case AmqpFault::kDataNotBinary: return Status::FormatError("A data section must hold binary");
  }
  // Left out: a properties section not a list, maps that are not maps, a second body, an
  // amqp-sequence, sections of unknown codes; an amqp-value other than text or binary (no body).
  Reader r;
  DeviceMessage m;
  m.message_id = r.Id(a.message_id);
  if (a.user_id.type == AmqpValue::Type::kBinary) m.user_id = r.Checked(a.user_id.text);
  m.to = r.Text(a.to);
  m.correlation_id = r.Id(a.correlation_id);
  m.content_type = r.Text(a.content_type);
  m.content_encoding = r.Text(a.content_encoding);
  if (a.absolute_expiry_time.type == AmqpValue::Type::kTimestamp) m.absolute_expiry_time = r.Text(a.absolute_expiry_time);
  m.annotations = r.Map(a.annotations);
  m.application_properties = r.Map(a.application_properties);
  if (a.value_body.type == AmqpValue::Type::kString) r.Checked(a.value_body.text);
  m.body = std::move(a.body);
  if (r.bad_text) return Status::ArgumentInvalid("A text in the message is not UTF-8");
  return m;
}

TelemetryMessage ToTelemetry(DeviceMessage m) {
  TelemetryMessage t;
  t.body = std::move(m.body);
  SystemProperties& p = t.properties;
  if (m.message_id) p.message_id = std::move(m.message_id->text);
  if (m.correlation_id) p.correlation_id = std::move(m.correlation_id->text);
  p.user_id = std::move(m.user_id);
  p.content_type = std::move(m.content_type);
  p.content_encoding = std::move(m.content_encoding);
  p.absolute_expiry_time = std::move(m.absolute_expiry_time);
  t.application_properties = std::move(m.application_properties);
  // An id that is not text (binary) could not be stored as one: it is left out.
  if (m.message_id && m.message_id->type == AmqpId::Type::kBinary && !IsUtf8(*p.message_id)) p.message_id.reset();
  if (m.correlation_id && m.correlation_id->type == AmqpId::Type::kBinary && !IsUtf8(*p.correlation_id)) {
    p.correlation_id.reset();
  }
  for (auto& [name, value] : m.annotations) {
    if (name == "dt-subject") t.component = std::move(value);
    if (name == "iothub-interface-id") t.interface_id = std::move(value);
    if (name == "iothub-creation-time-utc") t.creation_time = std::move(value);
  }
  return t;
}

Result<TwinRequest> ParseTwinRequest(DeviceMessage m) {
  const std::string* operation = m.Annotation("operation");
  const std::string* resource = m.Annotation("resource");
  if (!operation) return Status::ArgumentInvalid("A twin request needs an 'operation' annotation");
  TwinRequest t;
  const std::string_view res = resource ? std::string_view(*resource) : std::string_view();
  constexpr std::string_view kDesiredNotifications = "/notifications/twin/properties/desired";
  if (*operation == "GET") {
    t.operation = TwinRequest::Operation::kGet;
  } else if (*operation == "PATCH" && res == "/properties/reported") {
    t.operation = TwinRequest::Operation::kPatchReported;
  } else if (*operation == "PUT" && res == kDesiredNotifications) {
    t.operation = TwinRequest::Operation::kSubscribeDesired;
  } else if (*operation == "DELETE" && res == kDesiredNotifications) {
    t.operation = TwinRequest::Operation::kUnsubscribeDesired;
  } else {
    return Status::ArgumentInvalid("Twin operation '" + *operation + "' on resource '" + std::string(res) +
                                   "' is not supported: GET, PATCH /properties/reported, PUT or DELETE " +
                                   std::string(kDesiredNotifications));
  }
  t.correlation_id = std::move(m.correlation_id);
  t.body = std::move(m.body);
  return t;
}

Result<MethodAnswer> ParseMethodAnswer(DeviceMessage m) {
  if (!m.correlation_id) return Status::ArgumentInvalid("A method answer needs the request's id as correlation-id");
  const std::string* status = m.ApplicationProperty("IoThub-status");
  int code = 0;
  if (!status) return Status::ArgumentInvalid("A method answer needs an IoThub-status application property");
  auto [end, ec] = std::from_chars(status->data(), status->data() + status->size(), code);
  if (ec != std::errc() || end != status->data() + status->size()) {
    return Status::ArgumentInvalid("IoThub-status must be an integer, not '" + *status + "'");
  }
  return MethodAnswer{std::move(m.correlation_id->text), code, std::move(m.body)};
}

std::string EncodeCloudToDevice(const CloudToDeviceMessage& c) {
  pn_data_t* d = FreshData();
  // header: durable, priority, ttl, first-acquirer, delivery-count (earlier deliveries)
  BeginSection(d, section::kHeader);
  pn_data_put_list(d);
  pn_data_enter(d);
  pn_data_put_bool(d, true);
  pn_data_put_null(d);
  pn_data_put_null(d);
  pn_data_put_bool(d, c.delivery_count <= 1);
  pn_data_put_uint(d, static_cast<uint32_t>(std::max(0, c.delivery_count - 1)));
  pn_data_exit(d);
  pn_data_exit(d);

  const SystemProperties& p = c.properties;
  BeginSection(d, section::kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  PutPropertiesHead(d, p, "/devices/" + c.device_id + "/messages/devicebound");
  if (c.expiry_time != TimePoint{}) {
    pn_data_put_timestamp(d, std::clamp<int64_t>(Millis(c.expiry_time), 0, kLatestMillis));
  } else {
    pn_data_put_null(d);
  }
  pn_data_put_timestamp(d, std::clamp<int64_t>(Millis(c.enqueued_time), 0, kLatestMillis));  // creation-time
  pn_data_exit(d);
  pn_data_exit(d);

  if (!c.application_properties.empty() || c.ack != "none") {
    BeginSection(d, section::kApplicationProperties);
    pn_data_put_map(d);
    pn_data_enter(d);
    PutEntries(d, c.application_properties);
    if (c.ack != "none") {
      pn_data_put_string(d, Bytes("iothub-ack"));
      pn_data_put_string(d, Bytes(c.ack));
    }
    pn_data_exit(d);
    pn_data_exit(d);
  }
  PutDataSection(d, c.body);
  return EncodeData(d, c.body.size());
}

std::string EncodeMethodRequest(std::string_view method_name, std::string_view request_id,
                                std::string_view payload_json) {
  pn_data_t* d = FreshData();
  BeginSection(d, section::kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  for (int i = 0; i < 5; ++i) pn_data_put_null(d);  // message-id, user-id, to, subject, reply-to
  pn_data_put_string(d, Bytes(request_id));         // correlation-id
  pn_data_exit(d);
  pn_data_exit(d);

  BeginSection(d, section::kApplicationProperties);
  pn_data_put_map(d);
  pn_data_enter(d);
  pn_data_put_string(d, Bytes("IoThub-methodname"));
  pn_data_put_string(d, Bytes(method_name));
  pn_data_exit(d);
  pn_data_exit(d);
  PutDataSection(d, payload_json);
  return EncodeData(d, payload_json.size());
}

std::string EncodeTwinAnswer(const std::optional<AmqpId>& correlation_id, int status, std::optional<int64_t> version,
                             std::string_view body) {
  pn_data_t* d = FreshData();
  PutTwinAnnotations(d, status, version);

  BeginSection(d, section::kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  for (int i = 0; i < 5; ++i) pn_data_put_null(d);
  PutId(d, correlation_id);
  pn_data_exit(d);
  pn_data_exit(d);
  PutDataSection(d, body);
  return EncodeData(d, body.size());
}

std::string EncodeDesiredPatch(int64_t version, std::string_view patch_json) {
  pn_data_t* d = FreshData();
  PutTwinAnnotations(d, std::nullopt, version);
  PutDataSection(d, patch_json);
  return EncodeData(d, patch_json.size());
}

}  // namespace iothub::amqp
