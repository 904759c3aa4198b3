/* io_uring fixed buffers on 8 of 16 pages (FOLL_PIN | FOLL_LONGTERM), then
 * move_pages(2) of all 16 to node 1: the 8 pinned pages stay.
 *
 * SCENARIO_MOVE_ON_SIGNAL=1: pin, say "pinned, waiting for SIGUSR1" on
 * stderr, and move only on SIGUSR1, so that the pins are older than a
 * recording started in between (record --snapshot).
 *
 * SCENARIO_THP=1 (the snapshot_live test) also pins a 2 MiB transparent
 * huge page, whole, as the fixed buffer of a second ring: a pinned large
 * folio, whose pins count in the folio's pin count instead of adding the
 * 1024 bias to its refcount. Its head pfn goes in "thp_head" ("thp": false
 * when the kernel did not back the range with a huge page). */
#include <signal.h>

#include "common.h"

#define KPF_COMPOUND_HEAD 15
#define KPF_THP 22
#define THP_BYTES (2UL << 20)

static uint64_t kpageflags_of(uint64_t pfn)
{
	uint64_t flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
			flags = 0;
		close(fd);
	}
	return flags;
}

/* Prints "thp": BOOL, "thp_head": PFN. */
static void pin_huge_page(void)
{
	char *raw = mmap(NULL, 2 * THP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf;
	uint64_t head, flags;
	size_t i;

	if (raw == MAP_FAILED)
		die("mmap (thp)");
	buf = (char *)(((uintptr_t)raw + THP_BYTES - 1) & ~(THP_BYTES - 1));
	if (madvise(buf, THP_BYTES, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	for (i = 0; i < THP_BYTES; i += page_size())
		buf[i] = 1;
	head = pfn_of(buf);
	flags = kpageflags_of(head);
	if ((flags & (1ULL << KPF_THP)) && (flags & (1ULL << KPF_COMPOUND_HEAD)))
		pin_as_fixed_buffers(buf, THP_BYTES / page_size());
	printf(", \"thp\": %s, \"thp_head\": %llu",
	       (flags & (1ULL << KPF_THP)) && (flags & (1ULL << KPF_COMPOUND_HEAD)) ? "true" : "false",
	       (unsigned long long)head);
}

static void wait_for_usr1(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fprintf(stderr, "pinned, waiting for SIGUSR1\n");
	sigwait(&set, &sig);
}

#define NPAGES 16
#define NPINNED 8

int main(void)
{
	char *buf = pages_on_node(NPAGES, 0, 0);
	uint64_t before[NPAGES], after[NPAGES];
	int i, pid = getpid();
	long ret;

	pin_as_fixed_buffers(buf, NPINNED);
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * page_size());
	if (getenv("SCENARIO_MOVE_ON_SIGNAL"))
		wait_for_usr1();
	ret = move_all(buf, NPAGES, 1, MPOL_MF_MOVE);
	for (i = 0; i < NPAGES; i++)
		after[i] = pfn_of(buf + i * page_size());

	json_begin("iouring_pin", 1, "syscall_or_cpuset");
	printf(", \"origin\": \"io_uring_fixed_buffers\"");
	for (i = 0; i < NPINNED; i++)
		json_expect_page(i == 0, before[i], 1, &pid, "\"FOLL_PIN\", \"FOLL_LONGTERM\"");
	printf("]");
	json_list("not_blamed", before + NPINNED, NPAGES - NPINNED);
	json_list("pfns_after", after, NPAGES);
	printf(", \"move_pages_ret\": %ld", ret);
	if (getenv("SCENARIO_THP"))
		pin_huge_page();
	json_end();
	linger();
	return 0;
}
