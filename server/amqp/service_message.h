// What the service client and the hub say to each other on the service's nodes (spec §7):
// the cloud-to-device message a back end sends on /messages/devicebound, and the feedback
// message the hub sends on /messages/serviceBound/feedback.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/cloud_to_device.h"
#include "core/cloud_to_device_feedback.h"
#include "core/status.h"

namespace iothub::amqp {

// IoT Hub's limit on a cloud-to-device message, the whole encoded message.
inline constexpr size_t kMaxCloudToDeviceBytes = 64 * 1024;
inline constexpr const char* kFeedbackContentType = "application/vnd.microsoft.iothub.feedback.json";

// The device id a message's `to` names: "/devices/{url-encoded id}/messages/devicebound"
// (the leading '/' optional); nullopt for anything else.
std::optional<std::string> DeviceIdOfAddress(std::string_view to);

// Decodes an encoded AMQP message (the bytes of one delivery) into the message for the
// device its `to` names: message-id and correlation-id (string, uuid, ulong or binary, as
// text), user-id, content-type, content-encoding, absolute-expiry-time, the application
// properties (`iothub-ack` becomes the ack; other scalars as text) and the body (data
// sections, or an amqp-value string or binary). ArgumentInvalid, saying why, for what is
// not such a message: not AMQP, no or a bad `to`, a bad ack, a property not a scalar.
Result<CloudToDeviceMessage> DecodeServiceMessage(std::string_view bytes);

// The JSON array of a batch's records, as IoT Hub writes them.
std::string FeedbackJson(const FeedbackBatch& batch);
// The encoded feedback message: message-id `message_id`, user-id the hub's name, content-type
// kFeedbackContentType, annotation iothub-enqueuedtime `now`, the records as a data section.
std::string EncodeFeedbackMessage(const FeedbackBatch& batch, const std::string& message_id,
                                  const std::string& hub_name, TimePoint now);

}  // namespace iothub::amqp
