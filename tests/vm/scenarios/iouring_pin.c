/* io_uring fixed buffers on 8 of 16 pages (FOLL_PIN | FOLL_LONGTERM), then
 * move_pages(2) of all 16 to node 1: the 8 pinned pages stay.
 *
 * SCENARIO_MOVE_ON_SIGNAL=1: pin, say "pinned, waiting for SIGUSR1" on
 * stderr, and move only on SIGUSR1, so that the pins are older than a
 * recording started in between (record --snapshot). */
#include <signal.h>

#include "common.h"

static void wait_for_usr1(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fprintf(stderr, "pinned, waiting for SIGUSR1\n");
	sigwait(&set, &sig);
}

#define NPAGES 16
#define NPINNED 8

int main(void)
{
	char *buf = pages_on_node(NPAGES, 0, 0);
	uint64_t before[NPAGES], after[NPAGES];
	int i, pid = getpid();
	long ret;

	pin_as_fixed_buffers(buf, NPINNED);
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * page_size());
	if (getenv("SCENARIO_MOVE_ON_SIGNAL"))
		wait_for_usr1();
	ret = move_all(buf, NPAGES, 1, MPOL_MF_MOVE);
	for (i = 0; i < NPAGES; i++)
		after[i] = pfn_of(buf + i * page_size());

	json_begin("iouring_pin", 1, "syscall_or_cpuset");
	printf(", \"origin\": \"io_uring_fixed_buffers\"");
	for (i = 0; i < NPINNED; i++)
		json_expect_page(i == 0, before[i], 1, &pid, "\"FOLL_PIN\", \"FOLL_LONGTERM\"");
	printf("]");
	json_list("not_blamed", before + NPINNED, NPAGES - NPINNED);
	json_list("pfns_after", after, NPAGES);
	printf(", \"move_pages_ret\": %ld", ret);
	json_end();
	linger();
	return 0;
}
