// REST handlers, one function per operation; https_server.cpp maps routes to them.
#pragma once

#include <httplib.h>

#include "http/http_context.h"

namespace iothub::http {

using HandlerFn = void (*)(const HttpContext&, const httplib::Request&, httplib::Response&);

// device_handlers.cpp: the identity registry.
void PutDevice(const HttpContext&, const httplib::Request&, httplib::Response&);
void GetDevice(const HttpContext&, const httplib::Request&, httplib::Response&);
void DeleteDevice(const HttpContext&, const httplib::Request&, httplib::Response&);
void ListDevices(const HttpContext&, const httplib::Request&, httplib::Response&);
void BulkDevices(const HttpContext&, const httplib::Request&, httplib::Response&);

// event_handlers.cpp: the emulator's own read API over the event log (not an IoT Hub API).
void ListEvents(const HttpContext&, const httplib::Request&, httplib::Response&);
// event_stream_handler.cpp: the same as Server-Sent Events, live.
void StreamEvents(const HttpContext&, const httplib::Request&, httplib::Response&);

// twin_handlers.cpp: device twins.
void GetTwin(const HttpContext&, const httplib::Request&, httplib::Response&);
void PatchTwin(const HttpContext&, const httplib::Request&, httplib::Response&);
void ReplaceTwin(const HttpContext&, const httplib::Request&, httplib::Response&);

// method_handlers.cpp: direct methods.
void InvokeMethod(const HttpContext&, const httplib::Request&, httplib::Response&);

// cloud_to_device_handlers.cpp
void SendCloudToDevice(const HttpContext&, const httplib::Request&, httplib::Response&);
void PurgeCloudToDevice(const HttpContext&, const httplib::Request&, httplib::Response&);

// statistics_handlers.cpp
void GetDeviceStatistics(const HttpContext&, const httplib::Request&, httplib::Response&);
void GetServiceStatistics(const HttpContext&, const httplib::Request&, httplib::Response&);
void GetHealth(const HttpContext&, const httplib::Request&, httplib::Response&);

}  // namespace iothub::http
