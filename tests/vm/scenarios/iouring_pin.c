/*
 * Pins 8 of 16 anonymous pages as io_uring fixed buffers
 * (IORING_REGISTER_BUFFERS: FOLL_PIN | FOLL_LONGTERM), then asks
 * move_pages(2) to move all 16 to node 1. The 8 pinned pages must stay.
 *
 * Prints one JSON object: its pid, the pfns of the pinned and unpinned
 * pages before the move (from /proc/self/pagemap), and move_pages' status.
 * Raw syscalls only: it runs in a busybox initramfs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define NPAGES 16
#define NPINNED 8
#define IORING_REGISTER_BUFFERS 0
#define MPOL_BIND 2
#define MPOL_MF_MOVE (1 << 1)

struct io_uring_params_min {
	uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
	uint64_t sq_off[5];
	uint64_t cq_off[5];
};

static uint64_t pfn_of(int pagemap, void *addr)
{
	uint64_t entry = 0;
	long page = sysconf(_SC_PAGESIZE);

	if (pread(pagemap, &entry, sizeof(entry), ((uintptr_t)addr / page) * sizeof(entry)) != sizeof(entry))
		return 0;
	return (entry & (1ULL << 63)) ? (entry & ((1ULL << 55) - 1)) : 0;
}

static void die(const char *what)
{
	fprintf(stderr, "iouring_pin: %s failed\n", what);
	exit(1);
}

/* Non-inlined so the user stack names the step that pinned. */
__attribute__((noinline)) static int register_fixed_buffers(int ring, void *base, size_t len)
{
	struct iovec iov = { .iov_base = base, .iov_len = len };

	return syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long node0 = 1;
	struct io_uring_params_min params;
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES];
	uint64_t before[NPAGES], after[NPAGES];
	char *buf;
	int ring, pagemap, i;
	long ret;

	buf = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	if (syscall(__NR_mbind, buf, NPAGES * page, MPOL_BIND, &node0, 8 * sizeof(node0), 0))
		die("mbind");
	for (i = 0; i < NPAGES; i++)
		buf[i * page] = (char)i;

	memset(&params, 0, sizeof(params));
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		die("io_uring_setup");
	if (register_fixed_buffers(ring, buf, NPINNED * page))
		die("IORING_REGISTER_BUFFERS");

	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		die("open pagemap");
	for (i = 0; i < NPAGES; i++) {
		pages[i] = buf + i * page;
		nodes[i] = 1;
		status[i] = -1;
		before[i] = pfn_of(pagemap, pages[i]);
	}
	ret = syscall(__NR_move_pages, 0, NPAGES, pages, nodes, status, MPOL_MF_MOVE);
	for (i = 0; i < NPAGES; i++)
		after[i] = pfn_of(pagemap, pages[i]);

	printf("{\"pid\": %d, \"move_pages_ret\": %ld, \"pinned_pfns\": [", getpid(), ret);
	for (i = 0; i < NPINNED; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)before[i]);
	printf("], \"unpinned_pfns\": [");
	for (i = NPINNED; i < NPAGES; i++)
		printf("%s%llu", i > NPINNED ? ", " : "", (unsigned long long)before[i]);
	printf("], \"pfns_after\": [");
	for (i = 0; i < NPAGES; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)after[i]);
	printf("], \"status\": [");
	for (i = 0; i < NPAGES; i++)
		printf("%s%d", i ? ", " : "", status[i]);
	printf("]}\n");
	fflush(stdout);
	/* A real long-term pinner outlives the failure; stay long enough for
	 * pintrace's next drain to read this process's memory map. */
	usleep(300 * 1000);
	return 0;
}
