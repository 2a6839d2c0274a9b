// The server's configuration: flags, then IOTHUB_EMULATOR_* environment
// variables, then an optional JSON file, then defaults (first one wins).
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

namespace iothub::app {

struct Config {
  std::string hub_name = "emulator";
  std::vector<std::string> host_names;  // besides localhost, 127.0.0.1, ::1 and {hub}.azure-devices.net
  std::string data_dir = "./data";
  bool in_memory = false;
  std::string https_bind = "0.0.0.0";
  int https_port = 443;
  bool https_port_explicit = false;  // set by the user: no fallback when it cannot be bound
  int http_threads = 4;             // run REST handlers; connections hold none
  int https_max_connections = 10000;
  int max_event_streams = 64;
  std::string mqtt_bind = "0.0.0.0";
  int mqtt_port = 8883;
  std::string mqtt_plain_bind = "127.0.0.1";
  int mqtt_plain_port = 0;  // 0: off
  std::string amqp_bind = "0.0.0.0";
  int amqp_port = 5671;        // AMQP over TLS (the Event Hub-compatible endpoint, service and devices)
  int amqp_plain_port = 5672;  // plain AMQP, as `UseDevelopmentEmulator=true` connection strings use; 0: off
  std::vector<std::string> consumer_groups;  // besides $Default
  int io_threads = 2;  // the event loop's: every listener and connection
  int mqtt_max_pending = 256;  // connections not yet signed in
  int partitions = 4;
  double retention_hours = 24;
  std::string tls_cert, tls_key;
  std::map<std::string, std::string> policy_keys;  // policy name -> primary key override
  std::string log_level = "info";
  bool generate_certs_only = false;
  std::string seed_file;  // devices to create at start

  // Every name a SAS token's host may carry; the first is the one to advertise.
  std::vector<std::string> AcceptedHostNames() const;
  std::string AdvertisedHostName() const;
};

// A Config to run with, or the exit code when there is nothing to run
// (--help printed, or an error explained on stderr).
std::variant<Config, int> LoadConfig(int argc, const char* const* argv);

}  // namespace iothub::app
