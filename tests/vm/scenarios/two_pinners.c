/* The same 8 shared pages pinned by two processes (io_uring fixed buffers
 * in each), then moved with MPOL_MF_MOVE_ALL: every page has two culprits. */
#include <sys/wait.h>

#include "common.h"

#define NPAGES 8

int main(void)
{
	char *buf = pages_on_node(NPAGES, 0, 1);
	int ready[2], done[2], pids[2], i;
	uint64_t before[NPAGES];
	char c;
	pid_t child;
	long ret;

	if (pipe(ready) || pipe(done))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		pin_as_fixed_buffers(buf, NPAGES);
		if (write(ready[1], "r", 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(1);
		linger();
		_exit(0);
	}
	if (read(ready[0], &c, 1) != 1)
		die("child pin");
	pin_as_fixed_buffers(buf, NPAGES);
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * page_size());
	ret = move_all(buf, NPAGES, 1, MPOL_MF_MOVE_ALL);

	pids[0] = getpid();
	pids[1] = child;
	json_begin("two_pinners", 1, "syscall_or_cpuset");
	printf(", \"origin\": \"io_uring_fixed_buffers\"");
	for (i = 0; i < NPAGES; i++)
		json_expect_page(i == 0, before[i], 2, pids, "\"FOLL_PIN\", \"FOLL_LONGTERM\"");
	printf("]");
	json_list("not_blamed", NULL, 0);
	printf(", \"move_pages_ret\": %ld", ret);
	json_end();
	if (write(done[1], "d", 1) != 1)
		die("release child");
	linger();
	waitpid(child, NULL, 0);
	return 0;
}
