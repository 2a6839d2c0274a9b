#include "core/consumer_groups.h"

#include <algorithm>
#include <stdexcept>

namespace iothub {
namespace {

constexpr size_t kMaxNameLength = 50;  // Event Hubs' limit for a consumer group name

bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

const char* ConsumerGroupSourceName(ConsumerGroupSource source) {
  switch (source) {
    case ConsumerGroupSource::kBuiltin: return "builtin";
    case ConsumerGroupSource::kConfig: return "config";
    case ConsumerGroupSource::kApi: return "api";
  }
  return "api";
}

bool SameConsumerGroupName(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return AsciiLower(x) == AsciiLower(y); });
}

Status ValidateConsumerGroupName(std::string_view name) {
  // The rules of Event Hubs (and so of IoT Hub's built-in endpoint), so that a name
  // that works here works in Azure too.
  if (SameConsumerGroupName(name, kDefaultConsumerGroup)) return Status::Ok();
  const std::string quoted = "'" + std::string(name) + "'";
  if (name.empty()) return Status::ArgumentInvalid("A consumer group name must not be empty");
  if (name.size() > kMaxNameLength) {
    return Status::ArgumentInvalid("The consumer group name " + quoted + " is longer than " +
                                   std::to_string(kMaxNameLength) + " characters");
  }
  for (char c : name) {
    if (!IsAsciiAlnum(c) && c != '.' && c != '_' && c != '-') {
      return Status::ArgumentInvalid("The consumer group name " + quoted +
                                     " may contain only letters, digits, '.', '_' and '-'" +
                                     (c == '$' ? " ($Default is the only name with a '$')" : ""));
    }
  }
  if (!IsAsciiAlnum(name.front()) || !IsAsciiAlnum(name.back())) {
    return Status::ArgumentInvalid("The consumer group name " + quoted + " must start and end with a letter or digit");
  }
  return Status::Ok();
}

ConsumerGroups::ConsumerGroups(ConsumerGroupStore& store, const std::vector<std::string>& configured)
    : store_(store) {
  groups_.push_back({std::string(kDefaultConsumerGroup), ConsumerGroupSource::kBuiltin});
  for (const std::string& name : configured) {
    if (Status s = ValidateConsumerGroupName(name); !s.ok()) throw std::invalid_argument(s.message());
    if (!Find(name)) groups_.push_back({name, ConsumerGroupSource::kConfig});
  }
  // A stored group the configuration now declares too stays stored: when the
  // configuration stops declaring it, it is still there, as created.
  for (std::string& name : store_.List()) {
    if (!Find(name)) groups_.push_back({std::move(name), ConsumerGroupSource::kApi});
  }
}

const ConsumerGroup* ConsumerGroups::Find(std::string_view name) const {
  auto it = std::find_if(groups_.begin(), groups_.end(),
                         [&](const ConsumerGroup& g) { return SameConsumerGroupName(g.name, name); });
  return it == groups_.end() ? nullptr : &*it;
}

bool ConsumerGroups::Exists(std::string_view name) const {
  std::lock_guard lock(mu_);
  return Find(name) != nullptr;
}

std::vector<ConsumerGroup> ConsumerGroups::List() const {
  std::lock_guard lock(mu_);
  return groups_;
}

Result<ConsumerGroup> ConsumerGroups::Create(const std::string& name) {
  if (Status s = ValidateConsumerGroupName(name); !s.ok()) return s;
  // IoT Hub has no error code for a consumer group that exists (its groups are made
  // through Azure Resource Manager, not its own REST API). Its only "already exists"
  // codes are 409001 DeviceAlreadyExists and 409301 ModuleAlreadyExistsOnDevice;
  // 409001 is the one for a hub-level entity, and the SDKs map any 409 to their
  // DeviceAlreadyExists error anyway. The message names the group.
  auto exists = [&name] { return Status::DeviceAlreadyExists("The consumer group '" + name + "' already exists"); };
  std::lock_guard lock(mu_);  // held across the store write, so that memory and store agree
  if (Find(name)) return exists();
  if (!store_.Insert(name)) return exists();
  groups_.push_back({name, ConsumerGroupSource::kApi});
  return groups_.back();
}

Status ConsumerGroups::Delete(std::string_view name) {
  std::string deleted;
  {
    std::lock_guard lock(mu_);
    Status s = DeleteLocked(name, deleted);
    if (!s.ok()) return s;
  }
  for (const auto& f : on_deleted_) f(deleted);  // outside the lock: readers' links are closed from here
  return Status::Ok();
}

Status ConsumerGroups::DeleteLocked(std::string_view name, std::string& deleted) {
  const ConsumerGroup* group = Find(name);
  if (!group) {
    return {ErrorCode::kResourceNotFound, "The consumer group '" + std::string(name) + "' does not exist"};
  }
  switch (group->source) {
    case ConsumerGroupSource::kBuiltin:
      return Status::ArgumentInvalid("The consumer group $Default always exists and cannot be deleted");
    case ConsumerGroupSource::kConfig:
      return Status::ArgumentInvalid("The consumer group '" + group->name +
                                     "' is declared by the configuration (--consumer-group); remove it there");
    case ConsumerGroupSource::kApi:
      break;
  }
  deleted = group->name;
  store_.Erase(group->name);
  groups_.erase(groups_.begin() + (group - groups_.data()));
  return Status::Ok();
}

}  // namespace iothub
