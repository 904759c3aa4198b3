/* The page-churn workload of docs/performance.md ("Frees: the tax on every
 * workload"): ROUNDS times, map MIB MiB, touch every page, unmap it. Nothing
 * is pinned: every page is allocated and freed through the buddy allocator,
 * so a recorder's mm_page_free program runs once per page. Prints its own
 * time, so a recorder's start-up is not counted:
 *   page_churn [ROUNDS] [MIB]   ->   seconds=S pages=N
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	long mib = argc > 2 ? atol(argv[2]) : 256;
	size_t bytes = (size_t)mib << 20;
	struct timespec t0, t1;
	long pages = 0;

	if (rounds < 1 || mib < 1) {
		fprintf(stderr, "usage: page_churn [ROUNDS >= 1] [MIB >= 1]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int r = 0; r < rounds; r++) {
		char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		/* No transparent huge pages: order-0 frees, the common and costly case. */
		madvise(p, bytes, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < bytes; off += 4096, pages++)
			p[off] = 1;
		munmap(p, bytes);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("seconds=%.3f pages=%ld\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, pages);
	return 0;
}
