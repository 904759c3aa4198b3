/* A 1 GiB huge page for node 1 (alloc_contig_pages → alloc_contig_range)
 * while 8 pages in the only clean 1 GiB range of node 1 are io_uring fixed
 * buffers (FOLL_PIN | FOLL_LONGTERM). Every other range of node 1 is
 * refused earlier (reserved or kernel pages), so the pin is the one reason
 * the allocation fails. Compaction's isolation skips anonymous pages with
 * more references than mappings, so the pinned pages never reach
 * migrate_pages(): test_pages_isolated() finds the lowest of them busy, and
 * the other seven must show as held in that range.
 *
 * On 5.10, alloc_contig_pages() skips every range holding a page in use
 * (pfn_range_valid_contig() checks page_count) without trying it: the
 * allocation fails with no migration, no isolation and nothing to trace.
 * There the truth is that nothing may be blamed. (The 6.x rule below is
 * what 5.10, 6.1 and 6.12 show; kernels in between were not run.) */
#include "common.h"

#include <sys/utsname.h>

/* Does alloc_contig_pages() try a range with pages in use? */
static int tries_ranges_in_use(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &major, &minor);
	return major >= 6;
}

#define NPINNED 8
#define NR_GIGANTIC "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages"

static long write_nr_gigantic(const char *value)
{
	char buf[32] = "";
	int fd = open(NR_GIGANTIC, O_RDWR);

	if (fd < 0)
		die(NR_GIGANTIC);
	if (write(fd, value, strlen(value)) < 0)
		die("writing nr_hugepages");
	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		die("reading nr_hugepages");
	close(fd);
	return strtol(buf, NULL, 10);
}

int main(void)
{
	struct pfn_range range = clean_gigantic_range();
	char *buf = pages_in_range(range, NPINNED);
	uint64_t pinned[NPINNED], lowest = UINT64_MAX;
	long allocated;
	int i, pid = getpid();

	pin_as_fixed_buffers(buf, NPINNED);
	for (i = 0; i < NPINNED; i++) {
		pinned[i] = pfn_of(buf + i * page_size());
		lowest = pinned[i] < lowest ? pinned[i] : lowest;
	}
	allocated = write_nr_gigantic("1");
	write_nr_gigantic("0");

	if (!tries_ranges_in_use()) {
		json_begin("gigantic_pinned", 0, "none");
		printf(", \"kernel\": \"skips ranges with pages in use without trying them\"");
		json_list("not_blamed", pinned, NPINNED);
	} else {
		uint64_t others[NPINNED];
		int n = 0;

		json_begin("gigantic_pinned", 1, "isolation");
		printf(", \"origin\": \"io_uring_fixed_buffers\"");
		json_expect_page(1, lowest, 1, &pid, "\"FOLL_PIN\", \"FOLL_LONGTERM\"");
		printf("], \"isolation_busy_pfn\": %llu", (unsigned long long)lowest);
		for (i = 0; i < NPINNED; i++)
			if (pinned[i] != lowest)
				others[n++] = pinned[i];
		json_list("expect_held_in_range", others, n);
	}
	printf(", \"range\": [%llu, %llu], \"gigantic_allocated\": %ld", (unsigned long long)range.start,
	       (unsigned long long)range.end, allocated);
	{
		const char *problems[] = {
			allocated ? "the gigantic page was allocated despite the pin" : NULL,
		};
		json_setup_problems(problems, 1);
	}
	json_end();
	linger();
	return 0;
}
