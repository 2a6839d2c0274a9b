// WebSocketStream on arbitrary client bytes (after a 2-byte seed that picks how they
// are split). Properties: no crash, no memory for what a frame header claims; kDone
// always brings bytes; the payload read, the way the stream ends (and why) and the
// frames sent back are the same whether the bytes come in pieces into small buffers
// or all at once; and what is then written arrives as unmasked binary frames of at
// most 64 KiB, read back with restinio's parser, carrying exactly the bytes written.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "transport/websocket_stream.h"

namespace {

using iothub::fuzz::Check;
using iothub::transport::ByteStream;
using iothub::transport::WebSocketStream;
using Io = ByteStream::Io;

// Piece sizes from a seed (xorshift), or everything at once when `whole`.
class Splitter {
 public:
  explicit Splitter(uint32_t seed, bool whole) : state_(seed | 1), whole_(whole) {}
  // 1..most, mostly small (0 only when most is).
  size_t Next(size_t most) {
    if (whole_) return most;
    const uint32_t r = Random();
    const size_t n = r % 8 == 0 ? most : 1 + r / 8 % 97;
    return n < most ? n : most;
  }
  // Now and then, when not whole: a socket that says "not yet" though data is coming.
  bool NotYet() { return !whole_ && Random() % 16 == 0; }

 private:
  uint32_t Random() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

  uint32_t state_;
  bool whole_;
};

// The connection below the WebSocket: the client's bytes in pieces, then nothing more
// (kWantRead); writes taken in pieces, or refused once in a while when `stall` is set.
class FakeStream final : public ByteStream {
 public:
  FakeStream(std::string_view input, Splitter* split) : input_(input), split_(split) {}

  asio::any_io_executor executor() override { return {}; }
  Io Handshake() override { return Io::kDone; }
  Io Read(char* data, size_t size, size_t* read) override {
    *read = 0;
    if (split_->NotYet()) return Io::kWantRead;
    *read = split_->Next(std::min(size, input_.size()));
    if (*read == 0) return Io::kWantRead;
    input_.copy(data, *read);
    input_.remove_prefix(*read);
    return Io::kDone;
  }
  Io Write(const char* data, size_t size, size_t* written) override {
    *written = 0;
    if (stall && split_->Next(4) == 1) return Io::kWantWrite;
    *written = split_->Next(size);
    sent.append(data, *written);
    return Io::kDone;
  }
  bool HasBufferedInput() const override { return false; }
  void Wait(Io, WaitHandler) override {}
  void Close() override { closed = true; }
  const std::string& error() const override { return error_; }
  const char* kind() const override { return "plain TCP"; }
  const std::string& peer() const override { return error_; }

  bool exhausted() const { return input_.empty(); }
  std::string sent;
  bool stall = false;
  bool closed = false;

 private:
  std::string_view input_;
  Splitter* split_;
  std::string error_;
};

struct Outcome {
  std::string payload;
  std::optional<Io> ended;
  std::string error;
  std::string sent;
};

constexpr std::string_view kResponse = "HTTP/1.1 101 Switching Protocols\r\n\r\n";

// Reads the client's bytes until the stream ends or they run out.
Outcome ReadAll(std::string_view input, Splitter* split, FakeStream** inner_out,
                std::unique_ptr<WebSocketStream>* ws_out) {
  auto inner = std::make_unique<FakeStream>(input, split);
  FakeStream* fake = inner.get();
  auto ws = std::make_unique<WebSocketStream>(std::move(inner), std::string(kResponse));
  Check(ws->Handshake() == Io::kDone, "the handshake goes when the stream takes everything");
  Check(fake->sent == kResponse, "the handshake sends the 101 response as given");
  Outcome outcome;
  char buffer[16384];
  while (true) {
    const size_t size = split->Next(sizeof buffer);
    size_t n = 0;
    const Io io = ws->Read(buffer, size == 0 ? 1 : size, &n);
    if (io == Io::kDone) {
      Check(n > 0 && n <= (size == 0 ? 1 : size), "kDone brings bytes, within the buffer");
      outcome.payload.append(buffer, n);
      continue;
    }
    Check(n == 0, "no bytes unless kDone");
    Check(io != Io::kWantWrite, "reads never wait for writes on a stream that takes them");
    if (io == Io::kWantRead) {
      if (fake->exhausted()) break;
      continue;
    }
    Check(io == Io::kClosed || io == Io::kFailed, "a read ends in kClosed or kFailed");
    Check(ws->HasBufferedInput(), "an end not yet read counts as input");
    Check(ws->Read(buffer, 1, &n) == io && n == 0, "the end is said again");
    Check(io == Io::kClosed || ws->error().rfind("WebSocket: ", 0) == 0, "a failure says why");
    outcome.ended = io;
    outcome.error = ws->error();
    break;
  }
  outcome.sent = fake->sent;
  *inner_out = fake;
  *ws_out = std::move(ws);
  return outcome;
}

// Parses what the server sent: unmasked final binary frames of at most 64 KiB.
std::string SentPayload(std::string_view sent) {
  std::string payload;
  while (!sent.empty()) {
    restinio::websocket::basic::impl::ws_parser_t parser;
    sent.remove_prefix(parser.parser_execute(sent.data(), sent.size()));
    Check(parser.header_parsed(), "the server sends whole frames");
    const auto& frame = parser.current_message();
    Check(frame.m_final_flag && !frame.m_mask_flag, "server frames are final and unmasked");
    Check(frame.m_opcode == restinio::websocket::basic::opcode_t::binary_frame, "server data frames are binary");
    Check(frame.payload_len() <= 65536 && frame.payload_len() <= sent.size(), "frames hold at most 64 KiB, all sent");
    payload.append(sent.substr(0, frame.payload_len()));
    sent.remove_prefix(frame.payload_len());
  }
  return payload;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t seed = data[0] | data[1] << 8;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  Splitter pieces(seed, false);
  Splitter whole(seed, true);
  FakeStream* fake = nullptr;
  std::unique_ptr<WebSocketStream> ws;
  std::unique_ptr<WebSocketStream> ws_whole;
  const Outcome split = ReadAll(input, &pieces, &fake, &ws);
  FakeStream* fake_whole = nullptr;
  const Outcome at_once = ReadAll(input, &whole, &fake_whole, &ws_whole);
  Check(split.payload == at_once.payload, "the payload does not depend on how the bytes are split");
  Check(split.ended == at_once.ended && split.error == at_once.error, "nor does the end");
  Check(split.sent == at_once.sent, "nor what is sent back");
  Check(split.payload.size() <= input.size(), "payload comes only from the input");

  // Then a write: the input repeated, now and then past 64 KiB, through a stream that sometimes stalls.
  std::string message;
  const size_t target = seed % 32 == 0 ? 70 * 1024 : seed % 300;
  while (!input.empty() && message.size() < target) message.append(input);
  const size_t mark = fake->sent.size();
  fake->stall = true;
  size_t offset = 0;
  for (int calls = 0; offset < message.size(); ++calls) {
    Check(calls < 100000, "a write finishes");
    size_t n = 0;
    const Io io = ws->Write(message.data() + offset, message.size() - offset, &n);
    if (split.ended) {
      Check(io == Io::kFailed && n == 0, "no data frame after a close frame");
      break;
    }
    if (io == Io::kWantWrite) {
      Check(n == 0, "a stalled write reports nothing yet");
      continue;
    }
    Check(io == Io::kDone && n > 0 && n <= 65536, "a write takes up to 64 KiB");
    offset += n;
  }
  if (!split.ended) {
    Check(SentPayload(std::string_view(fake->sent).substr(mark)) == message, "the frames carry what was written");
  }
  ws->Close();
  Check(fake->closed, "Close closes the inner stream");
  return 0;
}
