/* FOLL_LONGTERM on pages inside the CMA area (hugetlb1 on node 1).
 *
 * 1. 8 pages inside the area registered as io_uring fixed buffers: the
 *    long-term pin first migrates them out of CMA (migrate_pages() with
 *    MR_LONGTERM_PIN), then pins the copies. The registration succeeds, the
 *    pinned pages are outside the area, and the 1 GiB page the area holds
 *    can then be allocated: nothing in it is held.
 * 2. 8 more pages inside the area, 4 of them vmspliced into a pipe nobody
 *    reads, then registered: the migration out fails on the 4 referenced
 *    pages, so the pin fails (the registration returns an error) and those
 *    4 pages are the failure's, held by this process as FOLL_GET. */
#include "cma.h"

#define NPAGES 8
#define NHELD 4

int main(void)
{
	const char *area_problem, *problems[6] = { 0 };
	struct pfn_range area = find_cma_area(&area_problem);
	uint64_t a_before[NPAGES], a_after[NPAGES], b_before[NPAGES], b_after[NPAGES];
	long long fail_delta = 0, success_delta = 0;
	int i, pid = getpid(), allocated = -1, a_inside = 0, a_outside_after = 0, b_inside = 0, a_err = 0, b_err = 0;
	int fds[2];

	json_begin("cma_longterm", 1, "longterm_pin");
	if (!area_problem) {
		char *a = pages_in_range(area, NPAGES), *b;
		struct iovec iov;

		for (i = 0; i < NPAGES; i++) {
			a_before[i] = pfn_of(a + i * page_size());
			a_inside += in_area(area, a_before[i]);
		}
		register_fixed_buffers(a, NPAGES, &a_err);
		for (i = 0; i < NPAGES; i++) {
			a_after[i] = pfn_of(a + i * page_size());
			a_outside_after += !in_area(area, a_after[i]);
		}
		/* Nothing of the area is held now: the 1 GiB page fits. */
		allocated = try_gigantic(&fail_delta, &success_delta);

		b = pages_in_range(area, NPAGES);
		for (i = 0; i < NPAGES; i++) {
			b_before[i] = pfn_of(b + i * page_size());
			b_inside += in_area(area, b_before[i]);
		}
		iov = (struct iovec){ .iov_base = b, .iov_len = NHELD * page_size() };
		if (pipe(fds) || fcntl(fds[1], F_SETPIPE_SZ, 64 * page_size()) < 0)
			die("pipe");
		if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)(NHELD * page_size()))
			die("vmsplice");
		register_fixed_buffers(b, NPAGES, &b_err);
		for (i = 0; i < NPAGES; i++)
			b_after[i] = pfn_of(b + i * page_size());

		printf(", \"origin\": \"vmsplice\"");
		for (i = 0; i < NHELD; i++)
			json_expect_page(i == 0, b_before[i], 1, &pid, "\"FOLL_GET\"");
		printf("]");
		{
			/* The pages that moved (A's, B's unheld ones): the pfns
			 * A left may be B's again, the held ones excepted. */
			uint64_t moved[2 * NPAGES];
			int n = 0, j;

			for (i = 0; i < 2 * NPAGES; i++) {
				uint64_t pfn = i < NPAGES ? a_before[i] : b_before[i - NPAGES];
				int held = 0;

				if (i >= NPAGES && i - NPAGES < NHELD)
					continue;
				for (j = 0; j < NHELD; j++)
					held |= b_before[j] == pfn;
				for (j = 0; j < n; j++)
					held |= moved[j] == pfn;
				if (!held)
					moved[n++] = pfn;
			}
			json_list("not_blamed", moved, n);
		}
		json_list("longterm_moved_from", a_before, NPAGES);
		json_list("longterm_moved_to", a_after, NPAGES);
		json_list("pin_failed_pfns_before", b_before, NPAGES);
		json_list("pin_failed_pfns_after", b_after, NPAGES);
		printf(", \"first_register_errno\": %d, \"second_register_errno\": %d", a_err, b_err);
	} else {
		printf(", \"expect\": []");
	}
	json_cma(area, allocated, fail_delta, success_delta);
	problems[0] = area_problem;
	if (!area_problem) {
		problems[1] = a_inside != NPAGES || b_inside != NPAGES ? "not every page is inside the CMA area" : NULL;
		problems[2] = a_err ? "registering the unheld pages failed" : NULL;
		problems[3] = a_outside_after != NPAGES ? "the long-term pin left pages inside the CMA area" : NULL;
		problems[4] = allocated != 1 ? "the 1 GiB page could not be allocated after the pin moved the pages out" : NULL;
		problems[5] = !b_err ? "registering pages held by vmsplice succeeded" : NULL;
	}
	json_setup_problems(problems, 6);
	json_end();
	linger();
	return 0;
}
