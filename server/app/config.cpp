#include "app/config.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/consumer_groups.h"
#include "core/json_parse.h"

namespace iothub::app {
namespace {

constexpr const char* kDescription =
    "IoT Hub Emulator: a local, offline Azure IoT Hub.\n"
    "Every option can also be set by the environment variable shown with it, or in the JSON file given\n"
    "by --config (keys are the option names without dashes, e.g. {\"hub-name\": \"myhub\", \"https-port\": 8443}).\n"
    "Precedence: command line, then environment, then config file, then defaults.";

std::string EnvName(const std::string& long_name) {
  std::string env = "IOTHUB_EMULATOR_";
  for (char c : long_name) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

// Feeds the JSON config file into every option the command line and the
// environment left unset.
void ApplyConfigFile(CLI::App& app, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CLI::FileError("cannot read config file " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json file = ParseJson(text).value;
  if (file.is_discarded() || !file.is_object()) throw CLI::FileError(path + " is not a JSON object");
  for (auto& [key, value] : file.items()) {
    CLI::Option* opt = nullptr;
    try {
      opt = app.get_option("--" + key);
    } catch (const CLI::OptionNotFound&) {
      throw CLI::ValidationError(path, "unknown setting '" + key + "'");
    }
    if (opt->count() > 0 || key == "config") continue;
    auto as_text = [&](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    if (value.is_array()) {
      for (const auto& v : value) opt->add_result(as_text(v));
    } else {
      opt->add_result(as_text(value));
    }
    opt->run_callback();
  }
}

}  // namespace

std::vector<std::string> Config::AcceptedHostNames() const {
  std::vector<std::string> names = host_names;
  for (std::string n : {std::string("localhost"), std::string("127.0.0.1"), std::string("::1"),
                        hub_name + ".azure-devices.net"}) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  return names;
}

std::string Config::AdvertisedHostName() const { return host_names.empty() ? "localhost" : host_names.front(); }

std::variant<Config, int> LoadConfig(int argc, const char* const* argv) {
  Config c;
  CLI::App app(kDescription, "iothub-emulator");
  app.get_formatter()->column_width(34);
  std::string config_file;
  std::map<std::string, std::string> keys;

  auto add = [&](CLI::Option* opt) { opt->envname(EnvName(opt->get_single_name())); };
  add(app.add_option("--config", config_file, "JSON file with settings")->check(CLI::ExistingFile));
  add(app.add_option("--hub-name", c.hub_name, "Hub name; {hub}.azure-devices.net is accepted as a host")
          ->capture_default_str());
  add(app.add_option("--host-name", c.host_names,
                     "Extra host name clients use (repeatable; the first is printed in connection strings). "
                     "localhost, 127.0.0.1 and ::1 are always accepted")
          ->delimiter(','));
  add(app.add_option("--data-dir", c.data_dir, "Where the database and TLS certificates live")->capture_default_str());
  add(app.add_flag("--in-memory", c.in_memory,
                   "Keep everything in memory and write no files (for tests); pair with --tls-cert/--tls-key"));
  add(app.add_option("--https-bind", c.https_bind, "Address of the HTTPS listener")->capture_default_str());
  CLI::Option* https_port = app.add_option("--https-port", c.https_port,
                                           "HTTPS port (REST API); the SDKs always use 443. If 443 is the "
                                           "default and cannot be bound, 8443 is used with a warning")
                                ->check(CLI::Range(1, 65535))
                                ->capture_default_str();
  add(https_port);
  add(app.add_option("--http-threads", c.http_threads,
                     "Threads running REST handlers (registry, twins: database work); connections, event "
                     "streams and waiting method calls hold none")
          ->check(CLI::Range(1, 256))
          ->capture_default_str());
  add(app.add_option("--https-max-connections", c.https_max_connections,
                     "HTTPS connections open at once; more wait to be accepted (WebSocket devices are not counted)")
          ->check(CLI::Range(1, 1000000))
          ->capture_default_str());
  add(app.add_option("--max-event-streams", c.max_event_streams,
                     "Event streams (/emulator/events/stream) open at once; more are refused with 503")
          ->check(CLI::Range(1, 100000))
          ->capture_default_str());
  add(app.add_option("--mqtt-bind", c.mqtt_bind, "Address of the MQTT-over-TLS listener")->capture_default_str());
  add(app.add_option("--mqtt-port", c.mqtt_port, "MQTT over TLS port (devices)")->check(CLI::Range(1, 65535))
          ->capture_default_str());
  add(app.add_option("--mqtt-plain-port", c.mqtt_plain_port,
                     "Plain-TCP MQTT port for debugging with any MQTT tool (0 = off; IoT Hub itself has none)")
          ->check(CLI::Range(0, 65535))
          ->capture_default_str());
  add(app.add_option("--mqtt-plain-bind", c.mqtt_plain_bind, "Address of the plain-TCP MQTT listener")
          ->capture_default_str());
  add(app.add_option("--amqp-bind", c.amqp_bind, "Address of the AMQP listeners")->capture_default_str());
  add(app.add_option("--amqp-port", c.amqp_port,
                     "AMQP over TLS port: the Event Hub-compatible endpoint (back ends reading telemetry)")
          ->check(CLI::Range(1, 65535))
          ->capture_default_str());
  add(app.add_option("--amqp-plain-port", c.amqp_plain_port,
                     "Plain AMQP port, for Event Hubs connection strings with UseDevelopmentEmulator=true (0 = off)")
          ->check(CLI::Range(0, 65535))
          ->capture_default_str());
  add(app.add_option("--consumer-group", c.consumer_groups,
                     "A consumer group of the Event Hub-compatible endpoint besides $Default (repeatable, or "
                     "comma-separated; in the config file a list). More can be made with `iothub consumer-group`")
          ->delimiter(',')
          ->check(CLI::Validator(
              [](std::string& name) {
                Status s = ValidateConsumerGroupName(name);
                return s.ok() ? std::string() : s.message();
              },
              "NAME")));
  add(app.add_option("--io-threads,--mqtt-threads", c.io_threads,
                     "Threads of the event loop serving every connection (MQTT, HTTPS, WebSocket)")
          ->check(CLI::Range(1, 64))
          ->capture_default_str());
  add(app.add_option("--mqtt-max-pending", c.mqtt_max_pending,
                     "MQTT connections that may be waiting to sign in at once; more are closed at once")
          ->check(CLI::Range(1, 100000))
          ->capture_default_str());
  add(app.add_option("--partitions", c.partitions,
                     "Partitions of the event log (fixed when the log is created)")
          ->check(CLI::Range(1, 32))
          ->capture_default_str());
  add(app.add_option("--retention-hours", c.retention_hours, "How long device-to-cloud events are kept")
          ->check(CLI::PositiveNumber)
          ->capture_default_str());
  add(app.add_option("--tls-cert", c.tls_cert, "Your own server certificate (PEM, may hold a chain)")
          ->check(CLI::ExistingFile));
  add(app.add_option("--tls-key", c.tls_key, "Its private key (PEM)")->check(CLI::ExistingFile));
  for (const char* policy : {"iothubowner", "service", "device", "registryRead", "registryReadWrite"}) {
    std::string flag;
    for (const char* p = policy; *p; ++p) {
      if (std::isupper(static_cast<unsigned char>(*p))) flag += '-';
      flag += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
    }
    add(app.add_option_function<std::string>(
        "--" + flag + "-key", [&keys, policy](const std::string& key) { keys[policy] = key; },
        std::string("Primary key of the '") + policy + "' policy (base64)"));
  }
  add(app.add_option("--seed", c.seed_file,
                     "JSON file of devices (REST Device form) to create, or update to match, at start")
          ->check(CLI::ExistingFile));
  add(app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error or off")
          ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
          ->capture_default_str());
  add(app.add_flag("--generate-certs", c.generate_certs_only,
                   "Create (or renew) the development CA and server certificate in the data directory, print "
                   "their paths and exit"));

  try {
    app.parse(argc, argv);
    if (!config_file.empty()) ApplyConfigFile(app, config_file);
    if (c.tls_cert.empty() != c.tls_key.empty()) {
      throw CLI::ValidationError("--tls-cert/--tls-key", "give both or neither");
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  c.https_port_explicit = https_port->count() > 0;
  c.policy_keys = keys;
  return c;
}

}  // namespace iothub::app
