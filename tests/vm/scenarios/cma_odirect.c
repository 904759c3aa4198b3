/* A CMA allocation (a 1 GiB huge page of node 1, from the hugetlb1 area)
 * while an O_DIRECT read into 4 pages inside the area is in flight: a
 * thread reads from a null_blk device whose completions are delayed
 * (tests/vm/guests/cma.sh loads it with 3 s). The I/O holds its pages
 * with short-term pins (references before 6.4), never long-term ones: the
 * allocation fails, the first of them is the busy pfn, the others are
 * held in the busy range. */
#include "cma.h"

#include <pthread.h>
#include <time.h>

#define NIO 4

static char *buf;
static int fd;

static void *read_in_flight(void *arg)
{
	(void)arg;
	if (pread(fd, buf, NIO * page_size(), 0) < 0)
		die("O_DIRECT pread");
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	const char *area_problem, *problems[4] = { 0 };
	struct pfn_range area = find_cma_area(&area_problem);
	uint64_t before[NIO], lowest = UINT64_MAX;
	long long fail_delta = 0, success_delta = 0;
	int i, pid = getpid(), allocated = -1, inside = 0;
	double started = 0, alloc_done = 0, read_done = 0;
	pthread_t reader;

	json_begin("cma_odirect", 1, "cma");
	if (!area_problem) {
		buf = pages_in_range(area, NIO);
		fd = open("/dev/nullb0", O_RDONLY | O_DIRECT);
		if (fd < 0)
			die("open /dev/nullb0");
		for (i = 0; i < NIO; i++) {
			before[i] = pfn_of(buf + i * page_size());
			inside += in_area(area, before[i]);
			lowest = before[i] < lowest ? before[i] : lowest;
		}
		started = now();
		if (pthread_create(&reader, NULL, read_in_flight, NULL))
			die("pthread_create");
		usleep(500 * 1000); /* the read is submitted and waits for its completion */
		allocated = try_gigantic(&fail_delta, &success_delta);
		alloc_done = now();
		pthread_join(reader, NULL);
		read_done = now();
		printf(", \"origin\": \"direct_io\"");
		json_expect_page(1, lowest, 1, &pid, "");
		printf("], \"cma_busy_pfn\": %llu, \"forbid_flags\": [\"FOLL_LONGTERM\"]", (unsigned long long)lowest);
		{
			uint64_t others[NIO];
			int n = 0;

			for (i = 0; i < NIO; i++)
				if (before[i] != lowest)
					others[n++] = before[i];
			json_list("expect_held_in_range", others, n);
		}
		printf(", \"alloc_seconds_after_submit\": %.3f, \"read_seconds\": %.3f", alloc_done - started,
		       read_done - started);
	} else {
		printf(", \"expect\": []");
	}
	json_cma(area, allocated, fail_delta, success_delta);
	problems[0] = area_problem;
	if (!area_problem) {
		problems[1] = inside != NIO ? "not every page is inside the CMA area" : NULL;
		problems[2] = allocated != 0 ? "the 1 GiB page was allocated despite the read in flight" : NULL;
		problems[3] = alloc_done >= read_done - 0.05 ? "the read completed before the allocation ended" : NULL;
	}
	json_setup_problems(problems, 4);
	json_end();
	linger();
	return 0;
}
