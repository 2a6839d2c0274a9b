#include "amqp/event_message.h"

#include <proton/codec.h>

#include <chrono>

#include "amqp/amqp_message.h"

namespace iothub::amqp {

// Proton's C codec straight onto one pn_data_t: the C++ proton::message took ~70 µs an event
// (bench/README.md, amqp-bench), which a reader catching up pays for every stored event.
std::string EncodeEventMessage(const Event& e) {
  pn_data_t* d = FreshData();

  BeginSection(d, section::kMessageAnnotations);
  pn_data_put_map(d);
  pn_data_enter(d);
  PutEntries(d, e.annotations, /*symbol_keys=*/true);
  pn_data_put_symbol(d, Bytes("iothub-enqueuedtime"));
  pn_data_put_timestamp(d, Millis(e.enqueued_time));
  pn_data_put_symbol(d, Bytes("x-opt-sequence-number"));
  pn_data_put_long(d, e.sequence_number);
  const std::string offset = std::to_string(e.offset);  // a string, as Event Hubs sends it
  pn_data_put_symbol(d, Bytes("x-opt-offset"));
  pn_data_put_string(d, Bytes(offset));
  pn_data_put_symbol(d, Bytes("x-opt-enqueued-time"));
  pn_data_put_timestamp(d, Millis(e.enqueued_time));
  pn_data_exit(d);
  pn_data_exit(d);

  const SystemProperties& p = e.properties;
  if (p.message_id || p.correlation_id || p.user_id || p.content_type || p.content_encoding) {
    // message-id, user-id, to, subject, reply-to, correlation-id, content-type, content-encoding
    BeginSection(d, section::kProperties);
    pn_data_put_list(d);
    pn_data_enter(d);
    PutPropertiesHead(d, p, std::nullopt);
    pn_data_exit(d);
    pn_data_exit(d);
  }

  if (!e.application_properties.empty()) {
    BeginSection(d, section::kApplicationProperties);
    pn_data_put_map(d);
    pn_data_enter(d);
    PutEntries(d, e.application_properties);
    pn_data_exit(d);
    pn_data_exit(d);
  }

  PutDataSection(d, e.body);
  return EncodeData(d, e.body.size());  // empty if it cannot be: the event is then dropped
}

}  // namespace iothub::amqp
