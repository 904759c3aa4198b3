/*
 * Helpers shared by the VM scenarios: static programs that set up a page
 * state, make a migration fail, and print the ground truth as one JSON
 * object for tests/vm/check_report.py:
 *
 *   {"scenario": NAME, "pid": PID, "expect_failure": BOOL,
 *    "expect": [{"pfn": N, "holders": [{"pid": P, "flags": [..]}]}],
 *    "not_blamed": [N, ...], "reason": REASON}
 *
 * Raw syscalls only: they run in a busybox initramfs.
 */
#ifndef PT_SCENARIO_COMMON_H
#define PT_SCENARIO_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define IORING_REGISTER_BUFFERS 0
#define IORING_UNREGISTER_BUFFERS 1
#define MPOL_BIND 2
#define MPOL_MF_MOVE (1 << 1)
#define MPOL_MF_MOVE_ALL (1 << 2)

static inline long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

static inline __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "scenario: %s failed: %s\n", what, strerror(errno));
	exit(1);
}

/* Anonymous pages bound to one node and touched, so each has a pfn. */
static inline char *pages_on_node(int npages, int node, int shared)
{
	unsigned long mask = 1UL << node;
	char *buf = mmap(NULL, npages * page_size(), PROT_READ | PROT_WRITE,
			 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	int i;

	if (buf == MAP_FAILED)
		die("mmap");
	if (syscall(__NR_mbind, buf, npages * page_size(), MPOL_BIND, &mask, 8 * sizeof(mask), 0))
		die("mbind");
	for (i = 0; i < npages; i++)
		buf[i * page_size()] = (char)(i + 1);
	return buf;
}

static inline uint64_t pfn_of(void *addr)
{
	static int pagemap = -1;
	uint64_t entry = 0;

	if (pagemap < 0)
		pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0 ||
	    pread(pagemap, &entry, sizeof(entry), ((uintptr_t)addr / page_size()) * sizeof(entry)) != sizeof(entry))
		return 0;
	return (entry & (1ULL << 63)) ? (entry & ((1ULL << 55) - 1)) : 0;
}

struct io_uring_params_min {
	uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
	uint64_t sq_off[5];
	uint64_t cq_off[5];
};

/* io_uring fixed buffers: FOLL_PIN | FOLL_LONGTERM on every page. The
 * ring's fd is returned; *err is 0 or the registration's errno (it fails
 * when a long-term pin cannot move pages out of CMA, say). */
static __attribute__((noinline, unused)) int register_fixed_buffers(char *base, int npages, int *err)
{
	struct io_uring_params_min params;
	struct iovec iov = { .iov_base = base, .iov_len = npages * page_size() };
	int ring;

	memset(&params, 0, sizeof(params));
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		die("io_uring_setup");
	*err = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1) ? errno : 0;
	return ring;
}

/* The same, where the registration must succeed. */
static __attribute__((noinline, unused)) int pin_as_fixed_buffers(char *base, int npages)
{
	int err;
	int ring = register_fixed_buffers(base, npages, &err);

	if (err) {
		errno = err;
		die("IORING_REGISTER_BUFFERS");
	}
	return ring;
}

/* move_pages(2) of every page to @node; returns what it returned. */
static inline long move_all(char *buf, int npages, int node, int flags)
{
	void *pages[npages];
	int nodes[npages], status[npages], i;

	for (i = 0; i < npages; i++) {
		pages[i] = buf + i * page_size();
		nodes[i] = node;
	}
	return syscall(__NR_move_pages, 0, npages, pages, nodes, status, flags);
}

/* ---- pages in a clean 1 GiB range of node 1 ----
 *
 * alloc_contig_pages() (gigantic huge pages) tries each 1 GiB-aligned range
 * of a zone that holds no reserved page; memory offline works on 128 MiB
 * blocks. Both give up at isolation, before any migration, when a range
 * holds a kernel page (slab, page table). A scenario that wants its own
 * page to be the only obstacle must put that page in a range with nothing
 * else in it. /proc/kpageflags tells which ranges are clean; filling node 1
 * (lowest addresses are handed out first) reaches them. */

#define GIGANTIC_PAGES (1UL << 18) /* 1 GiB in 4 KiB pages */
#define KPF_LRU 5
#define KPF_BUDDY 10
#define KPF_NOPAGE 20
#define KPF_RESERVED 32

struct pfn_range {
	uint64_t start, end;
};

/* Node 1's DMA32 and Normal zones ([start, end) pfns) from /proc/zoneinfo. */
static inline int node1_kernel_zones(struct pfn_range *zones, int max)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256], zone[32] = "";
	int node = -1, n = 0;
	unsigned long long spanned = 0, start;

	if (!f)
		die("/proc/zoneinfo");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %31s", &node, zone) == 2)
			spanned = 0;
		else if (sscanf(line, " spanned %llu", &spanned) == 1)
			;
		else if (sscanf(line, " start_pfn: %llu", &start) == 1 && node == 1 && spanned &&
			 (!strcmp(zone, "DMA32") || !strcmp(zone, "Normal")) && n < max)
			zones[n++] = (struct pfn_range){ start, start + spanned };
	}
	fclose(f);
	return n;
}

/* Pages of [start, end) that are neither free nor on an LRU list: kernel
 * pages, unmovable for isolation (only meaningful before the scenario frees
 * anything: pages it frees sit on per-CPU lists, neither buddy nor LRU,
 * until isolation drains them); -1 when the range has a hole or a
 * reserved page (alloc_contig_pages() skips it). */
static inline long foreign_pages(uint64_t start, uint64_t end)
{
	static uint64_t flags[4096];
	int fd = open("/proc/kpageflags", O_RDONLY);
	long foreign = 0;
	uint64_t pfn;

	if (fd < 0)
		die("/proc/kpageflags");
	for (pfn = start; pfn < end && foreign >= 0; pfn += 4096) {
		long i;

		if (pread(fd, flags, sizeof(flags), pfn * 8) != sizeof(flags))
			die("reading /proc/kpageflags");
		for (i = 0; i < 4096 && foreign >= 0; i++) {
			if (flags[i] & ((1ULL << KPF_NOPAGE) | (1ULL << KPF_RESERVED)))
				foreign = -1;
			else if (!(flags[i] & ((1ULL << KPF_BUDDY) | (1ULL << KPF_LRU))))
				foreign++;
		}
	}
	close(fd);
	return foreign;
}

/* The first 1 GiB range of node 1 that alloc_contig_pages() would try and
 * that holds no kernel page; dies if there is none (the VM layout of
 * tests/vm/boot.sh has one). */
static inline struct pfn_range clean_gigantic_range(void)
{
	struct pfn_range zones[4];
	int n = node1_kernel_zones(zones, 4), z;

	for (z = 0; z < n; z++) {
		uint64_t r = (zones[z].start + GIGANTIC_PAGES - 1) & ~(GIGANTIC_PAGES - 1);

		for (; r + GIGANTIC_PAGES <= zones[z].end; r += GIGANTIC_PAGES)
			if (foreign_pages(r, r + GIGANTIC_PAGES) == 0)
				return (struct pfn_range){ r, r + GIGANTIC_PAGES };
	}
	errno = ENOSPC;
	die("finding a 1 GiB range of node 1 without kernel pages");
	return (struct pfn_range){ 0, 0 };
}

/* @npages virtually contiguous anonymous pages, all inside @range, and
 * nothing else of this process in node 1. Runs on CPU 0 (node 0) so that
 * its page tables stay out of node 1. */
static inline char *pages_in_range(struct pfn_range range, int npages)
{
	const long page = page_size(), chunk = 4096, max = 3 * GIGANTIC_PAGES;
	unsigned long mask = 1UL << 1, cpu0 = 1;
	char *buf, *found = NULL;
	long i, run = 0, touched = 0;

	if (syscall(__NR_sched_setaffinity, 0, sizeof(cpu0), &cpu0))
		die("sched_setaffinity");
	buf = mmap(NULL, max * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	if (syscall(__NR_mbind, buf, max * page, MPOL_BIND, &mask, 8 * sizeof(mask), 0))
		die("mbind");
	madvise(buf, max * page, 15 /* MADV_NOHUGEPAGE */);
	/* Lowest free addresses first: touch until a run of pages lands in
	 * @range, then stop, keeping well clear of the last-touched pages (they
	 * may still sit in a per-CPU LRU batch, unmovable for isolation). */
	for (touched = 0; touched < max && !found; touched += chunk) {
		for (i = touched; i < touched + chunk; i++)
			buf[i * page] = 1;
		uint64_t last = pfn_of(buf + (touched + chunk - 257) * page);

		if (last < range.start || last >= range.end)
			continue;
		for (i = touched; i < touched + chunk - 256 && !found; i++) {
			uint64_t pfn = pfn_of(buf + i * page);

			run = (pfn >= range.start && pfn < range.end) ? run + 1 : 0;
			if (run == npages)
				found = buf + (i - npages + 1) * page;
		}
	}
	if (!found) {
		errno = ENOMEM;
		die("placing pages in the clean range");
	}
	madvise(buf, found - buf, MADV_DONTNEED);
	madvise(found + npages * page, (buf + max * page) - (found + npages * page), MADV_DONTNEED);
	return found;
}

/* The size of a memory block, the unit memory offline works on. */
static inline long memory_block_bytes(void)
{
	char buf[64] = "";
	int fd = open("/sys/devices/system/memory/block_size_bytes", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		die("block_size_bytes");
	close(fd);
	return strtol(buf, NULL, 16);
}

/* ---- the truth, as JSON ---- */

static inline void json_begin(const char *scenario, int expect_failure, const char *reason)
{
	printf("{\"scenario\": \"%s\", \"pid\": %d, \"expect_failure\": %s, \"reason\": \"%s\"", scenario,
	       getpid(), expect_failure ? "true" : "false", reason);
}

/* One stuck page and who must be blamed for it: pids[i] with flags. */
static inline void json_expect_page(int first, uint64_t pfn, int nholders, const int *pids, const char *flags)
{
	int i;

	printf("%s{\"pfn\": %llu, \"holders\": [", first ? ", \"expect\": [" : ", ", (unsigned long long)pfn);
	for (i = 0; i < nholders; i++)
		printf("%s{\"pid\": %d, \"flags\": [%s]}", i ? ", " : "", pids[i], flags);
	printf("]}");
}

static inline void json_list(const char *key, const uint64_t *pfns, int n)
{
	int i;

	printf(", \"%s\": [", key);
	for (i = 0; i < n; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)pfns[i]);
	printf("]");
}

/* A precondition the scenario found false: check_report.py fails on it. */
static inline void json_setup_problems(const char *const *problems, int n)
{
	int i, first = 1;

	printf(", \"setup_problems\": [");
	for (i = 0; i < n; i++)
		if (problems[i]) {
			printf("%s\"%s\"", first ? "" : ", ", problems[i]);
			first = 0;
		}
	printf("]");
}

static inline void json_end(void)
{
	printf("}\n");
	fflush(stdout);
}

/* A real holder outlives the failure: stay long enough for pintrace's
 * next drain to read this process's memory map. SCENARIO_LINGER_MS holds
 * on longer, for a live view (pintrace top) to watch it. */
static inline void linger(void)
{
	const char *ms = getenv("SCENARIO_LINGER_MS");

	usleep((ms ? atoi(ms) : 300) * 1000);
}

#endif
