#include "explain/event_order.hpp"

#include <type_traits>

namespace pintrace {

std::optional<uint64_t> event_time(const Event& e)
{
    return std::visit(
        [](const auto& ev) -> std::optional<uint64_t> {
            using T = std::decay_t<decltype(ev)>;
            if constexpr (requires { ev.head.ts_ns; }) return ev.head.ts_ns;
            else if constexpr (std::is_same_v<T, ProcessInfoEvent>) return ev.ts_ns;
            else return std::nullopt;
        },
        e);
}

}  // namespace pintrace
