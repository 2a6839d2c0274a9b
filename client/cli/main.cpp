// iothub: the emulator's command-line tool. Its verbs mirror `az iot hub` where
// one exists: device identities, a simulated device, a monitor of the events
// devices send (Azure's get-started tutorial, offline), and consumer groups.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "core/json_parse.h"
#include "c2d_sender.h"
#include "event_hub_monitor.h"
#include "hub_api.h"
#include "iothub/device_client.h"

namespace iothub::cli {
namespace {

using nlohmann::json;

struct Globals {
  std::string hub_connection_string;
  std::string device_connection_string;
  std::string ca = "data/certs/ca.pem";
  int https_port = 443;
};

std::atomic<bool> g_interrupted{false};

HubApi Hub(const Globals& g) {
  if (g.hub_connection_string.empty()) {
    throw CliError(kUsage, "give the hub connection string with --login or IOTHUB_CONNECTION_STRING");
  }
  try {
    return HubApi(client::HubConnectionString::Parse(g.hub_connection_string), g.ca, g.https_port);
  } catch (const std::invalid_argument& e) {
    throw CliError(kUsage, e.what());
  }
}

std::string DevicePath(const std::string& id) {
  std::string out = "/devices/";
  for (unsigned char c : id) {
    if (std::isalnum(c) || std::string_view("-._~").find(c) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out + "?api-version=2021-04-12";
}

// What the tutorial's CreateDeviceIdentity prints, and a little more.
void PrintDevice(const json& d) {
  std::cout << "deviceId:                  " << d.value("deviceId", "") << "\n"
            << "primaryKey:                " << d["authentication"]["symmetricKey"].value("primaryKey", "") << "\n"
            << "secondaryKey:              " << d["authentication"]["symmetricKey"].value("secondaryKey", "") << "\n"
            << "connectionState:           " << d.value("connectionState", "") << "\n"
            << "status:                    " << d.value("status", "") << "\n"
            << "lastActivityTime:          " << d.value("lastActivityTime", "") << "\n"
            << "cloudToDeviceMessageCount: " << d.value("cloudToDeviceMessageCount", 0) << "\n"
            << "authMethod:                " << d["authentication"].value("type", "") << "\n";
}

std::string DeviceConnectionString(const HubApi& hub, const json& d) {
  return "HostName=" + hub.hub().host_name + ";DeviceId=" + d.value("deviceId", "") +
         ";SharedAccessKey=" + d["authentication"]["symmetricKey"].value("primaryKey", "");
}

void AddDeviceCommands(CLI::App& app, Globals& g) {
  auto* device = app.add_subcommand("device", "Device identities (az iot hub device-identity)")->require_subcommand(1);
  static std::string id, primary, secondary, status = "enabled";
  static bool as_json = false;

  auto* create = device->add_subcommand("create", "Create a device identity, with generated or given keys");
  create->add_option("device-id", id, "Device id")->required();
  create->add_option("--primary-key", primary, "Primary key (base64); generated when absent");
  create->add_option("--secondary-key", secondary, "Secondary key (base64)");
  create->add_option("--status", status, "enabled or disabled")->check(CLI::IsMember({"enabled", "disabled"}));
  create->add_flag("--json", as_json, "Print the Device JSON");
  create->callback([&g] {
    HubApi hub = Hub(g);
    json body = {{"deviceId", id}, {"status", status}};
    body["authentication"] = {{"type", "sas"}, {"symmetricKey", {{"primaryKey", primary}, {"secondaryKey", secondary}}}};
    json d = hub.Put(DevicePath(id), body);
    if (as_json) {
      std::cout << d.dump(2) << "\n";
    } else {
      PrintDevice(d);
      std::cout << "connectionString:          " << DeviceConnectionString(hub, d) << "\n";
    }
  });

  auto* show = device->add_subcommand("show", "Show a device identity");
  show->add_option("device-id", id, "Device id")->required();
  show->add_flag("--json", as_json, "Print the Device JSON");
  show->callback([&g] {
    json d = Hub(g).Get(DevicePath(id));
    if (as_json) {
      std::cout << d.dump(2) << "\n";
    } else {
      PrintDevice(d);
    }
  });

  auto* list = device->add_subcommand("list", "List device identities");
  list->add_flag("--json", as_json, "Print the Device JSON array");
  list->callback([&g] {
    json devices = Hub(g).Get("/devices?api-version=2021-04-12");
    if (as_json) {
      std::cout << devices.dump(2) << "\n";
      return;
    }
    for (const json& d : devices) {
      std::cout << d.value("deviceId", "") << "\t" << d.value("status", "") << "\t" << d.value("connectionState", "")
                << "\n";
    }
  });

  auto* remove = device->add_subcommand("delete", "Delete a device identity");
  remove->add_option("device-id", id, "Device id")->required();
  remove->callback([&g] {
    Hub(g).Delete(DevicePath(id));
    std::cout << "Deleted " << id << "\n";
  });

  auto* cs = device->add_subcommand("connection-string", "Print a device's connection string (primary key)");
  cs->add_option("device-id", id, "Device id")->required();
  cs->callback([&g] {
    HubApi hub = Hub(g);
    std::cout << DeviceConnectionString(hub, hub.Get(DevicePath(id))) << "\n";
  });
}

std::string EncodedId(const std::string& id) {
  std::string path = DevicePath(id);  // "/devices/<encoded>?api-version=..."
  return path.substr(9, path.find('?') - 9);
}

json ParseJsonArg(const std::string& text, const char* what) {
  ParsedJson value = ParseJson(text);
  if (!value.ok()) throw CliError(kUsage, std::string(what) + " is " + value.Describe() + ": " + text);
  return std::move(value.value);
}

// twin show / update, method invoke, c2d send / purge: the back end's side (az iot hub ...).
void AddServiceCommands(CLI::App& app, Globals& g) {
  static std::string id, desired, tags, method, payload = "null", body;
  static int timeout = 30, ttl = 0;
  static std::vector<std::string> properties;
  static std::string message_id, correlation_id;

  auto* twin = app.add_subcommand("twin", "Device twins (az iot hub device-twin)")->require_subcommand(1);
  auto* show = twin->add_subcommand("show", "Print a device's twin");
  show->add_option("device-id", id, "Device id")->required();
  show->callback([&g] { std::cout << Hub(g).Get("/twins/" + EncodedId(id) + "?api-version=2021-04-12").dump(2) << "\n"; });
  auto* update = twin->add_subcommand("update", "Merge desired properties and/or tags into a twin (null deletes)");
  update->add_option("device-id", id, "Device id")->required();
  update->add_option("--desired", desired, "Desired-properties patch, JSON");
  update->add_option("--tags", tags, "Tags patch, JSON");
  update->callback([&g] {
    json patch = json::object();
    if (!desired.empty()) patch["properties"]["desired"] = ParseJsonArg(desired, "--desired");
    if (!tags.empty()) patch["tags"] = ParseJsonArg(tags, "--tags");
    if (patch.empty()) throw CliError(kUsage, "give --desired and/or --tags");
    std::cout << Hub(g).Patch("/twins/" + EncodedId(id) + "?api-version=2021-04-12", patch).dump(2) << "\n";
  });

  auto* methods = app.add_subcommand("method", "Direct methods (az iot hub invoke-device-method)")->require_subcommand(1);
  auto* invoke = methods->add_subcommand("invoke", "Call a method on a connected device and print its answer");
  invoke->add_option("device-id", id, "Device id")->required();
  invoke->add_option("method-name", method, "Method name")->required();
  invoke->add_option("--payload", payload, "JSON payload")->capture_default_str();
  invoke->add_option("--timeout", timeout, "Seconds to wait for the answer (5-300)")->capture_default_str();
  invoke->callback([&g] {
    json body = {{"methodName", method}, {"payload", ParseJsonArg(payload, "--payload")}, {"responseTimeoutInSeconds", timeout}};
    std::cout << Hub(g).Post("/twins/" + EncodedId(id) + "/methods?api-version=2021-04-12", body).dump(2) << "\n";
  });

  auto* c2d = app.add_subcommand("c2d", "Cloud-to-device messages (az iot device c2d-message)")->require_subcommand(1);
  auto* send = c2d->add_subcommand("send", "Queue a message for a device");
  send->add_option("device-id", id, "Device id")->required();
  send->add_option("body", body, "Message body")->required();
  send->add_option("--message-id", message_id, "Message id");
  send->add_option("--correlation-id", correlation_id, "Correlation id");
  send->add_option("--property", properties, "Application property key=value (repeatable)");
  send->add_option("--ttl", ttl, "Seconds to live (default one hour)");
  static std::string ack, content_type;
  static bool rest = false, amqp_plain = false;
  static int amqp_port = 0;
  send->add_option("--ack", ack, "Feedback wanted: none, positive, negative or full")
      ->check(CLI::IsMember({"none", "positive", "negative", "full"}));
  send->add_option("--content-type", content_type, "Content type of the body");
  send->add_flag("--rest", rest, "Send through the emulator's REST endpoint instead of AMQP");
  send->add_option("--amqp-port", amqp_port, "The hub's AMQP port (default 5671, or 5672 with --amqp-plain)")
      ->envname("IOTHUB_EMULATOR_AMQP_PORT");
  send->add_flag("--amqp-plain", amqp_plain, "Plain AMQP instead of AMQP over TLS");
  send->callback([&g] {
    HubApi hub = Hub(g);
    std::vector<std::pair<std::string, std::string>> props;
    for (const auto& p : properties) {
      auto eq = p.find('=');
      props.emplace_back(p.substr(0, eq), eq == std::string::npos ? "" : p.substr(eq + 1));
    }
    if (rest) {
      json message = {{"body", body}};
      if (!message_id.empty()) message["messageId"] = message_id;
      if (!correlation_id.empty()) message["correlationId"] = correlation_id;
      if (!content_type.empty()) message["contentType"] = content_type;
      if (!ack.empty()) message["ack"] = ack;
      if (ttl > 0) message["ttlSeconds"] = ttl;
      for (const auto& [k, v] : props) message["properties"][k] = v;
      json r = hub.Post("/emulator/devices/" + EncodedId(id) + "/messages", message);
      std::cout << "Queued for " << id << " (" << r.value("queued", 0) << " waiting)\n";
      return;
    }
    // As azure-iothub's Client sends: /messages/devicebound on the hub's AMQP port.
    CloudToDeviceSendOptions o;
    o.host = client::SplitHostPort(hub.hub().host_name, 0).first;
    o.port = amqp_port ? amqp_port : (amqp_plain ? 5672 : 5671);
    o.tls = !amqp_plain;
    o.ca_file = g.ca;
    o.host_name = hub.hub().host_name;
    o.policy = hub.hub().shared_access_key_name;
    o.key = hub.hub().shared_access_key;
    o.device_id = id;
    o.body = body;
    o.message_id = message_id;
    o.correlation_id = correlation_id;
    o.content_type = content_type;
    o.ack = ack;
    o.ttl_seconds = ttl;
    o.properties = std::move(props);
    SendCloudToDeviceOverAmqp(o);
    std::cout << "Queued for " << id << "\n";
  });
  auto* purge = c2d->add_subcommand("purge", "Drop every message waiting for a device");
  purge->add_option("device-id", id, "Device id")->required();
  purge->callback([&g] {
    json r = Hub(g).DeleteJson("/devices/" + EncodedId(id) + "/commands?api-version=2021-04-12");
    std::cout << "Purged " << r.value("totalMessagesPurged", 0) << " messages\n";
  });
}

// The Event Hub-compatible endpoint's consumer groups (az iot hub consumer-group), through the
// emulator's own /emulator/consumerGroups API: creating and deleting need the owner's policy.
void AddConsumerGroupCommands(CLI::App& app, Globals& g) {
  static std::string name;
  static bool as_json = false;
  auto* group = app.add_subcommand("consumer-group", "Consumer groups of the Event Hub-compatible endpoint "
                                                     "(az iot hub consumer-group)")
                    ->require_subcommand(1);
  auto path = [] { return "/emulator/consumerGroups/" + EncodedId(name); };

  auto* create = group->add_subcommand("create", "Create a consumer group (kept across restarts with a data directory)");
  create->add_option("name", name, "Group name: letters, digits, '.', '_', '-' (at most 50)")->required();
  create->callback([&g, path] {
    json created = Hub(g).Put(path(), json::object());
    std::cout << "Created consumer group " << created.value("name", name) << "\n";
  });

  auto* list = group->add_subcommand("list", "List the consumer groups and where each comes from");
  list->add_flag("--json", as_json, "Print the JSON array");
  list->callback([&g] {
    json groups = Hub(g).Get("/emulator/consumerGroups");
    if (as_json) {
      std::cout << groups.dump(2) << "\n";
      return;
    }
    for (const json& c : groups) std::cout << c.value("name", "") << "\t" << c.value("source", "") << "\n";
  });

  auto* remove = group->add_subcommand("delete", "Delete a consumer group created with `create`");
  remove->add_option("name", name, "Group name")->required();
  remove->callback([&g, path] {
    Hub(g).Delete(path());
    std::cout << "Deleted consumer group " << name << "\n";
  });
}

// The tutorial's simulated device: {"deviceId": ..., "windSpeed": 10.xx} with a message id,
// a correlation id and a temperatureAlert property, printing each acknowledgement.
void AddSimulateCommand(CLI::App& app, Globals& g) {
  static double interval = 1.0;
  static int count = 0;
  static std::string tmpl = R"({"deviceId":"{deviceId}","windSpeed":{windSpeed}})";
  static std::vector<std::string> properties;
  auto* sim = app.add_subcommand("simulate", "Run a simulated device that sends telemetry over MQTT");
  sim->add_option("--interval", interval, "Seconds between messages")->capture_default_str();
  sim->add_option("--count", count, "Messages to send, then stop (0 = until Ctrl-C)")->capture_default_str();
  sim->add_option("--template", tmpl, "Message body; {deviceId}, {windSpeed} and {n} are filled in")
      ->capture_default_str();
  sim->add_option("--property", properties, "Extra application property key=value (repeatable)");
  sim->callback([&g] {
    if (g.device_connection_string.empty()) {
      throw CliError(kUsage, "give the device connection string with --device-connection-string or "
                             "IOTHUB_DEVICE_CONNECTION_STRING");
    }
    client::DeviceConnectionString cs;
    try {
      cs = client::DeviceConnectionString::Parse(g.device_connection_string);
    } catch (const std::invalid_argument& e) {
      throw CliError(kUsage, e.what());
    }
    client::DeviceClient device(cs, {.ca_file = g.ca});
    device.OnConnectionStatus([](const client::ConnectionStatus& s) {
      std::cout << (s.connected ? "Connected" : "Disconnected") << ": " << s.reason << std::endl;
    });
    // The round trip to watch from the CLI: `iothub method invoke <id> setInterval --payload 2`
    // changes the pace, reported back as the twin's telemetryInterval.
    std::atomic<double> pace{interval};
    std::atomic<bool> pace_changed{false};
    device.OnMethod([&pace, &pace_changed](const std::string& name, const std::string& payload) {
      json p = ParseJson(payload).value;
      double seconds = p.is_number() ? p.get<double>() : p.is_object() ? p.value("interval", 0.0) : 0.0;
      if (name != "setInterval" || seconds <= 0) {
        return client::MethodResponse{400, R"({"error":"setInterval takes a positive number of seconds"})"};
      }
      pace = seconds;
      pace_changed = true;
      std::cout << "Method setInterval: now every " << seconds << " s" << std::endl;
      return client::MethodResponse{200, json{{"interval", seconds}}.dump()};
    });
    device.OnMessage([](const client::ReceivedMessage& m) {
      std::cout << "Received message " << m.message_id << ": " << m.body << std::endl;
    });
    device.OnDesiredProperties([](const std::string& patch) {
      std::cout << "Desired properties changed: " << patch << std::endl;
    });
    device.Open();
    if (!device.WaitConnected(std::chrono::seconds(15))) {
      throw CliError(kUnreachable, "the device could not connect within 15 s (see the reason above)");
    }
    device.UpdateReportedProperties(json{{"telemetryInterval", interval}}.dump(), std::chrono::seconds(5));
    std::mt19937 random{std::random_device{}()};
    std::uniform_real_distribution<double> wind(0, 4);
    std::atomic<int> acknowledged{0};
    for (int n = 1; (count == 0 || n <= count) && !g_interrupted; ++n) {
      char speed[16];
      std::snprintf(speed, sizeof speed, "%.2f", 10 + wind(random));
      std::string body = tmpl;
      auto fill = [&body](const std::string& key, const std::string& value) {
        for (size_t at; (at = body.find(key)) != std::string::npos;) body.replace(at, key.size(), value);
      };
      fill("{deviceId}", cs.device_id);
      fill("{windSpeed}", speed);
      fill("{n}", std::to_string(n));
      client::Message m{body, cs.device_id + "-" + std::to_string(n), "simulate-" + std::to_string(n),
                        "application/json", "utf-8", {}};
      m.properties.emplace_back("temperatureAlert", std::atof(speed) > 13 ? "true" : "false");
      for (const auto& p : properties) {
        auto eq = p.find('=');
        m.properties.emplace_back(p.substr(0, eq), eq == std::string::npos ? "" : p.substr(eq + 1));
      }
      std::cout << "Sending message: " << body << std::endl;
      std::string id = m.message_id;
      device.SendEvent(std::move(m), [id, &acknowledged](bool ok) {
        if (ok) acknowledged++;
        std::cout << (ok ? "Message acknowledged: " : "Message not acknowledged: ") << id << std::endl;
      });
      if (pace_changed.exchange(false)) {
        device.UpdateReportedProperties(json{{"telemetryInterval", pace.load()}}.dump(), std::chrono::seconds(5));
      }
      if (count == 0 || n < count) {
        for (int i = 0; i < pace * 10 && !g_interrupted && !pace_changed; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    }
    device.Close();
    std::cout << acknowledged << " messages acknowledged" << std::endl;
  });
}

// The tutorial's monitor (iothub-explorer monitor-events).
void AddMonitorCommand(CLI::App& app, Globals& g) {
  static std::string device_id, from = "latest";
  static bool show_properties = false, show_system = false, as_json = false;
  static int count = 0, timeout = 0;
  static std::optional<int> partition;
  auto* mon = app.add_subcommand("monitor", "Print device-to-cloud events as they arrive (az iot hub monitor-events)");
  mon->add_option("device-id", device_id, "Only this device's events");
  mon->add_option("--device-id,-d", device_id, "Only this device's events");
  mon->add_option("--from", from, "earliest, latest, a sequence number or an ISO 8601 time")->capture_default_str();
  mon->add_option("--partition", partition, "Only this partition");
  mon->add_flag("--properties,-p", show_properties, "Show application properties");
  mon->add_flag("--system-properties", show_system, "Show system properties and annotations");
  mon->add_option("--count,-n", count, "Stop after this many events (0 = never)");
  mon->add_option("--timeout,-t", timeout, "Stop after this many seconds (0 = never)");
  mon->add_flag("--json", as_json, "One JSON object per event per line, as the emulator sends them");
  static bool amqp = false, amqp_plain = false;
  static int amqp_port = 0;
  static std::string consumer_group = "$Default";
  mon->add_flag("--amqp", amqp,
                "Read through the Event Hub-compatible endpoint over AMQP, as back ends do (default: the event stream)");
  mon->add_option("--amqp-port", amqp_port, "The hub's AMQP port (default 5671, or 5672 with --amqp-plain)")
      ->envname("IOTHUB_EMULATOR_AMQP_PORT");
  mon->add_flag("--amqp-plain", amqp_plain, "Plain AMQP instead of AMQP over TLS");
  mon->add_option("--consumer-group,-g", consumer_group, "Consumer group, with --amqp")->capture_default_str();
  mon->callback([&g] {
    HubApi hub = Hub(g);
    if (!as_json) {
      std::cout << "Monitoring events" << (device_id.empty() ? "" : " from device " + device_id)
                << (amqp ? " on the Event Hub-compatible endpoint" : "") << "..." << std::endl;
    }
    int seen = 0;
    auto print = [&](const json& e) {
      if (as_json) {
        std::cout << e.dump() << std::endl;
      } else {
        std::cout << "==== From: '" << e["annotations"].value("iothub-connection-device-id", "") << "' at '"
                  << e.value("enqueuedTimeUtc", "") << "' ====\n"
                  << (e["body"].is_string() ? e["body"].get<std::string>() : e["body"].dump(2)) << "\n";
        if (show_properties) std::cout << "---- application properties ----\n" << e["applicationProperties"].dump(2) << "\n";
        if (show_system) {
          std::cout << "---- system properties ----\n" << e["properties"].dump(2) << "\n"
                    << "---- annotations ----\n" << e["annotations"].dump(2) << "\n";
        }
        std::cout << "====================" << std::endl;
      }
      return !g_interrupted && (count == 0 || ++seen < count);
    };
    if (amqp) {
      EventHubMonitorOptions o;
      o.host = client::SplitHostPort(hub.hub().host_name, 0).first;
      o.port = amqp_port ? amqp_port : (amqp_plain ? 5672 : 5671);
      o.tls = !amqp_plain;
      o.ca_file = g.ca;
      o.policy = hub.hub().shared_access_key_name;
      o.key = hub.hub().shared_access_key;
      o.consumer_group = consumer_group;
      o.from = from;
      o.partition = partition;
      o.device_id = device_id;
      o.timeout_seconds = timeout;
      return MonitorEventHub(o, print, [] { return g_interrupted.load(); });
    }
    std::string path = "/emulator/events/stream?from=" + from;
    if (!device_id.empty()) path += "&deviceId=" + device_id;
    if (partition) path += "&partition=" + std::to_string(*partition);
    hub.Stream(path, print, timeout);
  });
}

}  // namespace
}  // namespace iothub::cli

int main(int argc, char** argv) {
  using namespace iothub::cli;
  CLI::App app(
      "iothub: device identities, a simulated device and an event monitor for the IoT Hub Emulator.\n"
      "Exit codes: 0 ok, 1 usage, 2 hub unreachable, 3 unauthorized, 4 not found, 5 other failure.",
      "iothub");
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the verb
  Globals g;
  if (const char* v = std::getenv("IOTHUB_CONNECTION_STRING")) g.hub_connection_string = v;
  if (const char* v = std::getenv("IOTHUB_DEVICE_CONNECTION_STRING")) g.device_connection_string = v;
  app.add_option("--login,--hub-connection-string", g.hub_connection_string,
                 "Hub connection string (env IOTHUB_CONNECTION_STRING)");
  app.add_option("--device-connection-string", g.device_connection_string,
                 "Device connection string (env IOTHUB_DEVICE_CONNECTION_STRING)");
  app.add_option("--ca", g.ca, "The emulator's CA certificate")->envname("IOTHUB_EMULATOR_CA")->capture_default_str();
  app.add_option("--https-port", g.https_port, "The emulator's HTTPS port when HostName has none")
      ->envname("IOTHUB_EMULATOR_HTTPS_PORT")
      ->capture_default_str();
  AddDeviceCommands(app, g);
  AddServiceCommands(app, g);
  AddConsumerGroupCommands(app, g);
  AddSimulateCommand(app, g);
  AddMonitorCommand(app, g);
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const CliError& e) {
    std::cerr << "iothub: " << e.what() << "\n";
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "iothub: " << e.what() << "\n";
    return kFailed;
  }
  return kOk;
}
