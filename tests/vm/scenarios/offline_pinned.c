/* Offlining a ZONE_MOVABLE memory block while one of its pages is held by a
 * pipe (vmsplice, FOLL_GET): the block cannot go offline, and every
 * migration attempt of offline_pages() (reason memory_hotplug) fails on that
 * page. Long-term pins never sit in ZONE_MOVABLE (FOLL_LONGTERM migrates
 * them out first), so the holder here is the classic short-term one.
 * offline_pages() retries until a fatal signal: a child writes "offline"
 * under alarm(). */
#include "common.h"

#include <signal.h>
#include <sys/wait.h>


static long block_bytes(void)
{
	char buf[64] = "";
	int fd = open("/sys/devices/system/memory/block_size_bytes", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		die("block_size_bytes");
	close(fd);
	return strtol(buf, NULL, 16);
}

static int read_file(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = read(fd, out, n - 1);
	close(fd);
	out[got > 0 ? got : 0] = '\0';
	return got > 0 ? 0 : -1;
}

/* A ZONE_MOVABLE block of node 1 that is not node 1's last block (that
 * one holds reserved pages). */
static int usable_block(long block)
{
	char path[128], zones[128];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node1/memory%ld", block + 1);
	if (access(path, F_OK) != 0)
		return 0; /* last block of the node */
	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%ld/valid_zones", block);
	if (read_file(path, zones, sizeof(zones)))
		return 0;
	return strncmp(zones, "Movable", 7) == 0;
}

int main(void)
{
	long page = page_size(), bsize = block_bytes(), block = -1, i, npages = (256L << 20) / page;
	char *buf = pages_on_node(npages, 1, 0), *target = NULL, path[128];
	int pid = getpid(), fd, status;
	uint64_t pfn = 0;
	pid_t writer;

	/* Freshly faulted pages may sit in per-CPU LRU batches, unmovable for
	 * isolation; compaction drains them. */
	fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			die("compact_memory");
		close(fd);
	}
	for (i = npages / 4; i < npages && !target; i += 64) {
		uint64_t p = pfn_of(buf + i * page);

		if (p && usable_block((long)(p * page / bsize))) {
			target = buf + i * page;
			block = (long)(p * page / bsize);
		}
	}
	if (!target)
		die("finding a pinnable page in an offlinable block of node 1");
	{
		struct iovec iov = { .iov_base = target, .iov_len = page };
		int pipefd[2];

		if (pipe(pipefd) || vmsplice(pipefd[1], &iov, 1, 0) != page)
			die("vmsplice");
	}
	pfn = pfn_of(target);

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
	json_end();
	linger();
	return 0;
}
