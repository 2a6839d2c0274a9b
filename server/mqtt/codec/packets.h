// MQTT 3.1.1 control packets, as plain values (OASIS MQTT 3.1.1, section 3).
// Only what IoT Hub uses: QoS 0 and 1, no PUBREC/PUBREL/PUBCOMP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace iothub::mqtt {

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

// CONNACK return codes (3.2.2.3).
enum class ConnectReturnCode : uint8_t {
  kAccepted = 0,
  kUnacceptableProtocolVersion = 1,
  kIdentifierRejected = 2,
  kServerUnavailable = 3,
  kBadUserNameOrPassword = 4,
  kNotAuthorized = 5,
};

inline constexpr uint8_t kSubackFailure = 0x80;

struct Will {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
};

struct Connect {
  std::string protocol_name = "MQTT";
  uint8_t protocol_level = 4;
  bool clean_session = true;
  uint16_t keep_alive_seconds = 0;
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary data
};

struct Connack {
  bool session_present = false;
  ConnectReturnCode return_code = ConnectReturnCode::kAccepted;
};

struct Publish {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;  // QoS 1 only
};

struct Puback {
  uint16_t packet_id = 0;
};

struct Subscribe {
  uint16_t packet_id = 0;
  std::vector<std::pair<std::string, uint8_t>> filters;  // topic filter, requested QoS
};

struct Suback {
  uint16_t packet_id = 0;
  std::vector<uint8_t> return_codes;  // granted QoS or kSubackFailure
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string> filters;
};

struct Unsuback {
  uint16_t packet_id = 0;
};

struct Pingreq {};
struct Pingresp {};
struct Disconnect {};

using Packet = std::variant<Connect, Connack, Publish, Puback, Subscribe, Suback, Unsubscribe, Unsuback, Pingreq,
                            Pingresp, Disconnect>;

}  // namespace iothub::mqtt
