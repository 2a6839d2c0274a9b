#include "core/group_commit.h"

#include <exception>
#include <vector>

namespace iothub {
namespace {

Status StorageFailure(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return Status::ServerError(std::string("Storage failed: ") + e.what());
  } catch (...) {
    return Status::ServerError("Storage failed");
  }
}

template <class F>
void Quietly(F&& f) {
  try {
    f();
  } catch (...) {
  }
}

}  // namespace

void GroupCommit::Run(Write write, Failed failed) {
  std::deque<Pending> batch;
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(write), std::move(failed)});
    if (committing_) return;
    committing_ = true;
  }
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        committing_ = false;
        return;
      }
      batch.swap(queue_);
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void GroupCommit::CommitBatch(std::deque<Pending>& batch) {
  std::vector<std::function<void()>> after(batch.size());
  std::vector<std::exception_ptr> errors(batch.size());
  try {
    store_.InTransaction([&] {
      for (size_t i = 0; i < batch.size(); ++i) {
        try {
          store_.InTransaction([&] { after[i] = batch[i].write(); });
        } catch (...) {
          errors[i] = std::current_exception();
        }
      }
    });
  } catch (...) {
    // The commit itself failed: nothing of the batch landed.
    for (auto& e : errors) {
      if (!e) e = std::current_exception();
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (errors[i]) {
      Quietly([&] { batch[i].failed(StorageFailure(errors[i])); });
    } else if (after[i]) {
      Quietly(after[i]);
    }
  }
}

}  // namespace iothub
