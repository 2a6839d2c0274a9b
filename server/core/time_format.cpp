#include "core/time_format.h"

#include <ctime>
#include <cstdio>

namespace iothub {
namespace {

std::tm UtcParts(TimePoint t) {
  std::time_t seconds = Clock::to_time_t(t);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  return parts;
}

}  // namespace

std::string FormatIso8601(TimePoint t) {
  if (t == kNever) return "0001-01-01T00:00:00Z";
  std::tm p = UtcParts(t);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", p.tm_year + 1900, p.tm_mon + 1, p.tm_mday,
                p.tm_hour, p.tm_min, p.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string FormatErrorTimestamp(TimePoint t) {
  std::tm p = UtcParts(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d/%02d/%04d %02d:%02d:%02d", p.tm_mon + 1, p.tm_mday, p.tm_year + 1900, p.tm_hour,
                p.tm_min, p.tm_sec);
  return buf;
}

int64_t DotNetTicks(TimePoint t) {
  constexpr int64_t kUnixEpochTicks = 621355968000000000;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return kUnixEpochTicks + us * 10;
}

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<TimePoint> ParseIso8601(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits++ < 3) millis = millis * 10 + (*rest - '0');
      ++rest;
    }
    while (digits++ < 3) millis *= 10;
  }
  if (*rest != 'Z' && *rest != '\0') return std::nullopt;
  return Clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(millis);
}

}  // namespace iothub
