// Time as IoT Hub writes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace iothub {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// IoT Hub's "never": .NET DateTime.MinValue.
inline constexpr TimePoint kNever{};

// "2026-11-26T14:30:59.123Z"; kNever as "0001-01-01T00:00:00Z", as the hub does.
std::string FormatIso8601(TimePoint t);
// "2026-11-26T14:30:59.123Z" (or without the fraction, or without the Z: UTC either way); nullopt otherwise.
std::optional<TimePoint> ParseIso8601(const std::string& text);
// Legacy error bodies' "MM/dd/yyyy HH:mm:ss".
std::string FormatErrorTimestamp(TimePoint t);
// .NET ticks (100 ns since 0001-01-01), the form of IoT Hub's generationId.
int64_t DotNetTicks(TimePoint t);
int64_t UnixSeconds(TimePoint t);

}  // namespace iothub
