#include "explain/event_order.hpp"

#include <type_traits>
#include <utility>

namespace pintrace {

std::optional<uint64_t> event_time(const Event& e)
{
    return std::visit(
        [](const auto& ev) -> std::optional<uint64_t> {
            using T = std::decay_t<decltype(ev)>;
            if constexpr (requires { ev.head.ts_ns; })
                return ev.head.ts_ns;
            else if constexpr (std::is_same_v<T, ProcessInfoEvent> || std::is_same_v<T, PipeOpenersEvent>)
                return ev.ts_ns;
            else
                return std::nullopt;
        },
        e);
}

bool EventOrder::push(const Event& e)
{
    auto ts = event_time(e);
    if (!ts) return false;
    if (size_ == ring_.size()) grow();
    // Usually in order: the new event goes last. Otherwise later ones move
    // up one place to make room (ties stay in file order).
    size_t pos = size_;
    while (pos > 0 && at(pos - 1).ts > *ts) --pos;
    if (pos != size_) {
        ++reordered_;
        for (size_t i = size_; i > pos; --i) at(i) = std::move(at(i - 1));
    }
    at(pos).ts = *ts;
    at(pos).event = e;
    ++size_;
    if (*ts > newest_) newest_ = *ts;
    return true;
}

// Only when the end of a trace (or kMaxQueued) is not draining it, e.g. a
// trace with no records after a burst: the queue never drops events.
void EventOrder::grow()
{
    std::vector<Timed> bigger(ring_.size() * 2);
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move(at(i));
    ring_ = std::move(bigger);
    head_ = 0;
}

}  // namespace pintrace
