#include "amqp/device_message.h"

#include <proton/codec.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>

#include "core/time_format.h"

namespace iothub::amqp {
namespace {

// AMQP 1.0 §3.2: the sections of a message, by their descriptor codes.
constexpr uint64_t kHeader = 0x70;
constexpr uint64_t kMessageAnnotations = 0x72;
constexpr uint64_t kProperties = 0x73;
constexpr uint64_t kApplicationProperties = 0x74;
constexpr uint64_t kData = 0x75;
constexpr uint64_t kAmqpValue = 0x77;

// Sections may also be described by name.
constexpr std::pair<std::string_view, uint64_t> kSectionNames[] = {
    {"amqp:header:list", 0x70},           {"amqp:delivery-annotations:map", 0x71},
    {"amqp:message-annotations:map", 0x72}, {"amqp:properties:list", 0x73},
    {"amqp:application-properties:map", 0x74}, {"amqp:data:binary", 0x75},
    {"amqp:amqp-sequence:list", 0x76},    {"amqp:amqp-value:*", 0x77},
    {"amqp:footer:map", 0x78}};

// The latest time the codec turns into text or back: beyond it a nanosecond clock overflows.
constexpr int64_t kLatestMillis = 7'258'118'400'000;  // 2200-01-01

using DataPtr = std::unique_ptr<pn_data_t, decltype(&pn_data_free)>;

std::string_view View(pn_bytes_t b) { return {b.start, b.size}; }
pn_bytes_t Bytes(std::string_view s) { return pn_bytes(s.size(), s.data()); }

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

std::string UuidText(const pn_uuid_t& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    const auto b = static_cast<unsigned char>(u.bytes[i]);
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
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

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

template <typename T>
std::string Decimal(T n) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

// Reads a message's values: text that is not UTF-8 marks the whole message bad.
struct Reader {
  pn_data_t* d;
  bool bad_text = false;

  std::string Checked(std::string_view s) {
    if (!IsUtf8(s)) bad_text = true;
    return std::string(s);
  }

  // The current value as text; nullopt for null and for what has no text (lists, maps, arrays, described).
  std::optional<std::string> Text() {
    switch (pn_data_type(d)) {
      case PN_STRING: return Checked(View(pn_data_get_string(d)));
      case PN_SYMBOL: return Checked(View(pn_data_get_symbol(d)));
      case PN_BINARY: return Checked(View(pn_data_get_binary(d)));
      case PN_BOOL: return std::string(pn_data_get_bool(d) ? "true" : "false");
      case PN_UBYTE: return Decimal(unsigned{pn_data_get_ubyte(d)});
      case PN_BYTE: return Decimal(int{pn_data_get_byte(d)});
      case PN_USHORT: return Decimal(unsigned{pn_data_get_ushort(d)});
      case PN_SHORT: return Decimal(int{pn_data_get_short(d)});
      case PN_UINT: return Decimal(pn_data_get_uint(d));
      case PN_INT: return Decimal(pn_data_get_int(d));
      case PN_ULONG: return Decimal(pn_data_get_ulong(d));
      case PN_LONG: return Decimal(pn_data_get_long(d));
      case PN_FLOAT: return Decimal(pn_data_get_float(d));
      case PN_DOUBLE: return Decimal(pn_data_get_double(d));
      case PN_TIMESTAMP: return TimestampText(pn_data_get_timestamp(d));
      case PN_UUID: return UuidText(pn_data_get_uuid(d));
      default: return std::nullopt;
    }
  }

  std::optional<AmqpId> Id() {
    switch (pn_data_type(d)) {
      case PN_STRING: return AmqpId{AmqpId::Type::kString, Checked(View(pn_data_get_string(d)))};
      case PN_UUID: return AmqpId{AmqpId::Type::kUuid, UuidText(pn_data_get_uuid(d))};
      case PN_ULONG: return AmqpId{AmqpId::Type::kUlong, Decimal(pn_data_get_ulong(d))};
      case PN_BINARY: return AmqpId{AmqpId::Type::kBinary, std::string(View(pn_data_get_binary(d)))};
      default: return std::nullopt;
    }
  }

  // A map section's entries with text keys and values (others left out).
  void Map(Properties& out) {
    if (pn_data_type(d) != PN_MAP) return;
    const size_t entries = pn_data_get_map(d) / 2;
    pn_data_enter(d);
    for (size_t i = 0; i < entries; ++i) {
      if (!pn_data_next(d)) break;
      auto key = Text();
      if (!pn_data_next(d)) break;
      auto value = Text();
      if (key && value) out.emplace_back(std::move(*key), std::move(*value));
    }
    pn_data_exit(d);
  }

  void PropertiesList(DeviceMessage& m) {
    if (pn_data_type(d) != PN_LIST) return;
    const size_t fields = pn_data_get_list(d);
    pn_data_enter(d);
    for (size_t i = 0; i < fields && pn_data_next(d); ++i) {
      switch (i) {
        case 0: m.message_id = Id(); break;
        case 1: if (pn_data_type(d) == PN_BINARY) m.user_id = Checked(View(pn_data_get_binary(d))); break;
        case 2: m.to = Text(); break;
        case 5: m.correlation_id = Id(); break;
        case 6: m.content_type = Text(); break;
        case 7: m.content_encoding = Text(); break;
        case 8: if (pn_data_type(d) == PN_TIMESTAMP) m.absolute_expiry_time = Text(); break;
        default: break;
      }
    }
    pn_data_exit(d);
  }
};

std::optional<uint64_t> SectionCode(pn_data_t* d) {
  if (pn_data_type(d) == PN_ULONG) return pn_data_get_ulong(d);
  if (pn_data_type(d) == PN_SYMBOL) {
    for (const auto& [name, code] : kSectionNames) {
      if (View(pn_data_get_symbol(d)) == name) return code;
    }
  }
  return std::nullopt;
}

// Writing.
void BeginSection(pn_data_t* d, uint64_t code) {
  pn_data_put_described(d);
  pn_data_enter(d);
  pn_data_put_ulong(d, code);
}

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

void PutText(pn_data_t* d, const std::optional<std::string>& s) {
  if (s) {
    pn_data_put_string(d, Bytes(*s));
  } else {
    pn_data_put_null(d);
  }
}

void PutSymbol(pn_data_t* d, const std::optional<std::string>& s) {
  if (s) {
    pn_data_put_symbol(d, Bytes(*s));
  } else {
    pn_data_put_null(d);
  }
}

pn_data_t* Fresh() {
  thread_local DataPtr data(pn_data(16), &pn_data_free);
  pn_data_clear(data.get());
  return data.get();
}

void PutData(pn_data_t* d, std::string_view body) {
  BeginSection(d, kData);
  pn_data_put_binary(d, Bytes(body));
  pn_data_exit(d);
}

std::string Encode(pn_data_t* d, size_t hint) {
  std::string out(hint + 512, '\0');
  for (;;) {
    ssize_t n = pn_data_encode(d, out.data(), out.size());
    if (n >= 0) {
      out.resize(static_cast<size_t>(n));
      return out;
    }
    if (n != PN_OVERFLOW) return {};  // cannot happen for what we put
    out.resize(out.size() * 2);
  }
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
  thread_local DataPtr data(pn_data(16), &pn_data_free);
  pn_data_t* d = data.get();
  DeviceMessage m;
  Reader r{d};
  bool body_seen = false;
  while (!bytes.empty()) {
    pn_data_clear(d);
    const ssize_t used = pn_data_decode(d, bytes.data(), bytes.size());
    if (used <= 0) return Status::FormatError("The message is not AMQP 1.0 encoded");
    bytes.remove_prefix(static_cast<size_t>(used));
    pn_data_rewind(d);
    if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED) {
      return Status::FormatError("A message section must be a described value");
    }
    pn_data_enter(d);
    if (!pn_data_next(d)) return Status::FormatError("A message section has no descriptor");
    const auto code = SectionCode(d);
    if (!code) return Status::FormatError("Unknown message section");
    if (!pn_data_next(d)) return Status::FormatError("A message section has no value");
    switch (*code) {
      case kMessageAnnotations: r.Map(m.annotations); break;
      case kProperties: r.PropertiesList(m); break;
      case kApplicationProperties: r.Map(m.application_properties); break;
      case kData:
        if (pn_data_type(d) != PN_BINARY) return Status::FormatError("A data section must hold binary");
        m.body.append(View(pn_data_get_binary(d)));
        body_seen = true;
        break;
      case kAmqpValue:
        // Only a text or binary value is a body IoT Hub can store.
        if (body_seen) break;
        if (pn_data_type(d) == PN_BINARY) m.body = std::string(View(pn_data_get_binary(d)));
        if (pn_data_type(d) == PN_STRING) m.body = r.Checked(View(pn_data_get_string(d)));
        body_seen = true;
        break;
      default: break;  // header, delivery annotations, footer: nothing the hub keeps
    }
    pn_data_exit(d);
  }
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
  pn_data_t* d = Fresh();
  // header: durable, priority, ttl, first-acquirer, delivery-count (earlier deliveries)
  BeginSection(d, kHeader);
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
  BeginSection(d, kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  PutText(d, p.message_id);
  if (p.user_id) {
    pn_data_put_binary(d, Bytes(*p.user_id));
  } else {
    pn_data_put_null(d);
  }
  PutText(d, "/devices/" + c.device_id + "/messages/devicebound");  // to
  pn_data_put_null(d);                                               // subject
  pn_data_put_null(d);                                               // reply-to
  PutText(d, p.correlation_id);
  PutSymbol(d, p.content_type);
  PutSymbol(d, p.content_encoding);
  if (c.expiry_time != TimePoint{}) {
    pn_data_put_timestamp(d, std::clamp<int64_t>(Millis(c.expiry_time), 0, kLatestMillis));
  } else {
    pn_data_put_null(d);
  }
  pn_data_put_timestamp(d, std::clamp<int64_t>(Millis(c.enqueued_time), 0, kLatestMillis));  // creation-time
  pn_data_exit(d);
  pn_data_exit(d);

  if (!c.application_properties.empty() || c.ack != "none") {
    BeginSection(d, kApplicationProperties);
    pn_data_put_map(d);
    pn_data_enter(d);
    for (const auto& [name, value] : c.application_properties) {
      pn_data_put_string(d, Bytes(name));
      pn_data_put_string(d, Bytes(value));
    }
    if (c.ack != "none") {
      pn_data_put_string(d, Bytes("iothub-ack"));
      pn_data_put_string(d, Bytes(c.ack));
    }
    pn_data_exit(d);
    pn_data_exit(d);
  }
  PutData(d, c.body);
  return Encode(d, c.body.size());
}

std::string EncodeMethodRequest(std::string_view method_name, std::string_view request_id,
                                std::string_view payload_json) {
  pn_data_t* d = Fresh();
  BeginSection(d, kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  for (int i = 0; i < 5; ++i) pn_data_put_null(d);  // message-id, user-id, to, subject, reply-to
  pn_data_put_string(d, Bytes(request_id));         // correlation-id
  pn_data_exit(d);
  pn_data_exit(d);

  BeginSection(d, kApplicationProperties);
  pn_data_put_map(d);
  pn_data_enter(d);
  pn_data_put_string(d, Bytes("IoThub-methodname"));
  pn_data_put_string(d, Bytes(method_name));
  pn_data_exit(d);
  pn_data_exit(d);
  PutData(d, payload_json);
  return Encode(d, payload_json.size());
}

std::string EncodeTwinAnswer(const std::optional<AmqpId>& correlation_id, int status, std::optional<int64_t> version,
                             std::string_view body) {
  pn_data_t* d = Fresh();
  BeginSection(d, kMessageAnnotations);
  pn_data_put_map(d);
  pn_data_enter(d);
  pn_data_put_symbol(d, Bytes("status"));
  pn_data_put_int(d, status);
  if (version) {
    pn_data_put_symbol(d, Bytes("version"));
    pn_data_put_long(d, *version);
  }
  pn_data_exit(d);
  pn_data_exit(d);

  BeginSection(d, kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  for (int i = 0; i < 5; ++i) pn_data_put_null(d);
  PutId(d, correlation_id);
  pn_data_exit(d);
  pn_data_exit(d);
  PutData(d, body);
  return Encode(d, body.size());
}

std::string EncodeDesiredPatch(int64_t version, std::string_view patch_json) {
  pn_data_t* d = Fresh();
  BeginSection(d, kMessageAnnotations);
  pn_data_put_map(d);
  pn_data_enter(d);
  pn_data_put_symbol(d, Bytes("version"));
  pn_data_put_long(d, version);
  pn_data_exit(d);
  pn_data_exit(d);
  PutData(d, patch_json);
  return Encode(d, patch_json.size());
}

}  // namespace iothub::amqp
