/* Benchmark workloads for the cost model (docs/performance.md, "Cost model"):
 * one operation in a loop for SECONDS, so that a recording of it gives the
 * capture's events (and BPF program runs) per operation.
 *
 *   cost_ops uring_fixed DEVICE SECONDS  4 KiB O_DIRECT reads through io_uring
 *                                        into a registered (fixed) buffer
 *   cost_ops vmsplice    -      SECONDS  a 4 KiB page vmspliced into a pipe, read back
 *   cost_ops thp         -      SECONDS  a 2 MiB transparent huge page faulted in, unmapped
 *
 * Prints {"op": "MODE", "ops": N, "seconds": S, "ops_per_s": R}.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* One read at a time: submit, wait, reap. The buffer was pinned once, at
 * registration; a fixed read should grab nothing. */
static long uring_fixed(const char *device, double seconds)
{
	struct io_uring_params p;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	char *sq, *cq, *buf;
	struct iovec iov;
	double start;
	long ops = 0;
	int ring, fd;

	fd = open(device, O_RDONLY | O_DIRECT);
	buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (fd < 0 || buf == MAP_FAILED)
		die("open/mmap");
	memset(&p, 0, sizeof(p));
	ring = syscall(__NR_io_uring_setup, 4, &p);
	if (ring < 0)
		die("io_uring_setup");
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED,
		  ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE,
		  MAP_SHARED, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		    IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		die("mmap (ring)");
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	iov.iov_base = buf;
	iov.iov_len = 4096;
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1))
		die("IORING_REGISTER_BUFFERS");

	start = now();
	do {
		unsigned tail = *sq_tail, idx = tail & *sq_mask, head;
		struct io_uring_sqe *sqe = &sqes[idx];

		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = IORING_OP_READ_FIXED;
		sqe->fd = fd;
		sqe->addr = (uintptr_t)buf;
		sqe->len = 4096;
		sqe->off = (uint64_t)(ops % 1024) * 4096;
		sqe->buf_index = 0;
		sq_array[idx] = idx;
		__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
		if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			die("io_uring_enter");
		head = *cq_head;
		if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE))
			continue;
		if (cqes[head & *cq_mask].res != 4096) {
			fprintf(stderr, "read: %d\n", cqes[head & *cq_mask].res);
			exit(1);
		}
		__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
		ops++;
	} while ((ops & 255) || now() - start < seconds);
	return ops;
}

/* vmsplice grabs the page (FOLL_GET); reading the pipe drops the reference. */
static long vmsplice_loop(double seconds)
{
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	char out[4096];
	int pipefd[2];
	double start;
	long ops = 0;

	if (page == MAP_FAILED || pipe(pipefd))
		die("mmap/pipe");
	start = now();
	do {
		struct iovec iov = { .iov_base = page, .iov_len = 4096 };

		if (vmsplice(pipefd[1], &iov, 1, 0) != 4096)
			die("vmsplice");
		if (read(pipefd[0], out, sizeof(out)) != 4096)
			die("read");
		ops++;
	} while ((ops & 255) || now() - start < seconds);
	return ops;
}

/* A huge page faulted in and unmapped: no GUP at all, one order-9 free. */
static long thp_loop(double seconds)
{
	const size_t huge = 2UL << 20;
	double start = now();
	long ops = 0;

	do {
		char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *p;

		if (raw == MAP_FAILED)
			die("mmap");
		p = (char *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
		madvise(p, huge, MADV_HUGEPAGE);
		p[0] = 1;
		munmap(raw, 2 * huge);
		ops++;
	} while ((ops & 15) || now() - start < seconds);
	return ops;
}

int main(int argc, char **argv)
{
	double seconds = argc > 3 ? atof(argv[3]) : 3, start, end;
	const char *mode = argc > 1 ? argv[1] : "";
	long ops;

	start = now();
	if (!strcmp(mode, "uring_fixed") && argc > 2)
		ops = uring_fixed(argv[2], seconds);
	else if (!strcmp(mode, "vmsplice"))
		ops = vmsplice_loop(seconds);
	else if (!strcmp(mode, "thp"))
		ops = thp_loop(seconds);
	else {
		fprintf(stderr, "usage: cost_ops uring_fixed|vmsplice|thp DEVICE SECONDS\n");
		return 2;
	}
	end = now();
	printf("{\"op\": \"%s\", \"ops\": %ld, \"seconds\": %.3f, \"ops_per_s\": %.0f}\n", mode, ops, end - start,
	       ops / (end - start));
	return 0;
}
