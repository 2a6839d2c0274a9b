// A stored event, whose body, properties and application properties are whatever a
// device sent (arbitrary bytes), on its way out: kept by the SQLite event store
// (properties as JSON text) and read back, then written by EventToJson as the
// read API and the Server-Sent Events stream do, with the stream's resume position
// (the SSE id) formatted and parsed back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/event.h"
#include "fuzz_check.h"
#include "http/event_json.h"
#include "http/event_stream.h"
#include "mqtt/codec/mqtt_codec.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_event_store.h"

namespace {

using namespace iothub;
using fuzz::Check;

constexpr int kPartitions = 4;

struct Store {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteEventStore events{db};
  Store() { events.CreatePartitions(kPartitions); }
};

Store& TheStore() {
  static Store* store = new Store;  // never destroyed: libFuzzer may exit from any thread
  return *store;
}

std::optional<std::string> MaybeString(FuzzedDataProvider& in) {
  if (!in.ConsumeBool()) return std::nullopt;
  return in.ConsumeRandomLengthString(64);
}

Properties SomePairs(FuzzedDataProvider& in) {
  Properties out;
  for (int n = in.ConsumeIntegralInRange(0, 4); n > 0; --n) {
    std::string key = in.ConsumeRandomLengthString(32);
    out.emplace_back(std::move(key), in.ConsumeRandomLengthString(64));
  }
  return out;
}

bool SameEvent(const Event& a, const Event& b) {
  auto props = [](const SystemProperties& p) {
    return std::tie(p.message_id, p.correlation_id, p.user_id, p.content_type, p.content_encoding,
                    p.absolute_expiry_time);
  };
  return a.body == b.body && props(a.properties) == props(b.properties) &&
         a.application_properties == b.application_properties && a.annotations == b.annotations &&
         a.partition == b.partition && a.sequence_number == b.sequence_number && a.offset == b.offset &&
         a.enqueued_time == b.enqueued_time;
}

bool AllUtf8(const Event& e) {
  for (const auto* v : {&e.properties.message_id, &e.properties.correlation_id, &e.properties.user_id,
                        &e.properties.content_type, &e.properties.content_encoding,
                        &e.properties.absolute_expiry_time}) {
    if (*v && !mqtt::IsValidMqttUtf8(**v)) return false;
  }
  for (const auto* pairs : {&e.application_properties, &e.annotations}) {
    for (const auto& [k, v] : *pairs) {
      if (!mqtt::IsValidMqttUtf8(k) || !mqtt::IsValidMqttUtf8(v)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Event e;
  e.properties.message_id = MaybeString(in);
  e.properties.correlation_id = MaybeString(in);
  e.properties.user_id = MaybeString(in);
  e.properties.content_type = in.ConsumeBool() ? std::optional<std::string>("application/json") : MaybeString(in);
  e.properties.content_encoding = MaybeString(in);
  e.properties.absolute_expiry_time = MaybeString(in);
  e.application_properties = SomePairs(in);
  e.annotations = SomePairs(in);
  e.annotations.emplace_back("iothub-connection-device-id", in.ConsumeRandomLengthString(16));
  e.partition = in.ConsumeIntegralInRange(0, kPartitions - 1);
  e.sequence_number = in.ConsumeIntegralInRange<int64_t>(0, int64_t{1} << 40);
  e.offset = in.ConsumeIntegralInRange<int64_t>(0, int64_t{1} << 40);
  // Microseconds between 1970 and 2100, as the store keeps them.
  e.enqueued_time = TimePoint(std::chrono::microseconds(in.ConsumeIntegralInRange<int64_t>(0, 4'102'444'800'000'000)));
  e.body = in.ConsumeRemainingBytesAsString();

  // The store keeps the event and reads it back as it was: for the properties the
  // front ends admit (UTF-8, as MQTT topics and JSON strings are; the body is bytes).
  if (AllUtf8(e)) {
    Store& store = TheStore();
    store.events.Append({&e}, {});
    EventQuery query;
    query.partition = e.partition;
    query.from_sequence_number = e.sequence_number;
    query.max_count = 1;
    auto read = store.events.Read(query);
    Check(read.size() == 1, "the stored event is read back");
    Check(SameEvent(read.front(), e), "the stored event reads back unchanged");
    store.db.Exec("DELETE FROM events");
  }

  // As the read API and the event stream write it, whatever bytes the properties hold.
  const std::string text = http::EventToJsonText(e);
  Check(text.find_first_of("\r\n") == std::string::npos, "an SSE data line holds the whole event");
  const nlohmann::json json = nlohmann::json::parse(text);  // and it is JSON, whatever bytes went in
  Check(text == http::EventToJson(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
        "the stream's text is the read API's document, byte for byte");
  const std::string encoding = json["bodyEncoding"];
  Check(encoding == "json" || encoding == "text" || encoding == "base64", "the body has a known encoding");

  http::StreamPosition position(kPartitions, 0);
  position[e.partition] = e.sequence_number + 1;
  const std::string id = http::FormatStreamPosition(position);
  auto parsed = http::ParseStreamPosition(id, kPartitions);
  Check(parsed && *parsed == position, "an SSE id parses back to its position");
  return 0;
}
