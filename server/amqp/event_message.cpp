#include "amqp/event_message.h"

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/map.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/symbol.hpp>
#include <proton/timestamp.hpp>

#include <chrono>

namespace iothub::amqp {
namespace {

proton::timestamp Timestamp(TimePoint t) {
  return proton::timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

}  // namespace

std::string EncodeEventMessage(const Event& e) {
  proton::message m;
  // A binary body marked inferred goes out as a data section, which the SDKs read as bytes (and JSON-parse).
  m.body(proton::binary(e.body.begin(), e.body.end()));
  m.inferred(true);
  const SystemProperties& p = e.properties;
  if (p.message_id) m.id(proton::message_id(*p.message_id));
  if (p.correlation_id) m.correlation_id(proton::message_id(*p.correlation_id));
  if (p.user_id) m.user(*p.user_id);
  if (p.content_type) m.content_type(*p.content_type);
  if (p.content_encoding) m.content_encoding(*p.content_encoding);
  for (const auto& [name, value] : e.application_properties) m.properties().put(name, value);

  auto& annotations = m.message_annotations();
  for (const auto& [name, value] : e.annotations) annotations.put(proton::symbol(name), value);
  annotations.put(proton::symbol("iothub-enqueuedtime"), Timestamp(e.enqueued_time));
  annotations.put(proton::symbol("x-opt-sequence-number"), int64_t{e.sequence_number});
  annotations.put(proton::symbol("x-opt-offset"), std::to_string(e.offset));  // a string, as Event Hubs sends it
  annotations.put(proton::symbol("x-opt-enqueued-time"), Timestamp(e.enqueued_time));

  std::vector<char> bytes;
  m.encode(bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace iothub::amqp
