#include "amqp/amqp_connection.h"

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <spdlog/spdlog.h>

#include <asio/post.hpp>

namespace iothub::amqp {
namespace {

using Io = transport::ByteStream::Io;
using SteadyClock = std::chrono::steady_clock;

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now().time_since_epoch()).count();
}

}  // namespace

void OpenLink(pn_link_t* link) {
  pn_terminus_copy(pn_link_source(link), pn_link_remote_source(link));
  pn_terminus_copy(pn_link_target(link), pn_link_remote_target(link));
  pn_link_open(link);
}

void RefuseLink(pn_link_t* link, const char* condition, const std::string& description) {
  // An attach without the terminus asked for, then the detach that says why (AMQP 1.0 §2.6.3).
  pn_terminus_set_type(pn_link_is_sender(link) ? pn_link_source(link) : pn_link_target(link), PN_UNSPECIFIED);
  pn_link_open(link);
  CloseLink(link, condition, description);
}

void CloseLink(pn_link_t* link, const char* condition, const std::string& description) {
  pn_condition_set_name(pn_link_condition(link), condition);
  pn_condition_set_description(pn_link_condition(link), description.c_str());
  pn_link_close(link);
}

std::string LinkAddress(pn_link_t* link) {
  const char* a = pn_terminus_get_address(pn_link_is_sender(link) ? pn_link_remote_source(link)
                                                                  : pn_link_remote_target(link));
  return a ? a : "";
}

pn_delivery_t* SendMessage(pn_link_t* link, const std::string& bytes, uint64_t& next_tag) {
  uint64_t tag = next_tag++;
  pn_delivery_t* d = pn_delivery(link, pn_dtag(reinterpret_cast<const char*>(&tag), sizeof tag));
  pn_link_send(link, bytes.data(), bytes.size());
  pn_link_advance(link);
  if (pn_link_snd_settle_mode(link) == PN_SND_SETTLED) pn_delivery_settle(d);
  return d;
}

void TopUpCredit(pn_link_t* link) {
  if (!(pn_link_state(link) & PN_LOCAL_ACTIVE)) return;
  // Messages not yet settled (telemetry waiting for its commit) hold memory: past the bound the
  // sender gets no more credit until settling frees some.
  if (pn_link_credit(link) < kCreditBatch / 2 && pn_link_unsettled(link) < kMaxUnsettledIncoming) {
    pn_link_flow(link, kCreditBatch);
  }
}

void Accept(pn_delivery_t* delivery) {
  pn_link_t* link = pn_delivery_link(delivery);
  pn_delivery_update(delivery, PN_ACCEPTED);
  pn_delivery_settle(delivery);
  TopUpCredit(link);
}

void RejectDelivery(pn_delivery_t* delivery, const char* condition, const std::string& description) {
  pn_condition_t* c = pn_disposition_condition(pn_delivery_local(delivery));
  pn_condition_set_name(c, condition);
  pn_condition_set_description(c, description.c_str());
  pn_link_t* link = pn_delivery_link(delivery);
  pn_delivery_update(delivery, PN_REJECTED);
  pn_delivery_settle(delivery);
  TopUpCredit(link);
}

AmqpConnection::AmqpConnection(std::unique_ptr<transport::ByteStream> stream, const AmqpOptions& options,
                               HandlerFactory handler, PlainCheck plain, transport::PendingSlot slot)
    : stream_(std::move(stream)), options_(options), executor_(stream_->executor()), timer_(executor_),
      sasl_(std::move(plain)), make_handler_(std::move(handler)), pending_slot_(std::move(slot)) {
  pn_connection_driver_init(&driver_, nullptr, nullptr);
  pn_transport_t* t = driver_.transport;
  pn_transport_set_server(t);
  // SASL is optional: the service SDK opens with a bare AMQP header and proves itself through $cbs.
  pn_transport_require_auth(t, false);
  pn_transport_require_encryption(t, false);
  pn_sasl_t* sasl = pn_sasl(t);
  sasl_.Install(t);
  pn_sasl_allowed_mechs(sasl, "ANONYMOUS PLAIN");
  pn_sasl_set_allow_insecure_mechs(sasl, true);  // TLS, when there is any, is ours: Proton cannot see it
  pn_transport_set_idle_timeout(t, static_cast<pn_millis_t>(options_.idle_timeout.count()));
  pn_transport_set_max_frame(t, static_cast<uint32_t>(options_.max_frame_bytes));
  pn_connection_set_container(driver_.connection, "iothub-emulator");
  pn_connection_driver_bind(&driver_);
}

AmqpConnection::~AmqpConnection() {
  handler_.reset();  // before the links it may hold go with the driver
  pn_connection_driver_destroy(&driver_);
}

void AmqpConnection::Start() {
  handler_ = make_handler_(*this);
  handshake_deadline_ = SteadyClock::now() + options_.handshake_timeout;
  DoHandshake();
}

void AmqpConnection::Post(std::function<void()> work) {
  asio::post(executor_, [self = shared_from_this(), work = std::move(work)] {
    if (self->closed_) return;
    work();
    self->Pump();
  });
}

void AmqpConnection::WakeSenders() {
  for (pn_link_t* l = pn_link_head(driver_.connection, PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE); l;
       l = pn_link_next(l, PN_LOCAL_ACTIVE | PN_REMOTE_ACTIVE)) {
    if (pn_link_is_sender(l)) handler_->OnCredit(l);
  }
}

void AmqpConnection::Abandon() {
  closed_ = true;
  handler_.reset();
}

void AmqpConnection::DoHandshake() {
  if (closed_) return;
  auto io = stream_->Handshake();
  if (io == Io::kDone) {
    handshaken_ = true;
    return Pump();
  }
  if (io == Io::kWantRead || io == Io::kWantWrite) {
    ArmTimer();
    return stream_->Wait(io, [self = shared_from_this()](const std::error_code& ec) {
      if (self->closed_) return;
      if (ec) return self->CloseSocket("socket wait failed: " + ec.message());
      self->DoHandshake();
    });
  }
  CloseSocket(std::string(stream_->kind()) + " handshake failed: " +
              (io == Io::kClosed ? "closed by the client" : stream_->error()));
}

// Runs Proton's events, then moves bytes both ways; called after anything that may have
// produced output (input, a timer, work posted from elsewhere).
void AmqpConnection::Pump() {
  if (closed_ || pumping_ || !handshaken_) return;
  next_tick_ms_ = pn_transport_tick(driver_.transport, NowMillis());  // heartbeats out, the peer's idle timeout in
  // Writing raises events too: once the last bytes after a CLOSE are out, the transport
  // closes. Left unhandled, they would keep the driver from finishing and the socket open.
  do {
    pumping_ = true;
    while (pn_event_t* e = pn_connection_driver_next_event(&driver_)) Dispatch(e);
    pumping_ = false;
    DoWrite();
    if (!closed_ && !writing_ && pn_connection_driver_read_closed(&driver_) &&
        !pn_connection_driver_write_closed(&driver_) && !pn_connection_driver_has_event(&driver_) &&
        pn_connection_driver_write_buffer(&driver_).size == 0) {
      // The peer's stream ended inside a frame: Proton waits for the rest of it forever (it
      // says "connection aborted" only at a frame boundary). Nothing more can come in and
      // nothing is left to send: end the connection, or it holds its links until the idle timeout.
      if (!pn_condition_is_set(pn_transport_condition(driver_.transport))) {
        pn_connection_driver_errorf(&driver_, "amqp:connection:framing-error", "%s", "the stream ended inside a frame");
      }
      pn_connection_driver_write_close(&driver_);
    }
  } while (!closed_ && pn_connection_driver_has_event(&driver_));
  if (closed_) return;
  // Proton dates its next heartbeat from the last tick that saw new output: tick again now that
  // the output went, or the heartbeat comes half an idle timeout late and the peer gives up on us.
  next_tick_ms_ = pn_transport_tick(driver_.transport, NowMillis());
  DoWrite();
  if (closed_) return;
  if (wake_after_write_ && wrote_since_hold_ && !writing_) {
    // Output went since a sender held back: it may fill again (and Pump writes that). Only then:
    // while the peer's window is shut nothing goes out, and waking would spin.
    wake_after_write_ = wrote_since_hold_ = false;
    return Post([this] { WakeSenders(); });
  }
  // Finished, or the input is over (the peer closed, or Proton refused its bytes) and all
  // that is left to say (a CLOSE with the error) has been written: nothing more can happen.
  const bool said_all = pn_connection_driver_read_closed(&driver_) && !writing_ &&
                        pn_connection_driver_write_buffer(&driver_).size == 0;
  if (pn_connection_driver_finished(&driver_) || said_all) {
    pn_condition_t* c = pn_transport_condition(driver_.transport);
    return CloseSocket(pn_condition_is_set(c) ? std::string(pn_condition_get_name(c)) + ": " +
                                                    (pn_condition_get_description(c) ? pn_condition_get_description(c) : "")
                                              : "closed");
  }
  DoRead();
  ArmTimer();
}

void AmqpConnection::Dispatch(pn_event_t* event) {
  switch (pn_event_type(event)) {
    case PN_CONNECTION_REMOTE_OPEN:
      if (pn_connection_state(driver_.connection) & PN_LOCAL_UNINIT) pn_connection_open(driver_.connection);
      opened_ = true;
      pending_slot_.reset();  // it has spoken AMQP; each link proves itself (SASL PLAIN or $cbs)
      if (sasl_.principal()) handler_->OnSignedIn(*sasl_.principal());
      break;
    case PN_CONNECTION_REMOTE_CLOSE:
      pn_connection_close(driver_.connection);
      break;
    case PN_SESSION_REMOTE_OPEN: {
      pn_session_t* s = pn_event_session(event);
      if (pn_session_state(s) & PN_LOCAL_UNINIT) pn_session_open(s);
      break;
    }
    case PN_SESSION_REMOTE_CLOSE:
      pn_session_close(pn_event_session(event));
      break;
    case PN_LINK_REMOTE_OPEN: {
      pn_link_t* l = pn_event_link(event);
      if (pn_link_state(l) & PN_LOCAL_UNINIT) {
        if (pn_link_is_receiver(l)) pn_link_set_max_message_size(l, options_.max_message_bytes);
        handler_->OnLinkOpen(l);
      }
      break;
    }
    case PN_LINK_FLOW: {
      pn_link_t* l = pn_event_link(event);
      if (pn_link_is_sender(l) && (pn_link_state(l) & PN_LOCAL_ACTIVE)) handler_->OnCredit(l);
      break;
    }
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH: {
      pn_link_t* l = pn_event_link(event);
      handler_->OnLinkClosed(l);
      if (!(pn_link_state(l) & PN_LOCAL_CLOSED)) pn_link_close(l);
      break;
    }
    case PN_LINK_LOCAL_CLOSE:
      handler_->OnLinkClosed(pn_event_link(event));
      break;
    case PN_DELIVERY:
      OnDelivery(pn_event_delivery(event));
      break;
    case PN_TRANSPORT_ERROR: {
      pn_condition_t* c = pn_transport_condition(driver_.transport);
      spdlog::debug("AMQP {}: {}: {}", stream_->peer(), pn_condition_get_name(c) ? pn_condition_get_name(c) : "",
                    pn_condition_get_description(c) ? pn_condition_get_description(c) : "");
      break;
    }
    default:
      break;
  }
}

void AmqpConnection::OnDelivery(pn_delivery_t* d) {
  pn_link_t* link = pn_delivery_link(d);
  if (pn_link_is_sender(link)) {
    if (pn_delivery_updated(d)) {
      pn_delivery_clear(d);
      handler_->OnOutcome(link, d);
    }
    return;
  }
  if (!pn_delivery_readable(d)) return;
  char buffer[16384];
  ssize_t n;
  while ((n = pn_link_recv(link, buffer, sizeof buffer)) > 0) {
    if (incoming_.size() + static_cast<size_t>(n) > options_.max_message_bytes) {
      incoming_.clear();
      pn_delivery_update(d, PN_REJECTED);
      pn_delivery_settle(d);
      return CloseLink(link, "amqp:link:message-size-exceeded",
                       "A message may hold at most " + std::to_string(options_.max_message_bytes) + " bytes");
    }
    incoming_.append(buffer, static_cast<size_t>(n));
  }
  if (pn_delivery_partial(d)) return;  // more transfers to come
  pn_link_advance(link);
  std::string bytes = std::move(incoming_);
  incoming_.clear();
  handler_->OnMessage(link, d, std::move(bytes));
  TopUpCredit(link);
}

void AmqpConnection::DoRead() {
  if (reading_ || closed_ || pn_connection_driver_read_closed(&driver_)) return;
  reading_ = true;
  if (stream_->HasBufferedInput()) {
    return asio::post(executor_, [self = shared_from_this()] { self->OnReadable(); });
  }
  stream_->Wait(Io::kWantRead, [self = shared_from_this()](const std::error_code& ec) {
    if (self->closed_) return;
    if (ec) return self->CloseSocket("socket wait failed: " + ec.message());
    self->OnReadable();
  });
}

void AmqpConnection::OnReadable() {
  reading_ = false;
  if (closed_) return;
  size_t total = 0;
  while (total < 64 * 1024) {
    pn_rwbytes_t buffer = pn_connection_driver_read_buffer(&driver_);
    if (buffer.size == 0) break;
    size_t n = 0;
    auto io = stream_->Read(buffer.start, buffer.size, &n);
    if (io == Io::kDone) {
      pn_connection_driver_read_done(&driver_, n);
      total += n;
      continue;
    }
    if (io == Io::kWantWrite) {  // TLS must send before it reads on
      reading_ = true;
      stream_->Wait(Io::kWantWrite, [self = shared_from_this()](const std::error_code& ec) {
        if (self->closed_) return;
        if (ec) return self->CloseSocket("socket wait failed: " + ec.message());
        self->OnReadable();
      });
      break;
    }
    if (io == Io::kClosed || io == Io::kFailed) pn_connection_driver_read_close(&driver_);
    break;
  }
  Pump();
}

void AmqpConnection::DoWrite() {
  while (!writing_ && !closed_) {
    pn_bytes_t out = pn_connection_driver_write_buffer(&driver_);
    if (out.size == 0) return;
    size_t n = 0;
    auto io = stream_->Write(out.start, out.size, &n);
    if (io == Io::kDone) {
      pn_connection_driver_write_done(&driver_, n);
      if (n > 0 && wake_after_write_) wrote_since_hold_ = true;
      continue;
    }
    if (io == Io::kWantWrite || io == Io::kWantRead) {
      writing_ = true;
      return stream_->Wait(io, [self = shared_from_this()](const std::error_code& ec) {
        self->writing_ = false;
        if (self->closed_) return;
        if (ec) return self->CloseSocket("socket wait failed: " + ec.message());
        self->Pump();
      });
    }
    pn_connection_driver_write_close(&driver_);
    pn_connection_driver_read_close(&driver_);
    return;
  }
}

// One timer for everything timed: the handshake deadline, Proton's heartbeats and the handler's expiries.
void AmqpConnection::ArmTimer() {
  if (closed_) return;
  auto deadline = SteadyClock::time_point::max();
  if (!opened_) deadline = handshake_deadline_;
  if (handshaken_) {
    if (next_tick_ms_ > 0) {
      deadline = std::min(deadline, SteadyClock::time_point(std::chrono::milliseconds(next_tick_ms_)));
    }
    if (handler_) deadline = std::min(deadline, handler_->Deadline());
  }
  if (deadline == armed_for_) return;
  armed_for_ = deadline;
  if (deadline == SteadyClock::time_point::max()) return (void)timer_.cancel();
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
    if (ec || self->closed_) return;
    self->armed_for_ = {};
    if (!self->opened_ && SteadyClock::now() >= self->handshake_deadline_) {
      return self->CloseSocket("no AMQP OPEN in time");
    }
    if (self->handler_ && self->handshaken_) self->handler_->OnTick();
    self->Pump();
    self->ArmTimer();
  });
}

void AmqpConnection::CloseSocket(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  spdlog::debug("AMQP {} closed: {}", stream_->peer(), reason);
  // The links go with the connection: the handler lets go of what it holds for them.
  if (handler_) {
    for (pn_link_t* l = pn_link_head(driver_.connection, 0); l; l = pn_link_next(l, 0)) handler_->OnLinkClosed(l);
  }
  pending_slot_.reset();
  timer_.cancel();
  stream_->Close();
}

}  // namespace iothub::amqp
