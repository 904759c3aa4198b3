/* Offlining a memory block while one of its pages is held by a pipe
 * (vmsplice, FOLL_GET): the block cannot go offline, and every migration
 * attempt of offline_pages() (reason memory_hotplug) fails on that page.
 * The block lies in a 1 GiB range of node 1 that held no kernel page, so
 * isolation passes and the reference is the only obstacle (a block with a
 * kernel page fails earlier, at isolation, with nothing to trace).
 * offline_pages() retries until a fatal signal: a child writes "offline"
 * under alarm(). */
#include "common.h"

#include <signal.h>
#include <sys/wait.h>

int main(void)
{
	long page = page_size(), bsize = memory_block_bytes(), block;
	char *target = pages_in_range(clean_gigantic_range(), 1), path[128];
	int pid = getpid(), fd, status;
	uint64_t pfn = pfn_of(target);
	pid_t writer;

	block = (long)(pfn * page / bsize);
	{
		struct iovec iov = { .iov_base = target, .iov_len = page };
		int pipefd[2];

		if (pipe(pipefd) || vmsplice(pipefd[1], &iov, 1, 0) != page)
			die("vmsplice");
	}
	writer = fork();
	if (writer == 0) {
		alarm(4); /* fatal: offline_pages() stops retrying with -EINTR */
		snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%ld/state", block);
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, "offline", 7) != 7)
			_exit(errno > 0 && errno < 100 ? errno : 99);
		_exit(0); /* went offline: the reference did not block it */
	}
	waitpid(writer, &status, 0);

	json_begin("offline_pinned", 1, "memory_hotplug");
	printf(", \"origin\": \"vmsplice\"");
	json_expect_page(1, pfn, 1, &pid, "\"FOLL_GET\"");
	printf("], \"block\": %ld, \"offline_writer\": \"%s\", \"offline_errno\": %d", block,
	       WIFSIGNALED(status) ? "killed by alarm (offline kept retrying)"
				   : WEXITSTATUS(status) ? "write failed" : "block went offline",
	       WIFEXITED(status) ? WEXITSTATUS(status) : 0);
	{
		const char *problems[] = { WIFEXITED(status) && WEXITSTATUS(status) == 0
						   ? "the block went offline despite the reference"
						   : NULL };
		json_setup_problems(problems, 1);
	}
	json_end();
	linger();
	return 0;
}
