/* vmsplice of 4 of 8 pages into a pipe nobody reads: FOLL_GET references,
 * not pins, held by the pipe. move_pages(2) of all 8: those 4 stay. */
#include "common.h"

#define NPAGES 8
#define NSPLICED 4

int main(void)
{
	char *buf = pages_on_node(NPAGES, 0, 0);
	uint64_t before[NPAGES];
	struct iovec iov = { .iov_base = buf, .iov_len = NSPLICED * page_size() };
	int fds[2], i, pid = getpid();
	long ret;

	if (pipe(fds))
		die("pipe");
	if (fcntl(fds[1], F_SETPIPE_SZ, 64 * page_size()) < 0)
		die("F_SETPIPE_SZ");
	if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)(NSPLICED * page_size()))
		die("vmsplice");
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * page_size());
	ret = move_all(buf, NPAGES, 1, MPOL_MF_MOVE);

	json_begin("vmsplice_ref", 1, "syscall_or_cpuset");
	printf(", \"origin\": \"vmsplice\"");
	for (i = 0; i < NSPLICED; i++)
		json_expect_page(i == 0, before[i], 1, &pid, "\"FOLL_GET\"");
	printf("]");
	json_list("not_blamed", before + NSPLICED, NPAGES - NSPLICED);
	printf(", \"move_pages_ret\": %ld", ret);
	json_end();
	linger();
	return 0;
}
