// Writes the seeds of amqp_frames_fuzz: what a client sends in whole conversations with
// the endpoint (SASL or a bare AMQP header, OPEN, BEGIN, $cbs put-token, $management
// READs, partition receivers with selector filters and owner levels, refused links,
// DETACH/END/CLOSE). The client is Proton's own (a client-mode connection driver), talking
// to a real AmqpConnection + HubLinks over amqp_fuzz_hub.h's in-memory hub, the same one
// the fuzz target serves from, so a seed replays the same conversation there.
//   cmake --build build-fuzz --target amqp_frames_seeds
//   build-fuzz/amqp_frames_seeds tests/fuzz/corpus/amqp_frames_fuzz
#include <proton/codec.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <proton/error.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/types.hpp>
#include <proton/uuid.hpp>
#include <proton/binary.hpp>
#include <string>
#include <vector>

#include "amqp_fuzz_hub.h"
#include "fuzz_hub.h"

namespace {

using namespace iothub;
using fuzz::AmqpHub;

constexpr uint64_t kSelectorFilter = 0x0000468C00000004;
const std::string kPartition0 = "emulator/ConsumerGroups/$Default/Partitions/0";

struct ReceiverOptions {
  std::string target;
  std::optional<std::string> filter;
  std::optional<int64_t> epoch;
  int credit = 10;
};

// A scripted client on Proton's C connection driver.
class Client {
 public:
  explicit Client(bool sasl) {
    pn_connection_driver_init(&driver_, nullptr, nullptr);
    if (sasl) pn_sasl_allowed_mechs(pn_sasl(driver_.transport), "ANONYMOUS");
    pn_connection_set_hostname(driver_.connection, "localhost");
    pn_connection_set_container(driver_.connection, "seed-client");
    pn_connection_driver_bind(&driver_);
    pn_connection_open(driver_.connection);
    session_ = pn_session(driver_.connection);
    pn_session_open(session_);
  }
  ~Client() { pn_connection_driver_destroy(&driver_); }

  pn_link_t* Sender(const std::string& name, const std::string& target) {
    pn_link_t* l = pn_sender(session_, name.c_str());
    pn_terminus_set_address(pn_link_target(l), target.c_str());
    pn_link_open(l);
    return l;
  }
  pn_link_t* Receiver(const std::string& name, const std::string& source, const ReceiverOptions& o = {}) {
    pn_link_t* l = pn_receiver(session_, name.c_str());
    pn_terminus_set_address(pn_link_source(l), source.c_str());
    pn_terminus_set_address(pn_link_target(l), (o.target.empty() ? name : o.target).c_str());
    if (o.filter) {
      pn_data_t* f = pn_terminus_filter(pn_link_source(l));
      pn_data_put_map(f);
      pn_data_enter(f);
      pn_data_put_symbol(f, pn_bytes(33, "apache.org:selector-filter:string"));
      pn_data_put_described(f);
      pn_data_enter(f);
      pn_data_put_ulong(f, kSelectorFilter);
      pn_data_put_string(f, pn_bytes(o.filter->size(), o.filter->data()));
      pn_data_exit(f);
      pn_data_exit(f);
    }
    pn_data_t* p = pn_link_properties(l);
    pn_data_put_map(p);
    pn_data_enter(p);
    pn_data_put_symbol(p, pn_bytes(28, "com.microsoft:receiver-name"));
    pn_data_put_string(p, pn_bytes(name.size(), name.data()));
    if (o.epoch) {
      pn_data_put_symbol(p, pn_bytes(19, "com.microsoft:epoch"));
      pn_data_put_long(p, *o.epoch);
    }
    pn_data_exit(p);
    pn_link_open(l);
    if (o.credit > 0) pn_link_flow(l, o.credit);
    return l;
  }
  void Send(pn_link_t* link, const proton::message& m) {
    std::vector<char> bytes;
    m.encode(bytes);
    outgoing_[link].push_back(std::string(bytes.begin(), bytes.end()));
  }
  void Detach(pn_link_t* link) { pn_link_close(link); }
  void Close() {
    pn_session_close(session_);
    pn_connection_close(driver_.connection);
  }

  // Handles Proton's events and sends what has credit; true when anything happened.
  bool Run() {
    bool any = false;
    while (pn_event_t* e = pn_connection_driver_next_event(&driver_)) {
      any = true;
      Handle(e);
    }
    for (auto& [link, queue] : outgoing_) {
      while (!queue.empty() && pn_link_credit(link) > 0 && (pn_link_state(link) & PN_LOCAL_ACTIVE)) {
        pn_delivery_t* d = pn_delivery(link, pn_dtag(reinterpret_cast<const char*>(&tag_), sizeof tag_));
        ++tag_;
        pn_link_send(link, queue.front().data(), queue.front().size());
        pn_link_advance(link);
        queue.pop_front();
        (void)d;
        any = true;
      }
    }
    return any;
  }

  // Status codes of the replies received on a link, and how many other messages.
  std::vector<int> replies(pn_link_t* l) const { return replies_.count(l) ? replies_.at(l) : std::vector<int>{}; }
  int messages(pn_link_t* l) const { return messages_.count(l) ? messages_.at(l) : 0; }
  // The hub's outcomes (PN_ACCEPTED, PN_REJECTED, ...) of the messages sent on a link, in order.
  std::vector<uint64_t> outcomes(pn_link_t* l) const { return outcomes_.count(l) ? outcomes_.at(l) : std::vector<uint64_t>{}; }
  bool remote_closed(pn_link_t* l) const { return pn_link_state(l) & PN_REMOTE_CLOSED; }
  bool remote_open(pn_link_t* l) const { return pn_link_state(l) & (PN_REMOTE_ACTIVE | PN_REMOTE_CLOSED); }
  std::string condition(pn_link_t* l) const {
    const char* n = pn_condition_get_name(pn_link_remote_condition(l));
    return n ? n : "";
  }
  pn_connection_driver_t& driver() { return driver_; }

 private:
  void Handle(pn_event_t* e) {
    switch (pn_event_type(e)) {
      case PN_LINK_REMOTE_CLOSE:
      case PN_LINK_REMOTE_DETACH: {
        pn_link_t* l = pn_event_link(e);
        if (!(pn_link_state(l) & PN_LOCAL_CLOSED)) pn_link_close(l);
        break;
      }
      case PN_DELIVERY: {
        pn_delivery_t* d = pn_event_delivery(e);
        pn_link_t* l = pn_delivery_link(d);
        if (pn_link_is_sender(l)) {
          if (pn_delivery_updated(d)) {
            outcomes_[l].push_back(pn_delivery_remote_state(d));
            pn_delivery_settle(d);
          }
          break;
        }
        if (!pn_delivery_readable(d) || pn_delivery_partial(d)) break;
        std::string bytes(pn_delivery_pending(d), '\0');
        pn_link_recv(l, bytes.data(), bytes.size());
        pn_link_advance(l);
        pn_delivery_update(d, PN_ACCEPTED);
        pn_delivery_settle(d);
        proton::message m;
        m.decode(std::vector<char>(bytes.begin(), bytes.end()));
        if (m.properties().exists("status-code")) {
          replies_[l].push_back(proton::get<int32_t>(m.properties().get("status-code")));
        } else {
          ++messages_[l];
        }
        break;
      }
      case PN_TRANSPORT_ERROR: {
        pn_condition_t* c = pn_transport_condition(driver_.transport);
        std::fprintf(stderr, "client transport error: %s %s\n", pn_condition_get_name(c),
                     pn_condition_get_description(c));
        break;
      }
      default:
        break;
    }
  }

  pn_connection_driver_t driver_{};
  pn_session_t* session_;
  std::map<pn_link_t*, std::deque<std::string>> outgoing_;
  std::map<pn_link_t*, std::vector<int>> replies_;
  std::map<pn_link_t*, int> messages_;
  std::map<pn_link_t*, std::vector<uint64_t>> outcomes_;
  uint64_t tag_ = 0;
};

proton::message Request(proton::message_id id, const std::string& reply_to,
                        std::map<std::string, std::string> properties, const proton::value& body) {
  proton::message m;
  m.id(id);
  m.reply_to(reply_to);
  for (auto& [k, v] : properties) m.properties().put(k, v);
  m.body(body);
  return m;
}

proton::message PutToken(proton::message_id id, const std::string& audience, const std::string& token,
                         const std::string& type = "servicebus.windows.net:sastoken") {
  proton::message m = Request(id, "cbs-1", {{"operation", "put-token"}, {"name", audience}, {"type", type}}, token);
  m.to("$cbs");
  return m;
}

struct Step {
  std::function<void(Client&)> act;
  std::function<bool(Client&)> until;
};

// Runs one conversation: the client against a fresh server connection, step by step;
// returns everything the client sent.
std::string Converse(AmqpHub& hub, bool sasl, const std::vector<Step>& steps) {
  auto stream = std::make_unique<fuzz::MemoryStream>(hub.io.get_executor(), 7);
  fuzz::MemoryStream* server_bytes = stream.get();
  auto server = fuzz::ServeOn(hub, std::move(stream));
  hub.io.restart();
  server->Start();
  Client client(sasl);
  std::string sent;
  size_t step = 0;
  bool acted = false;
  bool closing = false;
  for (int idle = 0; idle < 50;) {
    bool any = client.Run();
    if (step < steps.size()) {
      if (!acted) {
        steps[step].act(client);
        acted = any = true;
      }
      if (steps[step].until(client)) {
        ++step;
        acted = false;
        any = true;
      }
    } else if (!closing) {
      client.Close();
      closing = any = true;
    }
    any |= client.Run();
    pn_connection_driver_t& d = client.driver();
    for (pn_bytes_t out = pn_connection_driver_write_buffer(&d); out.size > 0;
         out = pn_connection_driver_write_buffer(&d)) {
      sent.append(out.start, out.size);
      server_bytes->Feed(std::string_view(out.start, out.size));
      pn_connection_driver_write_done(&d, out.size);
      any = true;
    }
    while (hub.io.poll() > 0) any = true;
    std::string in = server_bytes->TakeSent();
    while (!in.empty()) {
      pn_rwbytes_t buffer = pn_connection_driver_read_buffer(&d);
      if (buffer.size == 0) break;
      const size_t n = std::min(buffer.size, in.size());
      std::copy_n(in.data(), n, buffer.start);
      pn_connection_driver_read_done(&d, n);
      in.erase(0, n);
      any = true;
    }
    if (server_bytes->closed() && !pn_connection_driver_read_closed(&d)) {
      pn_connection_driver_read_close(&d);
      any = true;
    }
    if (server_bytes->closed() && closing) break;
    idle = any ? 0 : idle + 1;
  }
  if (step < steps.size() || !server_bytes->closed()) {
    std::fprintf(stderr, "a conversation stopped at step %zu of %zu (server closed: %d)\n", step, steps.size(),
                 server_bytes->closed());
    std::exit(1);
  }
  server_bytes->End();
  while (hub.io.poll() > 0) {
  }
  return sent;
}

Step Do(std::function<void(Client&)> act, std::function<bool(Client&)> until) { return {std::move(act), std::move(until)}; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  auto& hub = fuzz::TheHub<AmqpHub>();
  const std::string dir = argv[1];
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    std::printf("%s: %zu bytes\n", name.c_str(), bytes.size());
  };
  const std::string audience0 = "sb://localhost:5671/" + kPartition0;

  // The Event Hubs SDK's receiver: SASL ANONYMOUS, put-token, a partition from the earliest event.
  {
    pn_link_t *cbs_out = nullptr, *cbs_in = nullptr, *receiver = nullptr;
    write("sasl-anonymous-receive-earliest",
          Converse(hub, true,
                   {Do(
                        [&](Client& c) {
                          cbs_out = c.Sender("cbs-sender", "$cbs");
                          cbs_in = c.Receiver("cbs-1", "$cbs");
                          c.Send(cbs_out, PutToken(std::string("put-1"), audience0,
                                                   fuzz::EventHubsToken(audience0, "service")));
                        },
                        [&](Client& c) { return c.replies(cbs_in).size() == 1; }),
                    Do(
                        [&](Client& c) {
                          receiver = c.Receiver(kPartition0 + "-r1", kPartition0,
                                                {"consumer-1", "amqp.annotation.x-opt-offset > '-1'", std::nullopt, 3});
                        },
                        [&](Client& c) { return c.messages(receiver) >= 3; }),
                    Do([&](Client& c) { c.Detach(receiver); }, [&](Client& c) { return c.remote_closed(receiver); })}));
  }

  // $management READs with a bare AMQP header (no SASL), as the service SDKs open.
  {
    pn_link_t *cbs_out = nullptr, *cbs_in = nullptr, *m_out = nullptr, *m_in = nullptr;
    const std::string audience = "sb://localhost/emulator/$management";
    write("bare-management-reads",
          Converse(hub, false,
                   {Do(
                        [&](Client& c) {
                          cbs_out = c.Sender("cbs-sender", "$cbs");
                          cbs_in = c.Receiver("cbs-1", "$cbs");
                          c.Send(cbs_out, PutToken(uint64_t{1}, audience, fuzz::EventHubsToken(audience, "iothubowner")));
                        },
                        [&](Client& c) { return c.replies(cbs_in).size() == 1; }),
                    Do(
                        [&](Client& c) {
                          m_out = c.Sender("mgmt-sender", "emulator/$management");
                          m_in = c.Receiver("mgmt-1", "emulator/$management", {"mgmt-1"});
                          const std::string sas = fuzz::EventHubsToken("sb://localhost/emulator", "service");
                          c.Send(m_out, Request(std::string("r1"), "mgmt-1",
                                                {{"operation", "READ"}, {"name", "emulator"},
                                                 {"type", "com.microsoft:eventhub"}, {"security_token", sas}},
                                                std::string("[]")));
                          c.Send(m_out, Request(uint64_t{2}, "mgmt-1",
                                                {{"operation", "READ"}, {"name", "emulator"},
                                                 {"type", "com.microsoft:partition"}, {"partition", "1"}},
                                                std::string("[]")));
                          c.Send(m_out, Request(std::string("r3"), "mgmt-1",
                                                {{"operation", "READ"}, {"name", "emulator"},
                                                 {"type", "com.microsoft:partition"}, {"partition", "9"}},
                                                std::string("[]")));
                          c.Send(m_out, Request(std::string("r4"), "mgmt-1",
                                                {{"operation", "CREATE"}, {"name", "other"}}, std::string("[]")));
                        },
                        [&](Client& c) { return c.replies(m_in).size() == 4; })}));
  }

  // Links the hub refuses, and put-tokens it refuses.
  {
    pn_link_t *cbs_out = nullptr, *cbs_in = nullptr;
    std::vector<pn_link_t*> refused;
    const std::string entity = "sb://localhost/emulator";
    write("refusals",
          Converse(hub, true,
                   {Do(
                        [&](Client& c) {
                          cbs_out = c.Sender("cbs-sender", "$cbs");
                          cbs_in = c.Receiver("cbs-1", "$cbs");
                          refused.push_back(c.Receiver("early", kPartition0));  // no token yet
                          c.Send(cbs_out, PutToken(std::string("bad-key"), entity,
                                                   fuzz::EventHubsToken(entity, "nosuchpolicy")));
                          c.Send(cbs_out, PutToken(std::string("expired"), entity,
                                                   fuzz::EventHubsToken(entity, "service", 1'000'000'000)));
                          c.Send(cbs_out, PutToken(std::string("other-host"), "sb://elsewhere/emulator",
                                                   fuzz::EventHubsToken("sb://elsewhere/emulator", "service")));
                          c.Send(cbs_out, PutToken(std::string("jwt"), entity, "eyJ0eXAiOiJKV1Qi", "jwt"));
                          proton::message del = PutToken(std::string("delete"), entity, "x");
                          del.properties().put("operation", "delete-token");
                          c.Send(cbs_out, del);
                          c.Send(cbs_out, PutToken(std::string("ok"), entity, fuzz::EventHubsToken(entity, "service")));
                        },
                        [&](Client& c) { return c.replies(cbs_in).size() == 6 && c.remote_closed(refused[0]); }),
                    Do(
                        [&](Client& c) {
                          refused.push_back(c.Receiver("g", "emulator/ConsumerGroups/nosuch/Partitions/0"));
                          refused.push_back(c.Receiver("p", "emulator/ConsumerGroups/$Default/Partitions/7"));
                          refused.push_back(c.Sender("s", kPartition0));
                          refused.push_back(c.Sender("e", "emulator"));
                          refused.push_back(c.Receiver("o", "otherhub/ConsumerGroups/$Default/Partitions/0"));
                          refused.push_back(c.Receiver("m", "messages/events/ConsumerGroups/$Default/Partitions/0"));
                          refused.push_back(
                              c.Receiver("f", kPartition0, {"f", "amqp.annotation.x-opt-offset < '5'", std::nullopt, 1}));
                          refused.push_back(
                              c.Receiver("t", kPartition0, {"t", "amqp.annotation.x-opt-enqueued-time > 'x'", std::nullopt, 1}));
                        },
                        [&](Client& c) {
                          for (pn_link_t* l : refused) {
                            if (!c.remote_closed(l)) return false;
                          }
                          return true;
                        })}));
  }

  // Five readers of a partition, a sixth refused; owner levels take over, lower ones are refused.
  {
    pn_link_t *cbs_out = nullptr, *cbs_in = nullptr;
    std::vector<pn_link_t*> plain;
    pn_link_t *sixth = nullptr, *epoch3 = nullptr, *epoch2 = nullptr, *epoch3b = nullptr;
    const std::string p1 = "emulator/ConsumerGroups/$Default/Partitions/1";
    const std::string entity = "sb://localhost:5671/emulator";
    const char* filters[] = {"amqp.annotation.x-opt-offset > '@latest'", "amqp.annotation.x-opt-sequence-number >= '2'",
                             "amqp.annotation.x-opt-enqueued-time > '1700000000000'",
                             "amqp.annotation.x-opt-offset >= '0'", "amqp.annotation.x-opt-sequence-number > '-1'"};
    write("readers-and-owner-levels",
          Converse(hub, true,
                   {Do(
                        [&](Client& c) {
                          cbs_out = c.Sender("cbs-sender", "$cbs");
                          cbs_in = c.Receiver("cbs-1", "$cbs");
                          c.Send(cbs_out, PutToken(std::string("t"), entity, fuzz::EventHubsToken(entity, "iothubowner")));
                        },
                        [&](Client& c) { return c.replies(cbs_in).size() == 1; }),
                    Do(
                        [&](Client& c) {
                          for (int i = 0; i < 5; ++i) {
                            plain.push_back(c.Receiver("r" + std::to_string(i), p1,
                                                       {"c" + std::to_string(i), filters[i], std::nullopt, 5}));
                          }
                          sixth = c.Receiver("r5", p1);
                        },
                        [&](Client& c) {
                          for (pn_link_t* l : plain) {
                            if (!c.remote_open(l)) return false;
                          }
                          return c.remote_closed(sixth);
                        }),
                    Do([&](Client& c) { epoch3 = c.Receiver("e3", p1, {"e3", std::nullopt, 3, 5}); },
                       [&](Client& c) {
                         for (pn_link_t* l : plain) {
                           if (!c.remote_closed(l)) return false;
                         }
                         return c.remote_open(epoch3);
                       }),
                    Do(
                        [&](Client& c) {
                          epoch2 = c.Receiver("e2", p1, {"e2", std::nullopt, 2, 5});
                          epoch3b = c.Receiver("e3b", p1, {"e3b", std::nullopt, 3, 5});
                        },
                        [&](Client& c) { return c.remote_closed(epoch2) && c.remote_open(epoch3b); }),
                    Do(
                        [&](Client& c) {
                          c.Detach(epoch3);
                          c.Detach(epoch3b);
                        },
                        [&](Client& c) { return c.remote_closed(epoch3) && c.remote_closed(epoch3b); })}));
  }

  // An IoT Hub token (sr = the host, signed with the decoded key) on a second consumer group.
  {
    pn_link_t *cbs_out = nullptr, *cbs_in = nullptr, *receiver = nullptr;
    const std::string p3 = "emulator/ConsumerGroups/second/Partitions/3";
    const AccessPolicy* service = fuzz::DefaultPolicies().Find("service");
    write("hub-token-second-group",
          Converse(hub, true,
                   {Do(
                        [&](Client& c) {
                          cbs_out = c.Sender("cbs-sender", "$cbs");
                          cbs_in = c.Receiver("cbs-1", "$cbs");
                          c.Send(cbs_out, PutToken(std::string("t"), "localhost",
                                                   CreateSasToken("localhost", service->primary_key, fuzz::kFarExpiry,
                                                                  "service"),
                                                   "azure-devices.net:sastoken"));
                        },
                        [&](Client& c) { return c.replies(cbs_in).size() == 1; }),
                    Do(
                        [&](Client& c) {
                          receiver = c.Receiver("r", p3, {"r", "amqp.annotation.x-opt-sequence-number > '0'", 7, 2});
                        },
                        [&](Client& c) { return c.messages(receiver) >= 2; })}));
  }

  // The service Client (azure-iothub): a bare header, put-token for the hub's host name, cloud-to-device
  // messages on /messages/devicebound (queued, and refused: unknown device, bad `to`, bad ack), feedback
  // and file notifications, an unknown service node.
  {
    pn_link_t *cbs_out = nullptr, *cbs_in = nullptr, *c2d = nullptr, *feedback = nullptr, *files = nullptr,
              *unknown = nullptr;
    const AccessPolicy* owner = fuzz::DefaultPolicies().Find("iothubowner");
    auto c2d_message = [](const std::string& to, const std::string& ack, const std::string& id) {
      proton::message m;
      m.to(to);
      m.id(id);
      m.correlation_id(proton::uuid::random());
      m.content_type("application/json");
      m.properties().put("iothub-ack", ack);
      m.properties().put("room", "kitchen");
      m.body(proton::binary(std::string("{\"on\":true}")));
      m.inferred(true);
      return m;
    };
    hub.KeepFeedbackWaiting();
    write("service-c2d-feedback",
          Converse(hub, false,
                   {Do(
                        [&](Client& c) {
                          cbs_out = c.Sender("cbs-sender", "$cbs");
                          cbs_in = c.Receiver("cbs", "$cbs");
                          c.Send(cbs_out, PutToken(std::string("t"), "localhost",
                                                   CreateSasToken("localhost", owner->primary_key, fuzz::kFarExpiry,
                                                                  "iothubowner")));
                        },
                        [&](Client& c) { return c.replies(cbs_in).size() == 1; }),
                    Do(
                        [&](Client& c) {
                          c2d = c.Sender("c2d", "/messages/devicebound");
                          c.Send(c2d, c2d_message("/devices/dev1/messages/devicebound", "full", "m1"));
                          c.Send(c2d, c2d_message("/devices/nosuch/messages/devicebound", "none", "m2"));
                          c.Send(c2d, c2d_message("/devices/dev1/messages/events", "none", "m3"));
                          c.Send(c2d, c2d_message("/devices/dev1/messages/devicebound", "sometimes", "m4"));
                        },
                        [&](Client& c) { return c.outcomes(c2d).size() == 4; }),
                    Do(
                        [&](Client& c) {
                          feedback = c.Receiver("feedback", "/messages/serviceBound/feedback", {"feedback", {}, {}, 5});
                          files = c.Receiver("files", "/messages/serviceBound/filenotifications", {"files", {}, {}, 5});
                          unknown = c.Receiver("unknown", "/messages/serviceBound/nosuch");
                        },
                        [&](Client& c) {
                          return c.messages(feedback) >= 1 && c.remote_open(files) && c.remote_closed(unknown);
                        })}));
  }

  // Without a token, or with one of a policy without ServiceConnect, the service's nodes are refused.
  {
    pn_link_t *cbs_out = nullptr, *cbs_in = nullptr;
    std::vector<pn_link_t*> refused;
    const AccessPolicy* read = fuzz::DefaultPolicies().Find("registryRead");
    write("service-refusals",
          Converse(hub, false,
                   {Do(
                        [&](Client& c) {
                          refused.push_back(c.Sender("early", "/messages/devicebound"));
                          cbs_out = c.Sender("cbs-sender", "$cbs");
                          cbs_in = c.Receiver("cbs", "$cbs");
                          c.Send(cbs_out, PutToken(std::string("t"), "localhost",
                                                   CreateSasToken("localhost", read->primary_key, fuzz::kFarExpiry,
                                                                  "registryRead")));
                        },
                        [&](Client& c) { return c.replies(cbs_in).size() == 1 && c.remote_closed(refused[0]); }),
                    Do(
                        [&](Client& c) {
                          refused.push_back(c.Sender("c2d", "/messages/devicebound"));
                          refused.push_back(c.Receiver("feedback", "/messages/serviceBound/feedback"));
                          refused.push_back(c.Receiver("wrong-way", "/messages/devicebound"));
                        },
                        [&](Client& c) {
                          for (pn_link_t* l : refused) {
                            if (!c.remote_closed(l)) return false;
                          }
                          return true;
                        })}));
  }
  return 0;
}
