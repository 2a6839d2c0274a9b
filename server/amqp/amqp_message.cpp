#include "amqp/amqp_message.h"

#include <charconv>
#include <memory>

namespace iothub::amqp {
namespace {

using DataPtr = std::unique_ptr<pn_data_t, decltype(&pn_data_free)>;

// Sections may also be described by name.
constexpr std::pair<std::string_view, uint64_t> kSectionNames[] = {
    {"amqp:header:list", section::kHeader},
    {"amqp:delivery-annotations:map", section::kDeliveryAnnotations},
    {"amqp:message-annotations:map", section::kMessageAnnotations},
    {"amqp:properties:list", section::kProperties},
    {"amqp:application-properties:map", section::kApplicationProperties},
    {"amqp:data:binary", section::kData},
    {"amqp:amqp-sequence:list", section::kAmqpSequence},
    {"amqp:amqp-value:*", section::kAmqpValue},
    {"amqp:footer:map", section::kFooter}};

template <typename T>
std::string Decimal(T n) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
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

// The current value.
AmqpValue Value(pn_data_t* d) {
  using T = AmqpValue::Type;
  auto of = [](T type, std::string text) { return AmqpValue{type, std::move(text)}; };
  switch (pn_data_type(d)) {
    case PN_NULL: return {};
    case PN_STRING: return of(T::kString, std::string(View(pn_data_get_string(d))));
    case PN_SYMBOL: return of(T::kSymbol, std::string(View(pn_data_get_symbol(d))));
    case PN_BINARY: return of(T::kBinary, std::string(View(pn_data_get_binary(d))));
    case PN_BOOL: return of(T::kBool, pn_data_get_bool(d) ? "true" : "false");
    case PN_UBYTE: return of(T::kInteger, Decimal(unsigned{pn_data_get_ubyte(d)}));
    case PN_BYTE: return of(T::kInteger, Decimal(int{pn_data_get_byte(d)}));
    case PN_USHORT: return of(T::kInteger, Decimal(unsigned{pn_data_get_ushort(d)}));
    case PN_SHORT: return of(T::kInteger, Decimal(int{pn_data_get_short(d)}));
    case PN_UINT: return of(T::kInteger, Decimal(pn_data_get_uint(d)));
    case PN_INT: return of(T::kInteger, Decimal(pn_data_get_int(d)));
    case PN_ULONG: return of(T::kUlong, Decimal(pn_data_get_ulong(d)));
    case PN_LONG: return of(T::kInteger, Decimal(pn_data_get_long(d)));
    case PN_FLOAT: return AmqpValue{T::kFloat, {}, pn_data_get_float(d)};
    case PN_DOUBLE: return AmqpValue{T::kDouble, {}, pn_data_get_double(d)};
    case PN_TIMESTAMP: return AmqpValue{T::kTimestamp, {}, 0, pn_data_get_timestamp(d)};
    case PN_UUID: return of(T::kUuid, UuidText(pn_data_get_uuid(d)));
    default: return of(T::kOther, {});
  }
}

void ReadMap(pn_data_t* d, AmqpEntries& out) {
  const size_t entries = pn_data_get_map(d) / 2;
  pn_data_enter(d);
  for (size_t i = 0; i < entries; ++i) {
    if (!pn_data_next(d)) break;
    AmqpValue key = Value(d);
    if (!pn_data_next(d)) break;
    out.emplace_back(std::move(key), Value(d));
  }
  pn_data_exit(d);
}

void ReadProperties(pn_data_t* d, AmqpMessage& m) {
  // message-id, user-id, to, subject, reply-to, correlation-id, content-type, content-encoding,
  // absolute-expiry-time, creation-time, group-id, group-sequence, reply-to-group-id
  AmqpValue* const fields[] = {&m.message_id,       &m.user_id,          &m.to, nullptr, nullptr, &m.correlation_id,
                               &m.content_type,     &m.content_encoding, &m.absolute_expiry_time, &m.creation_time};
  const size_t count = pn_data_get_list(d);
  pn_data_enter(d);
  for (size_t i = 0; i < count && i < std::size(fields) && pn_data_next(d); ++i) {
    if (fields[i]) *fields[i] = Value(d);
  }
  pn_data_exit(d);
}

}  // namespace

AmqpFault DecodeAmqpMessage(std::string_view bytes, AmqpMessage& m) {
  thread_local DataPtr data(pn_data(16), &pn_data_free);
  pn_data_t* d = data.get();
  while (!bytes.empty()) {
    pn_data_clear(d);
    const ssize_t used = pn_data_decode(d, bytes.data(), bytes.size());
    if (used <= 0) return AmqpFault::kNotEncoded;
    bytes.remove_prefix(static_cast<size_t>(used));
    pn_data_rewind(d);
    if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED) return AmqpFault::kNotDescribed;
    pn_data_enter(d);
    if (!pn_data_next(d)) return AmqpFault::kNoDescriptor;
    uint64_t code = 0;
    if (pn_data_type(d) == PN_ULONG) {
      code = pn_data_get_ulong(d);
    } else if (pn_data_type(d) == PN_SYMBOL) {
      for (const auto& [name, named] : kSectionNames) {
        if (View(pn_data_get_symbol(d)) == name) code = named;
      }
      if (code == 0) return AmqpFault::kUnknownSection;
    } else {
      return AmqpFault::kUnknownSection;
    }
    if (!pn_data_next(d)) return AmqpFault::kNoValue;
    const pn_type_t type = pn_data_type(d);
    switch (code) {
      case section::kHeader:
      case section::kDeliveryAnnotations:
      case section::kFooter: break;  // nothing a decoder keeps
      case section::kMessageAnnotations:
        if (type == PN_MAP) ReadMap(d, m.annotations);
        break;
      case section::kProperties:
        if (type == PN_LIST) ReadProperties(d, m);
        else m.properties_not_list = true;
        break;
      case section::kApplicationProperties:
        if (type == PN_MAP) ReadMap(d, m.application_properties);
        else m.application_properties_not_map = true;
        break;
      case section::kData:
        if (type != PN_BINARY) return AmqpFault::kDataNotBinary;
        m.body.append(View(pn_data_get_binary(d)));
        m.has_body = true;
        break;
      case section::kAmqpValue:
        if (m.has_body) {
          m.extra_value = true;
          break;
        }
        m.value_body = Value(d);
        if (type == PN_BINARY) m.body = View(pn_data_get_binary(d));
        if (type == PN_STRING) m.body = View(pn_data_get_string(d));
        m.has_body = true;
        break;
      case section::kAmqpSequence: m.sequence_body = true; break;
      default: m.unknown_code = true; break;
    }
    pn_data_exit(d);
  }
  return AmqpFault::kNone;
}

pn_data_t* FreshData() {
  thread_local DataPtr data(pn_data(16), &pn_data_free);
  pn_data_clear(data.get());
  return data.get();
}

void BeginSection(pn_data_t* d, uint64_t code) {
  pn_data_put_described(d);
  pn_data_enter(d);
  pn_data_put_ulong(d, code);
}

void PutOptionalString(pn_data_t* d, const std::optional<std::string>& s) {
  s ? (void)pn_data_put_string(d, Bytes(*s)) : (void)pn_data_put_null(d);
}

void PutOptionalSymbol(pn_data_t* d, const std::optional<std::string>& s) {
  s ? (void)pn_data_put_symbol(d, Bytes(*s)) : (void)pn_data_put_null(d);
}

void PutOptionalBinary(pn_data_t* d, const std::optional<std::string>& s) {
  s ? (void)pn_data_put_binary(d, Bytes(*s)) : (void)pn_data_put_null(d);
}

void PutPropertiesHead(pn_data_t* d, const SystemProperties& p, const std::optional<std::string>& to) {
  PutOptionalString(d, p.message_id);
  PutOptionalBinary(d, p.user_id);
  PutOptionalString(d, to);
  pn_data_put_null(d);  // subject
  pn_data_put_null(d);  // reply-to
  PutOptionalString(d, p.correlation_id);
  PutOptionalSymbol(d, p.content_type);
  PutOptionalSymbol(d, p.content_encoding);
}

void PutEntries(pn_data_t* d, const Properties& entries, bool symbol_keys) {
  for (const auto& [name, value] : entries) {
    symbol_keys ? (void)pn_data_put_symbol(d, Bytes(name)) : (void)pn_data_put_string(d, Bytes(name));
    pn_data_put_string(d, Bytes(value));
  }
}

void PutDataSection(pn_data_t* d, std::string_view body) {
  BeginSection(d, section::kData);
  pn_data_put_binary(d, Bytes(body));
  pn_data_exit(d);
}

std::string EncodeData(pn_data_t* d, size_t size_hint) {
  std::string out(size_hint + 512, '\0');
  for (;;) {
    const ssize_t n = pn_data_encode(d, out.data(), out.size());
    if (n >= 0) {
      out.resize(static_cast<size_t>(n));
      return out;
    }
    if (n != PN_OVERFLOW) return {};  // cannot happen for what the encoders put
    out.resize(out.size() * 2);
  }
}

}  // namespace iothub::amqp
