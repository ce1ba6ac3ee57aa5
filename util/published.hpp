// published: a value that one thread replaces while others keep reading it
// (configuration snapshots, file-backend contents). Readers get a shared_ptr
// that stays valid for as long as they hold it; a writer publishes a new value
// atomically. The lock only guards the pointer copy, never any work.
// Thread-safety: all members may be called concurrently.
#pragma once

#include <memory>
#include <mutex>

namespace rcptguard {

template <typename T>
class Published {
public:
    Published() = default;
    explicit Published(std::shared_ptr<const T> v) : value_(std::move(v)) {}

    std::shared_ptr<const T> get() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return value_;
    }
    void publish(std::shared_ptr<const T> v) {
        std::shared_ptr<const T> old;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            old = std::move(value_);
            value_ = std::move(v);
        }
        // old is released here, outside the lock.
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const T> value_;
};

}  // namespace rcptguard
