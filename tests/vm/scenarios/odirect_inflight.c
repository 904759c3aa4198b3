/* An O_DIRECT read in flight: a thread reads 4 pages from a null_blk device
 * whose completions take 2 s (irqmode=2, loaded by the guest script) while
 * the main thread moves those 4 pages and 4 idle ones to node 1. The 4 I/O
 * pages stay, held by short-term pins (6.4+) or references (before): never
 * long-term ones. */
#include "common.h"

#include <pthread.h>

#define NPAGES 8
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

int main(void)
{
	uint64_t before[NPAGES];
	pthread_t reader;
	int i, pid = getpid();
	long ret;

	buf = pages_on_node(NPAGES, 0, 0);
	fd = open("/dev/nullb0", O_RDONLY | O_DIRECT);
	if (fd < 0)
		die("open /dev/nullb0");
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * page_size());
	if (pthread_create(&reader, NULL, read_in_flight, NULL))
		die("pthread_create");
	usleep(500 * 1000); /* the read is submitted and waits for its completion */
	ret = move_all(buf, NPAGES, 1, MPOL_MF_MOVE);

	json_begin("odirect_inflight", 1, "syscall_or_cpuset");
	printf(", \"origin\": \"direct_io\"");
	for (i = 0; i < NIO; i++)
		json_expect_page(i == 0, before[i], 1, &pid, "");
	printf("]");
	json_list("not_blamed", before + NIO, NPAGES - NIO);
	printf(", \"forbid_flags\": [\"FOLL_LONGTERM\"], \"move_pages_ret\": %ld", ret);
	json_end();
	pthread_join(reader, NULL);
	linger();
	return 0;
}
