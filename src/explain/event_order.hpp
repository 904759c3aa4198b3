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
#include <optional>
#include <vector>

#include "events/event.hpp"

namespace pintrace {

// The time an event happened, for those that have one.
std::optional<uint64_t> event_time(const Event& e);

class EventOrder {
public:
    // A record is overtaken only by records reserved between its timestamp
    // and its reservation: microseconds, unless the CPU was preempted there.
    // The count bound keeps the queue in the L2 cache at high event rates.
    static constexpr uint64_t kDefaultWindowNs = 2'000'000;
    static constexpr size_t kMaxQueued = 1024;

    // The ring starts small and grows to what the trace needs (kMaxQueued
    // and a little more, at high event rates): a short trace does not pay
    // for 2048 events' worth of zeroed memory.
    static constexpr size_t kInitialRing = 64;
    explicit EventOrder(uint64_t window_ns = kDefaultWindowNs) : window_ns_(window_ns), ring_(kInitialRing) {}

    // Queues a timed event; returns false for one without a time, which the
    // caller handles at once (stacks and lost-event notes are not ordered).
    bool push(const Event& e);

    // The oldest event, once nothing that arrives later can come before it.
    const Event* ready() const
    {
        if (!size_) return nullptr;
        const Timed& front = at(0);
        if (size_ > kMaxQueued || front.ts + window_ns_ < newest_) return &front.event;
        return nullptr;
    }
    // The oldest event whatever arrives later: at the end of the trace.
    const Event* oldest() const { return size_ ? &at(0).event : nullptr; }
    void pop()
    {
        head_ = (head_ + 1) & (ring_.size() - 1);
        --size_;
    }
    // The i-th oldest queued event (i < size()), for looking ahead.
    const Event& peek(size_t i) const { return at(i).event; }
    size_t size() const { return size_; }

    uint64_t reordered() const { return reordered_; }

private:
    // A ring, not a deque: events are large, and a deque allocates a block
    // per few of them and indexes through a map (a third of the replay's
    // instructions, measured).
    struct Timed {
        uint64_t ts = 0;
        Event event;
    };
    const Timed& at(size_t i) const { return ring_[(head_ + i) & (ring_.size() - 1)]; }
    Timed& at(size_t i) { return ring_[(head_ + i) & (ring_.size() - 1)]; }
    void grow();

    uint64_t window_ns_;
    std::vector<Timed> ring_;  // capacity a power of two
    size_t head_ = 0;
    size_t size_ = 0;
    uint64_t newest_ = 0;
    uint64_t reordered_ = 0;
};

}  // namespace pintrace
