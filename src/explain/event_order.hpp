// Restores timestamp order across CPUs before events reach the ledger.
//
// All CPUs share one ring buffer, and a BPF program takes its timestamp
// before it reserves its record: a CPU that stamps first can reserve second.
// In file order, a completion on one CPU can then come before the grab it
// releases, and the ledger would keep that pin forever. Events wait here
// until they are older than the newest by the window (or the queue holds
// kMaxQueued), then leave oldest first; ties keep file order.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "events/event.hpp"

namespace pintrace {

// The time an event happened, for those that have one.
std::optional<uint64_t> event_time(const Event& e);

class EventOrder {
public:
    // A record is overtaken only by records reserved between its timestamp
    // and its reservation: microseconds, unless the CPU was preempted there.
    static constexpr uint64_t kDefaultWindowNs = 2'000'000;
    static constexpr size_t kMaxQueued = 8192;

    explicit EventOrder(uint64_t window_ns = kDefaultWindowNs) : window_ns_(window_ns) {}

    // Queues a timed event; returns false for one without a time, which the
    // caller handles at once (stacks and lost-event notes are not ordered).
    bool push(const Event& e)
    {
        auto ts = event_time(e);
        if (!ts) return false;
        if (queue_.empty() || *ts >= queued_time(queue_.back())) {
            queue_.push_back(e);
        } else {
            auto it = queue_.end();
            while (it != queue_.begin() && queued_time(*(it - 1)) > *ts) --it;
            queue_.insert(it, e);
            ++reordered_;
        }
        if (*ts > newest_) newest_ = *ts;
        return true;
    }

    // The oldest event, once nothing that arrives later can come before it.
    const Event* ready() const
    {
        if (queue_.empty()) return nullptr;
        if (queue_.size() > kMaxQueued || queued_time(queue_.front()) + window_ns_ < newest_) return &queue_.front();
        return nullptr;
    }
    // The oldest event whatever arrives later: at the end of the trace.
    const Event* oldest() const { return queue_.empty() ? nullptr : &queue_.front(); }
    void pop() { queue_.pop_front(); }

    uint64_t reordered() const { return reordered_; }
    // The queued events, oldest first, for looking ahead (prefetch).
    const std::deque<Event>& queued() const { return queue_; }

private:
    static uint64_t queued_time(const Event& e) { return *event_time(e); }

    std::deque<Event> queue_;
    uint64_t window_ns_;
    uint64_t newest_ = 0;
    uint64_t reordered_ = 0;
};

}  // namespace pintrace
