/*
 * Helpers of the CMA scenarios (kernels with CONFIG_CMA, booted with
 * hugetlb_cma=1:1G hugetlb_cma_only=1: a 1 GiB CMA area "hugetlb1" on
 * node 1, from which every 1 GiB huge page of node 1 must come).
 *
 * Where the area is, found without pintrace: allocate the one 1 GiB page
 * the area can hold (it must come from cma_alloc: the area's
 * alloc_pages_success grows by 262144), find its head in /proc/kpageflags,
 * free it again. The area is exactly that page's range when total_pages
 * says 262144.
 *
 * Pages of the scenario land in the area when the allocator falls back to
 * CMA pageblocks for movable pages: __rmqueue() takes CMA first once free
 * CMA pages exceed half the zone's free pages. tests/vm/guests/cma.sh boots
 * node 1 with 1 GiB below 4 GiB and 2 GiB above (of which the area is the
 * first GiB): filling node 1 gets there after a few hundred MiB.
 */
#ifndef PT_SCENARIO_CMA_H
#define PT_SCENARIO_CMA_H

#include "common.h"

#define CMA_AREA "hugetlb1"
#define CMA_SYSFS "/sys/kernel/mm/cma/" CMA_AREA "/"
#define NR_GIGANTIC_NODE1 "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages"
#define KPF_COMPOUND_HEAD 15
#define KPF_HUGE 17

/* A number from a sysfs file; -1 when it cannot be read. */
static inline long long read_number(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoll(buf, NULL, 10) : -1;
}

static inline long long cma_counter(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), CMA_SYSFS "%s", name);
	return read_number(path);
}

/* Writes nr_hugepages of node 1, returns what it reads back (-1: error). */
static inline long set_gigantic_pages(const char *value)
{
	int fd = open(NR_GIGANTIC_NODE1, O_WRONLY);

	if (fd < 0)
		return -1;
	if (write(fd, value, strlen(value)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return (long)read_number(NR_GIGANTIC_NODE1);
}

/* The first head of a 1 GiB hugetlb folio in [start, end), or 0. */
static inline uint64_t gigantic_head(uint64_t start, uint64_t end)
{
	static uint64_t flags[4096];
	int fd = open("/proc/kpageflags", O_RDONLY);
	uint64_t pfn, found = 0;

	if (fd < 0)
		return 0;
	for (pfn = start; pfn < end && !found; pfn += 4096) {
		ssize_t n = pread(fd, flags, sizeof(flags), pfn * 8);
		long i;

		for (i = 0; i * 8 < n && !found; i++)
			if ((flags[i] & (1ULL << KPF_HUGE)) && (flags[i] & (1ULL << KPF_COMPOUND_HEAD)) &&
			    (pfn + i) % GIGANTIC_PAGES == 0)
				found = pfn + i;
	}
	close(fd);
	return found;
}

/* The CMA area's [start, end), found as above; {0, 0} with *problem set
 * when it could not be. */
static inline struct pfn_range find_cma_area(const char **problem)
{
	struct pfn_range zones[4], area = { 0, 0 };
	long long total = cma_counter("total_pages"), before = cma_counter("alloc_pages_success");
	int n = node1_kernel_zones(zones, 4), z;

	*problem = NULL;
	if (total < 0 || before < 0) {
		*problem = "no CMA area " CMA_AREA " in /sys/kernel/mm/cma (boot with hugetlb_cma=1:1G)";
		return area;
	}
	if (total != (long long)GIGANTIC_PAGES) {
		*problem = "CMA area " CMA_AREA " is not exactly 1 GiB";
		return area;
	}
	if (set_gigantic_pages("1") != 1) {
		*problem = "could not allocate the 1 GiB page that finds the CMA area";
		set_gigantic_pages("0");
		return area;
	}
	if (cma_counter("alloc_pages_success") - before != (long long)GIGANTIC_PAGES)
		*problem = "the 1 GiB page did not come from the CMA area";
	for (z = 0; z < n && !area.end; z++) {
		uint64_t head = gigantic_head(zones[z].start, zones[z].end);

		if (head)
			area = (struct pfn_range){ head, head + GIGANTIC_PAGES };
	}
	set_gigantic_pages("0");
	if (!area.end && !*problem)
		*problem = "the 1 GiB page is not in /proc/kpageflags";
	return area;
}

/* The gigantic page allocation the scenario makes fail: 1 if it succeeded
 * (then freed again), 0 if not, -1 if nr_hugepages could not be written. */
static inline int try_gigantic(long long *fail_delta, long long *success_delta)
{
	long long f0 = cma_counter("alloc_pages_fail"), s0 = cma_counter("alloc_pages_success");
	long got = set_gigantic_pages("1");

	*fail_delta = cma_counter("alloc_pages_fail") - f0;
	*success_delta = cma_counter("alloc_pages_success") - s0;
	set_gigantic_pages("0");
	return got < 0 ? -1 : got == 1;
}

static inline int in_area(struct pfn_range area, uint64_t pfn)
{
	return pfn >= area.start && pfn < area.end;
}

static inline void json_cma(struct pfn_range area, int allocated, long long fail_delta, long long success_delta)
{
	printf(", \"cma\": {\"area\": \"%s\", \"start\": %llu, \"end\": %llu, \"requested_pages\": %lu, "
	       "\"allocated\": %d, \"alloc_pages_fail_delta\": %lld, \"alloc_pages_success_delta\": %lld}",
	       CMA_AREA, (unsigned long long)area.start, (unsigned long long)area.end, GIGANTIC_PAGES, allocated,
	       fail_delta, success_delta);
}

#endif
