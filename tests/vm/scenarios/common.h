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

static inline void die(const char *what)
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

/* io_uring fixed buffers: FOLL_PIN | FOLL_LONGTERM on every page. */
static __attribute__((noinline, unused)) int pin_as_fixed_buffers(char *base, int npages)
{
	struct io_uring_params_min params;
	struct iovec iov = { .iov_base = base, .iov_len = npages * page_size() };
	int ring;

	memset(&params, 0, sizeof(params));
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		die("io_uring_setup");
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1))
		die("IORING_REGISTER_BUFFERS");
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

static inline void json_end(void)
{
	printf("}\n");
	fflush(stdout);
}

/* A real holder outlives the failure: stay long enough for pintrace's
 * next drain to read this process's memory map. */
static inline void linger(void)
{
	usleep(300 * 1000);
}

#endif
