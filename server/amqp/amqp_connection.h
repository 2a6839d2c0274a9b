// One AMQP 1.0 connection: Qpid Proton's protocol engine (the C connection driver that
// proton::io::connection_driver wraps) fed from our byte stream (TCP, TLS, WebSocket)
// on the connection's strand. Proton does the framing, SASL, sessions, flow control and
// heartbeats; we move bytes, keep its clock and hand its link events to the hub (LinkHandler).
// No Proton thread runs: everything happens here, one connection at a time.
#pragma once

#include <proton/connection_driver.h>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "amqp/sasl_sign_in.h"
#include "transport/byte_stream.h"
#include "transport/pending_connections.h"

namespace iothub::amqp {

// What serves a connection's links. Called on the connection's strand only.
class LinkHandler {
 public:
  virtual ~LinkHandler() = default;
  // The peer attached a link: open it (OpenLink) or refuse it (RefuseLink).
  virtual void OnLinkOpen(pn_link_t* link) = 0;
  // A whole message arrived on a link we receive on. The handler settles `delivery` (Accept,
  // RejectDelivery), now or later on the strand: it stays valid until settled or the connection ends.
  virtual void OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) = 0;
  // The peer settled or gave its outcome (pn_delivery_remote_state) for what we sent on `link`.
  // The handler settles `delivery` when done with it.
  virtual void OnOutcome(pn_link_t* link, pn_delivery_t* delivery) = 0;
  // A link we send on got credit, or a commit happened that it may be waiting for.
  virtual void OnCredit(pn_link_t* link) = 0;
  // The link is gone (detached by either side, or the connection ended): forget it.
  virtual void OnLinkClosed(pn_link_t* link) = 0;
  // The peer signed in with SASL PLAIN as `who`, before opening the connection.
  virtual void OnSignedIn(const Principal& who) = 0;
  // Now and then (at least at each deadline Deadline() returned): expire what must expire.
  virtual void OnTick() = 0;
  // The next time OnTick must run; max() when none.
  virtual std::chrono::steady_clock::time_point Deadline() = 0;
};

struct AmqpOptions {
  std::chrono::seconds handshake_timeout{10};     // TLS, SASL and OPEN must be done by then
  std::chrono::milliseconds idle_timeout{240000};  // ours, advertised in OPEN
  size_t max_message_bytes = 1024 * 1024;          // one incoming message, whole
  size_t max_frame_bytes = 64 * 1024;
};

// Link helpers, for handlers.
// Opens `link` with the terminus the peer gave.
void OpenLink(pn_link_t* link);
// Attaches `link` without a terminus and detaches it at once with an AMQP error.
void RefuseLink(pn_link_t* link, const char* condition, const std::string& description);
// Detaches an open link with an AMQP error.
void CloseLink(pn_link_t* link, const char* condition, const std::string& description);
// The address the peer gave: the source for a link we send on, the target for one we receive on.
std::string LinkAddress(pn_link_t* link);
// Sends one encoded message on a link we send on (the caller checked credit); the delivery,
// already settled when the link sends pre-settled.
pn_delivery_t* SendMessage(pn_link_t* link, const std::string& bytes, uint64_t& next_tag);
// Credit for incoming messages, granted kCreditBatch at a time while fewer than
// kMaxUnsettledIncoming wait for their settlement.
inline constexpr int kCreditBatch = 100;
inline constexpr int kMaxUnsettledIncoming = 256;
void TopUpCredit(pn_link_t* link);
// Settles a message we received: accepted.
void Accept(pn_delivery_t* delivery);
// Settles a message we received: rejected with an AMQP error, which the SDKs map to their own errors.
void RejectDelivery(pn_delivery_t* delivery, const char* condition, const std::string& description);

class AmqpConnection : public std::enable_shared_from_this<AmqpConnection> {
 public:
  using HandlerFactory = std::function<std::unique_ptr<LinkHandler>(AmqpConnection&)>;

  AmqpConnection(std::unique_ptr<transport::ByteStream> stream, const AmqpOptions& options, HandlerFactory handler,
                 PlainCheck plain, transport::PendingSlot slot);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  void Start();
  // Any thread: runs `work` on the strand (unless the connection is gone), then moves what it produced.
  void Post(std::function<void()> work);
  // On the strand: tells every link we send on that it may send (after a commit).
  void WakeSenders();
  // On the strand: WakeSenders once what is buffered has been written (a sender held back).
  void WakeSendersAfterWrite() { wake_after_write_ = true; }
  // With the event loop stopped, at shutdown: lets go of the handler (and what it holds
  // of the hub, such as the event log) before the hub's services go.
  void Abandon();

 private:
  void DoHandshake();
  void Pump();
  void Dispatch(pn_event_t* event);
  void OnDelivery(pn_delivery_t* delivery);
  void DoRead();
  void OnReadable();
  void DoWrite();
  void ArmTimer();
  void CloseSocket(const std::string& reason);

  std::unique_ptr<transport::ByteStream> stream_;
  const AmqpOptions& options_;
  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point armed_for_{};
  int64_t next_tick_ms_ = 0;  // when Proton next needs its clock (heartbeats), 0 for never
  SaslSignIn sasl_;  // before the driver: its transport refers to it
  pn_connection_driver_t driver_{};
  std::unique_ptr<LinkHandler> handler_;
  HandlerFactory make_handler_;
  std::optional<transport::PendingSlot> pending_slot_;
  std::chrono::steady_clock::time_point handshake_deadline_;
  bool handshaken_ = false;
  bool opened_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool pumping_ = false;
  bool wake_after_write_ = false;  // a sender held back until output drains
  bool wrote_since_hold_ = false;
  std::string incoming_;  // a message arriving in several transfers
};

}  // namespace iothub::amqp
