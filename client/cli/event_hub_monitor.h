// `iothub monitor --amqp`: reads device-to-cloud events the way back ends do, from the hub's
// Event Hub-compatible endpoint over AMQP (Qpid Proton's client). It signs in to the hub's
// AMQP port with SASL PLAIN as `{policy}@sas.root.{hub}`, opens IoT Hub's events address,
// follows the redirect to the entity (as the Azure samples' endpoint lookup does), asks
// $management for the partitions and reads each one. Events are handed over in the same
// JSON shape as the emulator's event stream, so that the monitor prints them alike.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace iothub::cli {

struct EventHubMonitorOptions {
  std::string host;
  int port = 5671;
  bool tls = true;           // false: plain AMQP (the emulator's 5672)
  std::string ca_file;       // the emulator's CA, for TLS
  std::string policy;        // a policy with ServiceConnect, and its key
  std::string key;
  std::string consumer_group = "$Default";
  std::string from = "latest";  // earliest, latest, a sequence number or an ISO 8601 time
  std::optional<int> partition;
  std::string device_id;     // only this device's events, when set
  int timeout_seconds = 0;   // 0: until on_event says stop
};

// Returns when on_event returns false, the timeout passes, `interrupted` says so, or the
// hub refuses (then it throws CliError with the hub's reason).
void MonitorEventHub(const EventHubMonitorOptions& options,
                     const std::function<bool(const nlohmann::json&)>& on_event,
                     const std::function<bool()>& interrupted);

}  // namespace iothub::cli
