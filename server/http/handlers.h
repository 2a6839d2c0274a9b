// REST handlers, one function per operation; routes.cpp maps paths to them.
// A handler reads the request's decoded route params ("deviceId") and answers
// with a value; none of them sees the HTTP library.
#pragma once

#include "http/http_context.h"
#include "http/http_message.h"

namespace iothub::http {

// device_handlers.cpp: the identity registry. The writes answer through `done` once
// durable, possibly from the thread of another write that shared their commit.
void PutDevice(const HttpContext&, const HttpRequest&, ResponseCallback done);
HttpResponse GetDevice(const HttpContext&, const HttpRequest&);
void DeleteDevice(const HttpContext&, const HttpRequest&, ResponseCallback done);
HttpResponse ListDevices(const HttpContext&, const HttpRequest&);
void BulkDevices(const HttpContext&, const HttpRequest&, ResponseCallback done);

// event_handlers.cpp: the emulator's own read API over the event log (not an IoT Hub API).
HttpResponse ListEvents(const HttpContext&, const HttpRequest&);
// event_stream_handler.cpp: the same as Server-Sent Events, live.
StreamingReply StreamEvents(const HttpContext&, const HttpRequest&);

// twin_handlers.cpp: device twins.
HttpResponse GetTwin(const HttpContext&, const HttpRequest&);
HttpResponse PatchTwin(const HttpContext&, const HttpRequest&);
HttpResponse ReplaceTwin(const HttpContext&, const HttpRequest&);

// method_handlers.cpp: direct methods. Answers through `done` when the device does,
// or the call fails or times out: possibly before returning, possibly on another thread.
void InvokeMethod(const HttpContext&, const HttpRequest&, ResponseCallback done);

// cloud_to_device_handlers.cpp
HttpResponse SendCloudToDevice(const HttpContext&, const HttpRequest&);
HttpResponse PurgeCloudToDevice(const HttpContext&, const HttpRequest&);

// consumer_group_handlers.cpp: the Event Hub-compatible endpoint's consumer groups (emulator-only).
HttpResponse ListConsumerGroups(const HttpContext&, const HttpRequest&);
HttpResponse PutConsumerGroup(const HttpContext&, const HttpRequest&);
HttpResponse DeleteConsumerGroup(const HttpContext&, const HttpRequest&);

// statistics_handlers.cpp
HttpResponse GetDeviceStatistics(const HttpContext&, const HttpRequest&);
HttpResponse GetServiceStatistics(const HttpContext&, const HttpRequest&);
HttpResponse GetHealth(const HttpContext&, const HttpRequest&);

}  // namespace iothub::http
