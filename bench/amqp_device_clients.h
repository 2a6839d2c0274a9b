// AMQP 1.0 clients of the device and service endpoints for amqp-device-bench, on
// Qpid Proton's C++ container (its proactor, threads of its own), speaking what the
// official SDKs speak (spec §7 and Appendix A): TLS, SASL ANONYMOUS then a $cbs
// put-token with a SAS token (azure-iot-device-amqp, azure-iothub), or SASL PLAIN
// `{id}@sas.{hub}` with the device's token. Figures only: nothing here asserts.
#pragma once

#include <proton/connection.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/ssl.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bench_support.h"

namespace bench {

// The container every client of a run shares, running on `threads` threads until destroyed.
class ProtonClients {
 public:
  explicit ProtonClients(int threads);
  ~ProtonClients();
  ProtonClients(const ProtonClients&) = delete;
  ProtonClients& operator=(const ProtonClients&) = delete;
  proton::container& container() { return container_; }

 private:
  proton::container container_;
  std::thread thread_;
};

enum class SignIn { kCbs, kPlain };

// Where and how a client connects: the emulator's AMQP/TLS port, its CA, its hub name.
struct AmqpTarget {
  AmqpTarget(int port, const std::string& ca);
  int port = 0;
  std::string hub_name = "emulator";
  // Made once: building it loads the CA file and the system's trust store (~60 ms), not
  // something to do per connection.
  std::shared_ptr<proton::ssl_client_options> tls;
};

// What one AMQP connection tells its controlling thread. Handler callbacks run on the
// container's threads; the public calls are made from others and wait with a bound.
class AmqpClient : public proton::messaging_handler {
 public:
  ~AmqpClient() override;
  // Connected, signed in and every link it wanted attached (and, for senders, given credit).
  bool WaitReady(std::chrono::seconds timeout);
  // The first failure seen (transport, connection, link, sign-in), or "".
  std::string error();
  // Closes the connection (on its own thread); returns at once.
  void Close();
  // Closes it and waits (10 s at most) for its last event: a handler must outlive its connection.
  void Shutdown();

 protected:
  AmqpClient(ProtonClients& clients, const AmqpTarget& target, SignIn sign_in, std::string user,
             std::string token, std::string audience);
  void Start();
  // Called on the connection's thread once the sign-in is done: attach the links it wants.
  virtual void OnSignedIn(proton::connection& c) = 0;
  // Called when the links are attached; MarkReady once it is ready for work.
  void MarkReady();
  void Fail(const std::string& why);
  // Runs `f` on the connection's thread (after the connection opened).
  void Post(std::function<void()> f);
  template <class F>
  void Locked(F f) {
    std::lock_guard lock(mu_);
    f();
    cv_.notify_all();
  }
  template <class P>
  bool WaitFor(std::chrono::seconds timeout, P done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done() || !error_.empty(); }) && error_.empty();
  }

  void on_connection_open(proton::connection& c) override;
  void on_message(proton::delivery& d, proton::message& m) override;
  void on_transport_error(proton::transport& t) override;
  void on_connection_error(proton::connection& c) override;
  void on_receiver_error(proton::receiver& r) override;
  void on_sender_error(proton::sender& s) override;
  void on_error(const proton::error_condition& e) override;
  void on_transport_close(proton::transport& t) override;
  // Messages on links other than $cbs.
  virtual void OnMessage(proton::delivery& d, proton::message& m) = 0;
  // Drops the handles it holds on the connection's objects. Called on the connection's thread at its
  // last event: Proton's objects are reference-counted without locks, so no other thread may let go of them.
  virtual void ReleaseHandles() {}

  ProtonClients& clients_;
  const AmqpTarget target_;
  const SignIn sign_in_;
  const std::string user_, token_, audience_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string error_;
  bool ready_ = false;
  bool closing_ = false;
  bool started_ = false, finished_ = false;
  proton::work_queue* queue_ = nullptr;  // the connection's, once open
  proton::connection connection_;        // on the connection's thread only
  proton::receiver cbs_replies_;
};

// A device: signed in, and, as asked, a telemetry sender on /devices/{id}/messages/events
// and a C2D receiver on /devices/{id}/messages/devicebound that completes (accepts)
// every message at once.
class AmqpDevice : public AmqpClient {
 public:
  struct Links {
    bool telemetry = false;
    bool c2d = false;
  };
  AmqpDevice(ProtonClients& clients, const AmqpTarget& target, const std::string& device_id, SignIn sign_in,
             Links links, std::function<void()> on_complete = {});
  ~AmqpDevice() override { Shutdown(); }

  // Sends n telemetry messages of `payload`, at most `window` unacknowledged, and waits
  // until each was accepted (or rejected); seconds until the last disposition.
  double Send(int n, const std::string& payload, int window);
  int64_t accepted();
  int64_t rejected();
  int64_t completed();  // C2D messages accepted (completed) so far

 private:
  void OnSignedIn(proton::connection& c) override;
  void OnMessage(proton::delivery& d, proton::message& m) override;
  void ReleaseHandles() override { telemetry_ = proton::sender(); }
  void on_sendable(proton::sender& s) override;
  void on_receiver_open(proton::receiver& r) override;
  void on_tracker_accept(proton::tracker& t) override;
  void on_tracker_reject(proton::tracker& t) override;
  void on_tracker_release(proton::tracker& t) override;
  void Pump();
  void Settled(bool accepted);

  const std::string id_;
  const Links links_;
  std::function<void()> on_complete_;
  proton::sender telemetry_;
  proton::message message_;
  bool receiver_open_ = false;
  // Telemetry, on the connection's thread; the totals under mu_.
  int to_send_ = 0, window_ = 0, in_flight_ = 0;
  int64_t accepted_ = 0, rejected_ = 0, settled_ = 0;
  std::atomic<int64_t> completed_{0};
};

// The back end: signed in with the hub owner policy; a sender on /messages/devicebound
// and a receiver on /messages/serviceBound/feedback that accepts every feedback message
// (as the Node service SDK does) and counts its records.
class AmqpService : public AmqpClient {
 public:
  AmqpService(ProtonClients& clients, const AmqpTarget& target);
  ~AmqpService() override { Shutdown(); }

  // Sends n C2D messages to `device_id` with iothub-ack full, keeping at most `window`
  // sent but not yet completed by the device (`completed` counts those); returns at once.
  void StartSending(const std::string& device_id, int n, const std::string& payload, int window,
                    std::function<int64_t()> completed);
  // Wakes the sender after a completion (any thread).
  void Wake();
  // Waits until the service had `n` C2D messages accepted and `records` feedback records (refused
  // ones are sent again); the time the last record arrived, or nullopt after `timeout`.
  std::optional<Clock::time_point> WaitFeedback(int64_t n, int64_t records, std::chrono::seconds timeout);
  int64_t sent_accepted();
  int64_t sent_rejected();
  int64_t records();
  int64_t success_records();
  std::string first_reject();

 private:
  void OnSignedIn(proton::connection& c) override;
  void OnMessage(proton::delivery& d, proton::message& m) override;
  void ReleaseHandles() override {
    c2d_ = proton::sender();
    feedback_ = proton::receiver();
  }
  void on_sendable(proton::sender& s) override;
  void on_receiver_open(proton::receiver& r) override;
  void on_tracker_accept(proton::tracker& t) override;
  void on_tracker_reject(proton::tracker& t) override;
  void Pump();

  proton::sender c2d_;
  proton::receiver feedback_;
  bool sender_ready_ = false, receiver_open_ = false;
  // Sending, on the connection's thread.
  std::string device_address_, payload_;
  int to_send_ = 0, sent_ = 0, window_ = 0;  // sent_: not refused
  int64_t next_id_ = 0;
  bool backoff_ = false;  // refused: wait for the device's next completion
  std::function<int64_t()> completed_;
  // Under mu_.
  int64_t accepted_ = 0, rejected_ = 0, records_ = 0, success_ = 0;
  std::string first_reject_;
  Clock::time_point last_record_{};
};

}  // namespace bench
