/* A CMA allocation (a 1 GiB huge page of node 1, from the hugetlb1 area)
 * while 4 of 8 pages that landed inside the area are vmspliced into a pipe
 * nobody reads: FOLL_GET references, which compaction's isolation skips.
 * The allocation fails with EBUSY; the first held page is the busy pfn the
 * kernel names, the other 3 are held in the busy range, and the 4 unheld
 * pages move out of the area (not to be blamed). */
#include "cma.h"

#define NPAGES 8
#define NHELD 4

int main(void)
{
	const char *area_problem, *problems[4] = { 0 };
	struct pfn_range area = find_cma_area(&area_problem);
	uint64_t before[NPAGES], after[NPAGES], lowest = UINT64_MAX;
	long long fail_delta = 0, success_delta = 0;
	int fds[2], i, pid = getpid(), allocated = -1, moved = 0, inside = 0;
	char *buf = NULL;

	json_begin("cma_vmsplice", 1, "cma");
	if (!area_problem) {
		struct iovec iov;

		buf = pages_in_range(area, NPAGES);
		iov = (struct iovec){ .iov_base = buf, .iov_len = NHELD * page_size() };
		if (pipe(fds) || fcntl(fds[1], F_SETPIPE_SZ, 64 * page_size()) < 0)
			die("pipe");
		if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)(NHELD * page_size()))
			die("vmsplice");
		for (i = 0; i < NPAGES; i++) {
			before[i] = pfn_of(buf + i * page_size());
			inside += in_area(area, before[i]);
		}
		allocated = try_gigantic(&fail_delta, &success_delta);
		for (i = 0; i < NPAGES; i++) {
			after[i] = pfn_of(buf + i * page_size());
			moved += i >= NHELD && after[i] != before[i];
		}
		for (i = 0; i < NHELD; i++)
			lowest = before[i] < lowest ? before[i] : lowest;
		printf(", \"origin\": \"vmsplice\"");
		json_expect_page(1, lowest, 1, &pid, "\"FOLL_GET\"");
		printf("], \"cma_busy_pfn\": %llu", (unsigned long long)lowest);
		{
			uint64_t others[NHELD];
			int n = 0;

			for (i = 0; i < NHELD; i++)
				if (before[i] != lowest)
					others[n++] = before[i];
			json_list("expect_held_in_range", others, n);
		}
		json_list("not_blamed", before + NHELD, NPAGES - NHELD);
		json_list("pfns_after", after, NPAGES);
		printf(", \"unheld_moved\": %d", moved);
	} else {
		printf(", \"expect\": []");
	}
	json_cma(area, allocated, fail_delta, success_delta);
	problems[0] = area_problem;
	if (!area_problem) {
		problems[1] = inside != NPAGES ? "not every page is inside the CMA area" : NULL;
		problems[2] = allocated != 0 ? "the 1 GiB page was allocated despite the held pages" : NULL;
		problems[3] = fail_delta != (long long)GIGANTIC_PAGES ? "alloc_pages_fail did not grow by 262144" : NULL;
	}
	json_setup_problems(problems, 4);
	json_end();
	linger();
	return 0;
}
