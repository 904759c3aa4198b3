// A hash table from pfn to a small value, for the million-page ledger.
//
// Open addressing with linear probing and backward-shift deletion: one flat
// array, no node per page (std::unordered_map spent 40 of the 140 bytes per
// page on its node and bucket, and a malloc/free per grab and release; see
// docs/performance.md). Every pfn hashes on its own: keeping runs of
// neighbouring pfns in neighbouring slots saved cache lines on ranges but
// made the dense runs of pinned buffers merge into probe clusters hundreds
// of slots long (2.5x the instructions, measured). A table past 2 MiB asks
// for transparent huge pages: its accesses are random, and a TLB miss on
// each cost more than the probe.
#pragma once

#include <sys/mman.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace pintrace {

template <class V>
class PfnTable {
public:
    PfnTable() { reset(kMinCapacity); }

    V* find(uint64_t pfn)
    {
        for (size_t i = home(pfn);; i = (i + 1) & mask_) {
            if (slots_[i].pfn == pfn) return &slots_[i].value;
            if (slots_[i].pfn == kEmpty) return nullptr;
        }
    }
    const V* find(uint64_t pfn) const { return const_cast<PfnTable*>(this)->find(pfn); }

    // The value for pfn, value-initialized if it was not there.
    std::pair<V*, bool> insert(uint64_t pfn)
    {
        // Load <= 0.75: linear probing slows sharply past it, and a table just
        // doubled still spends at most 24 / 0.375 = 64 bytes per page.
        if ((size_ + 1) * 4 > capacity() * 3) reset(capacity() * 2);
        size_t i = home(pfn);
        for (; slots_[i].pfn != kEmpty; i = (i + 1) & mask_)
            if (slots_[i].pfn == pfn) return {&slots_[i].value, false};
        slots_[i].pfn = pfn;
        slots_[i].value = V{};
        ++size_;
        return {&slots_[i].value, true};
    }

    // Room for n values without growing on the way (a large folio's grab
    // would otherwise rehash the table several times over).
    void reserve(size_t n)
    {
        size_t capacity = this->capacity();
        while (n * 4 > capacity * 3) capacity *= 2;
        if (capacity != this->capacity()) reset(capacity);
    }

    bool erase(uint64_t pfn)
    {
        size_t hole = home(pfn);
        for (; slots_[hole].pfn != pfn; hole = (hole + 1) & mask_)
            if (slots_[hole].pfn == kEmpty) return false;
        erase_slot(hole);
        shrink_if_sparse();
        return true;
    }
    // The same for a value find() returned, without probing for it again.
    void erase(V* value)
    {
        auto offset = reinterpret_cast<const char*>(value) - reinterpret_cast<const char*>(&slots_[0].value);
        erase_slot(static_cast<size_t>(offset) / sizeof(Slot));
        shrink_if_sparse();
    }

private:
    // A table an eighth full halves (to a quarter full): for_each() and the
    // memory cost what is held now, not the most ever held.
    void shrink_if_sparse()
    {
        if (capacity() > kMinCapacity && size_ * 8 < capacity()) reset(capacity() / 2);
    }

    // Later slots of the probe run move back into the hole, so lookups need
    // no tombstones and the table never degrades under churn.
    void erase_slot(size_t hole)
    {
        for (size_t j = (hole + 1) & mask_; slots_[j].pfn != kEmpty; j = (j + 1) & mask_) {
            size_t want = home(slots_[j].pfn);
            // Slot j may move to the hole unless its home lies cyclically in (hole, j].
            bool stays = hole <= j ? (hole < want && want <= j) : (hole < want || want <= j);
            if (stays) continue;
            slots_[hole] = slots_[j];
            hole = j;
        }
        slots_[hole].pfn = kEmpty;
        --size_;
    }

public:
    // Replays look pages up in trace order: fetching a slot's line ahead of
    // its use lets several cache misses overlap.
    void prefetch(uint64_t pfn) const { __builtin_prefetch(&slots_[home(pfn)]); }

    // f(pfn, value) for each entry; costs capacity(), at most 8 x size() + 64.
    template <class F>
    void for_each(F&& f) const
    {
        for (size_t i = 0; i < capacity(); ++i)
            if (slots_[i].pfn != kEmpty) f(slots_[i].pfn, slots_[i].value);
    }

    size_t size() const { return size_; }
    size_t capacity() const { return mask_ + 1; }

private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    static constexpr size_t kMinCapacity = 64;
    static constexpr size_t kHugePage = size_t{2} << 20;

    struct Slot {
        uint64_t pfn;
        V value;
    };
    static_assert(std::is_trivially_copyable_v<V>);

    struct Unmap {
        size_t bytes;
        void operator()(Slot* p) const { munmap(p, bytes); }
    };
    using Slots = std::unique_ptr<Slot[], Unmap>;

    static Slots allocate(size_t capacity)
    {
        size_t bytes = capacity * sizeof(Slot);
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        if (bytes >= kHugePage) madvise(p, bytes, MADV_HUGEPAGE);  // a hint: fine if refused
        Slots slots(static_cast<Slot*>(p), Unmap{bytes});
        for (size_t i = 0; i < capacity; ++i) slots[i].pfn = kEmpty;
        return slots;
    }

    size_t home(uint64_t pfn) const { return (pfn * 0x9E3779B97F4A7C15ull) >> shift_; }

    void reset(size_t capacity)
    {
        size_t old_capacity = slots_ ? mask_ + 1 : 0;
        Slots old = std::move(slots_);
        slots_ = allocate(capacity);
        mask_ = capacity - 1;
        shift_ = 64 - std::countr_zero(capacity);
        size_ = 0;
        for (size_t i = 0; i < old_capacity; ++i)
            if (old[i].pfn != kEmpty) *insert(old[i].pfn).first = old[i].value;
    }

    Slots slots_;
    size_t mask_ = 0;
    unsigned shift_ = 64;
    size_t size_ = 0;
};

}  // namespace pintrace
