// The request and response the REST handlers see: plain values, no HTTP library.
// The server adapter (https_server.cpp) fills an HttpRequest from the wire and
// writes an HttpResponse back, so handlers do not change when the library does.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iothub::http {

// Header fields in arrival order; names compare case-insensitively (RFC 9110 §5.1).
class HttpHeaders {
 public:
  void Add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  // Replaces every field of that name with one.
  void Set(std::string name, std::string value);
  // The first field of that name, nullptr when there is none.
  const std::string* Find(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }

  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// name=value pairs, decoded, in order (query_string.h says how they are parsed).
using QueryParams = std::vector<std::pair<std::string, std::string>>;
// The decoded captures of the matched route pattern, by the pattern's names ("deviceId").
using RouteParams = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;       // as sent: "GET"
  std::string path;         // the request target's path, undecoded, without the query
  RouteParams route_params;
  QueryParams query;
  HttpHeaders headers;
  std::string body;
  std::string remote_address;

  // The capture the route pattern names `name`; "" when it has none (a route table bug).
  const std::string& RouteParam(std::string_view name) const;
  // The first query value of that name.
  std::optional<std::string> Query(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;        // besides Content-Type
  std::string content_type;   // empty when there is no body
  std::string body;
};

// How an asynchronous handler answers: call it exactly once, from any thread.
using ResponseCallback = std::function<void(HttpResponse)>;

// A body sent in chunks as it is produced (the event stream), for as long as the
// client stays. Never blocks. One thread at a time calls TryNext and WhenReady;
// destroying it ends the stream.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // The next text to send, or empty when there is none yet (then call WhenReady).
  // The view stays valid until the next call.
  virtual std::string_view TryNext() = 0;
  // Calls `ready` once, from some other thread and never inline, when TryNext may
  // have text: after a commit, when pacing allows, or when a heartbeat is due (so
  // within a few seconds at most). At most one is pending: a second call replaces
  // the first, which is then never called. `ready` must be cheap (post work) and
  // safe to run even after the source is destroyed (hold a weak pointer): it may
  // still run once, concurrently with the destructor or just after it.
  virtual void WhenReady(std::function<void()> ready) = 0;
};

// What a streaming handler answers: `response` alone when `chunks` is null (an
// error); otherwise the status, headers and content type of `response`, then the chunks.
struct StreamingReply {
  HttpResponse response;
  std::unique_ptr<ChunkSource> chunks;
};

}  // namespace iothub::http
