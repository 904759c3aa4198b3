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
 * what 5.10, 6.1 and 6.12 show; kernels in between were not run.)
 *
 * 7.x skips a range silently too, for another reason: pfn_range_valid_contig()
 * calls page_is_unmovable() on every page, and a page with references that
 * is neither PageLRU nor free, nor movable_ops, counts as unmovable (7.2
 * mm/page_isolation.c and page_alloc.c; 7.3 identical there). One run on
 * 7.2 failed that way (no isolation, no migration, nothing to trace) and
 * others passed; which page it was is not known. Candidates from the
 * sources: a page still in a per-CPU LRU batch (not yet PageLRU: this
 * process's last faults, or page cache the recorder writes from node 1's
 * CPU), or a kernel allocation from node 1 that landed in the range after
 * it was chosen. alloc_contig_range() drains the batches
 * (lru_cache_disable()) only after a range was chosen. So the scenario
 *  - drains every CPU's LRU batches first, with /proc/sys/vm/drop_caches
 *    (lru_add_drain_all(), then only clean page cache is dropped: no
 *    compaction, no migration in the recording), and says so if it cannot;
 *  - re-reads the range and reports kernel pages (slab, page table,
 *    reserved) there as a set-up problem (the kernel would skip the range
 *    for them, not for the pin); pages with no flag at all (free pages on
 *    per-CPU lists, unmarked kernel pages) cannot be told apart from /proc:
 *    their number is in the truth (range_census);
 *  - traces the kernel's own page_isolation:test_pages_isolated events (an
 *    ftrace instance of its own, apart from pintrace) and tries again, up
 *    to ATTEMPTS times, while the kernel did not try the range; what /proc
 *    showed of the range after each skipped attempt is in the truth, and a
 *    range never tried is a set-up problem. The truth carries the kernel's
 *    count of failed isolations of the range (kernel_isolation_failures),
 *    and check_report.py wants exactly that many in the report: a retry
 *    cannot hide an isolation pintrace missed. */
#include "common.h"

#include <signal.h>
#include <sys/stat.h>
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
#define KPF_SLAB 7
#define KPF_PGTABLE 26
#define DROP_CACHES "/proc/sys/vm/drop_caches"
#define ATTEMPTS 5
#define TRACE_INSTANCE "/sys/kernel/tracing/instances/pt_gigantic"

/* The kernel's own record of isolation attempts, apart from pintrace: the
 * page_isolation:test_pages_isolated event in an ftrace instance of this
 * scenario's. 0 when it is recording. */
static int isolation_trace_start(void)
{
	int fd;

	if (mkdir(TRACE_INSTANCE, 0755) && errno != EEXIST)
		return -1;
	fd = open(TRACE_INSTANCE "/events/page_isolation/test_pages_isolated/enable", O_WRONLY);
	if (fd < 0)
		return -1;
	if (write(fd, "1", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* test_pages_isolated events that failed on [start, end) so far. */
static long isolation_failures_traced(struct pfn_range r)
{
	char line[512];
	long n = 0;
	FILE *f = fopen(TRACE_INSTANCE "/trace", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, fin;
		const char *p = strstr(line, "test_pages_isolated: start_pfn=");

		if (p && sscanf(p, "test_pages_isolated: start_pfn=%llx end_pfn=%llx fin_pfn=%llx", &start, &end,
				&fin) == 3 &&
		    start == r.start && end == r.end && fin < end)
			n++;
	}
	fclose(f);
	return n;
}

static void isolation_trace_stop(void)
{
	int fd = open(TRACE_INSTANCE "/events/page_isolation/test_pages_isolated/enable", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "0", 1) != 1) {
		}
		close(fd);
	}
	rmdir(TRACE_INSTANCE);
}

/* Drains every CPU's LRU batches (drop_caches_sysctl_handler():
 * lru_add_drain_all() before dropping clean page cache). NULL on success. */
static const char *drain_lru_batches(void)
{
	int fd = open(DROP_CACHES, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return "could not open " DROP_CACHES " to drain the per-CPU LRU batches";
	n = write(fd, "1", 1);
	close(fd);
	return n == 1 ? NULL : "could not write " DROP_CACHES " to drain the per-CPU LRU batches";
}

/* Pages of [start, end) that are neither free (buddy) nor on an LRU:
 * *kernel those marked as the kernel's (slab, page table, reserved, hole),
 * which make alloc_contig_pages() skip the range; *unflagged those with no
 * such mark (free pages on per-CPU lists, unmarked kernel pages, pages in an
 * LRU batch): /proc cannot tell which. */
static void range_census(struct pfn_range r, long *kernel, long *unflagged)
{
	static uint64_t flags[4096];
	const uint64_t kernel_mask = (1ULL << KPF_NOPAGE) | (1ULL << KPF_RESERVED) | (1ULL << KPF_SLAB) |
				     (1ULL << KPF_PGTABLE);
	int fd = open("/proc/kpageflags", O_RDONLY);
	uint64_t pfn;

	*kernel = *unflagged = 0;
	if (fd < 0)
		die("/proc/kpageflags");
	for (pfn = r.start; pfn < r.end; pfn += 4096) {
		long i;

		if (pread(fd, flags, sizeof(flags), pfn * 8) != sizeof(flags))
			die("reading /proc/kpageflags");
		for (i = 0; i < 4096; i++) {
			if (flags[i] & kernel_mask)
				(*kernel)++;
			else if (!(flags[i] & ((1ULL << KPF_BUDDY) | (1ULL << KPF_LRU))))
				(*unflagged)++;
		}
	}
	close(fd);
}
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
	long allocated, kernel_before, unflagged_before, kernel_after, unflagged_after;
	long traced = -1, skipped_kernel[ATTEMPTS], skipped_unflagged[ATTEMPTS];
	const char *drain_problem = NULL;
	char kernel_problem[160] = "", untried_problem[200] = "";
	int i, pid = getpid(), stopped, attempts, nskipped = 0, no_drain, tracing = isolation_trace_start() == 0;

	pin_as_fixed_buffers(buf, NPINNED);
	for (i = 0; i < NPINNED; i++) {
		pinned[i] = pfn_of(buf + i * page_size());
		lowest = pinned[i] < lowest ? pinned[i] : lowest;
	}
	range_census(range, &kernel_before, &unflagged_before);
	stopped = getenv("SCENARIO_STOP_BEFORE_ALLOC") != NULL;
	no_drain = getenv("SCENARIO_NO_DRAIN") ? atoi(getenv("SCENARIO_NO_DRAIN")) : 0;
	for (attempts = 1;; attempts++) {
		/* SCENARIO_NO_DRAIN=N: the experiment without the drain for the
		 * first N attempts (never a pass). */
		const char *why = attempts <= no_drain ? "the LRU batches were not drained (SCENARIO_NO_DRAIN)"
						       : drain_lru_batches();

		if (why && !drain_problem)
			drain_problem = why;
		if (attempts == 1) {
			range_census(range, &kernel_after, &unflagged_after);
			/* SCENARIO_STOP_BEFORE_ALLOC=1: stop here so that the range's
			 * pages can be read (pintrace snapshot) before the allocation;
			 * never a pass. */
			if (stopped) {
				fprintf(stderr, "stopped range %d %llu %llu\n", pid, (unsigned long long)range.start,
					(unsigned long long)range.end);
				fflush(stderr);
				raise(SIGSTOP);
			}
		}
		allocated = write_nr_gigantic("1");
		write_nr_gigantic("0");
		traced = tracing ? isolation_failures_traced(range) : -1;
		/* Again only where the kernel tries ranges in use (6.x+), and only
		 * while its own trace says it did not try this one: a range skipped
		 * before isolation (a page there looked unmovable for a moment) is
		 * a set-up accident, and pintrace has nothing to see in it. The
		 * check then wants exactly as many isolation failures of the range
		 * as the kernel traced, so a failure pintrace missed still fails. */
		if (allocated || !tries_ranges_in_use() || traced != 0)
			break;
		/* What /proc shows of the range after a skipped attempt. */
		range_census(range, &skipped_kernel[nskipped], &skipped_unflagged[nskipped]);
		nskipped++;
		if (attempts == ATTEMPTS)
			break;
	}
	isolation_trace_stop();
	if (kernel_after)
		snprintf(kernel_problem, sizeof(kernel_problem),
			 "%ld kernel page(s) (slab, page table, reserved) in the clean range before the allocation: "
			 "the kernel skips the range for them",
			 kernel_after);
	if (tries_ranges_in_use() && traced == 0)
		snprintf(untried_problem, sizeof(untried_problem),
			 "the kernel never tried the clean range in %d attempt(s) (no test_pages_isolated for it in "
			 "its own trace): a page there looked unmovable before isolation",
			 attempts);

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
	printf(", \"attempts\": %d, \"undrained_attempts\": %d, \"skipped_attempts_census\": [", attempts,
	       no_drain < attempts ? no_drain : attempts);
	for (i = 0; i < nskipped; i++)
		printf("%s{\"kernel\": %ld, \"unflagged\": %ld}", i ? ", " : "", skipped_kernel[i],
		       skipped_unflagged[i]);
	printf("]");
	if (traced >= 0 && tries_ranges_in_use())
		printf(", \"kernel_isolation_failures\": %ld", traced);
	printf(", \"range_census\": {\"before_drain\": {\"kernel\": %ld, \"unflagged\": %ld}, "
	       "\"after_drain\": {\"kernel\": %ld, \"unflagged\": %ld}}",
	       kernel_before, unflagged_before, kernel_after, unflagged_after);
	{
		const char *problems[] = {
			allocated ? "the gigantic page was allocated despite the pin" : NULL,
			drain_problem,
			kernel_after ? kernel_problem : NULL,
			stopped ? "stopped before the allocation (SCENARIO_STOP_BEFORE_ALLOC)" : NULL,
			untried_problem[0] ? untried_problem : NULL,
			traced < 0 ? "the kernel's test_pages_isolated events could not be traced (tracefs): whether it "
				     "tried the range is not known"
				   : NULL,
		};
		json_setup_problems(problems, 6);
	}
	json_end();
	linger();
	return 0;
}
