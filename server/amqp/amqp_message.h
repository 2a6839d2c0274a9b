// An AMQP 1.0 message (AMQP 1.0 §3.2) read with Proton's C codec into its sections, every
// value kept with its AMQP type, for the decoders of the messages on particular links
// (device_message.h, service_message.h) to map and judge; and the writing helpers the
// encoders of those messages share.
#pragma once

#include <proton/codec.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.h"

namespace iothub::amqp {

// The sections of a message, by their descriptor codes.
namespace section {
inline constexpr uint64_t kHeader = 0x70;
inline constexpr uint64_t kDeliveryAnnotations = 0x71;
inline constexpr uint64_t kMessageAnnotations = 0x72;
inline constexpr uint64_t kProperties = 0x73;
inline constexpr uint64_t kApplicationProperties = 0x74;
inline constexpr uint64_t kData = 0x75;
inline constexpr uint64_t kAmqpSequence = 0x76;
inline constexpr uint64_t kAmqpValue = 0x77;
inline constexpr uint64_t kFooter = 0x78;
}  // namespace section

// The latest timestamp turned into a time (2200-01-01): beyond it a nanosecond clock overflows.
inline constexpr int64_t kLatestMillis = 7'258'118'400'000;

// One value as it came: its type and, for a scalar, its value.
struct AmqpValue {
  enum class Type { kNull, kBool, kUlong, kInteger, kFloat, kDouble, kTimestamp, kUuid, kString, kSymbol, kBinary, kOther };
  Type type = Type::kNull;  // kOther: a list, map, array, described value or decimal
  // The bytes of a string, symbol or binary; a uuid as 8-4-4-4-12 lower-case hex; "true"/"false"; an integer in decimal.
  std::string text;
  double number = 0;   // a float or double
  int64_t millis = 0;  // a timestamp: milliseconds since the epoch
  bool IsBytes() const { return type == Type::kString || type == Type::kSymbol || type == Type::kBinary; }
};

using AmqpEntries = std::vector<std::pair<AmqpValue, AmqpValue>>;

// A message's sections as decoded; what a decoder of particular messages makes of them is its own.
struct AmqpMessage {
  // The properties section (its last, if more than one); a field absent or null is kNull.
  AmqpValue message_id, user_id, to, correlation_id, content_type, content_encoding, absolute_expiry_time,
      creation_time;
  bool properties_not_list = false;  // a properties section that is not a list (its fields then left null)
  // The message-annotations and application-properties maps' entries, in order, keys and values as they came.
  AmqpEntries annotations;
  AmqpEntries application_properties;
  bool application_properties_not_map = false;
  // The body: the data sections concatenated, or the first amqp-value when it is a string or binary.
  std::string body;
  bool has_body = false;                                 // a data or amqp-value section came
  AmqpValue value_body;        // the first amqp-value as it came, when it came first (else kNull)
  bool extra_value = false;    // an amqp-value after the body (left out)
  bool sequence_body = false;  // an amqp-sequence section (left out)
  bool unknown_code = false;  // a section described by a code that is none of AMQP's (left out)
};

// Why bytes are not an AMQP message at all.
enum class AmqpFault {
  kNone,
  kNotEncoded,      // not AMQP-encoded values
  kNotDescribed,    // a section that is not a described value
  kNoDescriptor,    // a described value without its descriptor
  kUnknownSection,  // a section described by a symbol that names none of AMQP's
  kNoValue,         // a described value without its value
  kDataNotBinary,   // a data section not holding binary
};

// Decodes the sections of `bytes` into `message`; kNone when they are a message's sections.
AmqpFault DecodeAmqpMessage(std::string_view bytes, AmqpMessage& message);

// Writing with Proton's C codec.
inline std::string_view View(pn_bytes_t b) { return {b.start, b.size}; }
inline pn_bytes_t Bytes(std::string_view s) { return pn_bytes(s.size(), s.data()); }
// A time as an AMQP timestamp: milliseconds since the epoch.
inline int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
// A cleared pn_data_t of this thread's, to encode one message into.
pn_data_t* FreshData();
// Opens a section: a described value with the code put; pn_data_exit(d) closes it after its value.
void BeginSection(pn_data_t* d, uint64_t code);
// The value, or null when there is none.
void PutOptionalString(pn_data_t* d, const std::optional<std::string>& s);
void PutOptionalSymbol(pn_data_t* d, const std::optional<std::string>& s);
void PutOptionalBinary(pn_data_t* d, const std::optional<std::string>& s);
// In an open properties list: message-id, user-id (binary), to, subject and reply-to (null),
// correlation-id, content-type and content-encoding (symbols).
void PutPropertiesHead(pn_data_t* d, const SystemProperties& p, const std::optional<std::string>& to);
// In an open map: the entries, string keys (or symbol keys) to string values.
void PutEntries(pn_data_t* d, const Properties& entries, bool symbol_keys = false);
// A data section holding `body`.
void PutDataSection(pn_data_t* d, std::string_view body);
// The encoded bytes of what was put in `d` (empty if it cannot be encoded).
std::string EncodeData(pn_data_t* d, size_t size_hint);

}  // namespace iothub::amqp
