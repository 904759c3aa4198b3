/* Short-lived processes take FOLL_GET references (or short-term pins, where
 * the kernel pins) and exit, as in a migration stress run: every release is
 * a put_page() no probe sees, so pintrace learns of it only from the page's
 * free. Each round forks one child of each kind:
 *
 *   dio        O_DIRECT read of 4 pages into an anonymous buffer
 *   vmsplice   vmsplice of 4 pages into a pipe, drained at once
 *   exec       execve of sh with ~3 pages of arguments (get_arg_page)
 *   thp        vmsplice of 16 pages from the middle of a 2 MiB THP
 *              (a tail page's pfn; the free names the head, order 9)
 *   thp_dio    O_DIRECT read into the middle of a THP
 *   thp_split  vmsplice from a THP, then munmap of half of it (the pmd is
 *              split; the folio is freed whole or page by page)
 *   pagecache  vmsplice of 4 pages of a cached tmpfs file: the file stays
 *              cached, so these pages are never freed
 *
 * and every child exits; some moves (move_pages) of the parent's own pages
 * run in between, as in the stress run. The truth: which kinds ran, the
 * pfns each child saw under its buffer (THP: head and whether it was one),
 * and the children's pids. Whether the kernel freed a page is not the
 * scenario's to say: the guest records every kmem:mm_page_free in an ftrace
 * instance of its own (tests/vm/guests/all.sh) and check_frees.py compares.
 *
 * O_DIRECT needs a block device that completes at once: a null_blk device
 * made through configfs (irqmode 0). */
#include "common.h"

#include <sys/stat.h>
#include <sys/wait.h>

#define NIO 4
#define THP_PAGES 512
#define THP_SPLICED 16
#define MAX_CHILDREN 256
#define KPF_THP 22

static const char *const kinds[] = { "dio", "vmsplice", "exec", "thp", "thp_dio", "thp_split", "pagecache" };
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static char dio_dev[64];
static const char *problems[8];
static int nproblems;

static void problem(const char *what)
{
	if (nproblems < 8)
		problems[nproblems++] = what;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A null_blk device completing at once (configfs), for O_DIRECT. */
static int fast_block_device(void)
{
	const char *dir = "/sys/kernel/config/nullb/pt_fast";
	char path[128], index[16] = "";
	int fd;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/irqmode", dir);
	write_file(path, "0");
	snprintf(path, sizeof(path), "%s/size", dir);
	write_file(path, "64");
	snprintf(path, sizeof(path), "%s/power", dir);
	write_file(path, "1");
	snprintf(path, sizeof(path), "%s/index", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, index, sizeof(index) - 1) <= 0)
		return -1;
	close(fd);
	/* The disk takes the configfs item's name (6.x) or nullb<index>. */
	for (int i = 0; i < 100; i++) {
		for (int named = 0; named < 2; named++) {
			if (named)
				snprintf(dio_dev, sizeof(dio_dev), "/dev/pt_fast");
			else
				snprintf(dio_dev, sizeof(dio_dev), "/dev/nullb%d", atoi(index));
			fd = open(dio_dev, O_RDONLY | O_DIRECT);
			if (fd >= 0) {
				close(fd);
				return 0;
			}
		}
		usleep(100 * 1000);
	}
	dio_dev[0] = 0;
	return -1;
}

static uint64_t kpageflags(uint64_t pfn)
{
	uint64_t flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &flags, sizeof(flags), pfn * 8) != sizeof(flags))
			flags = 0;
		close(fd);
	}
	return flags;
}

/* What a child tells the parent: its kind, pid and pfns (-1 ends). */
static int report_fd;

static void tell(const char *kind, char *buf, int npages)
{
	char line[4096];
	int n = snprintf(line, sizeof(line), "%s %d", kind, getpid());
	int i;

	for (i = 0; i < npages && n < (int)sizeof(line) - 32; i++)
		n += snprintf(line + n, sizeof(line) - n, " %llu", (unsigned long long)pfn_of(buf + i * page_size()));
	if (npages) {
		uint64_t pfn = pfn_of(buf);
		int thp = (kpageflags(pfn) >> KPF_THP) & 1;

		n += snprintf(line + n, sizeof(line) - n, " thp=%d head=%llu", thp,
			      (unsigned long long)(thp ? pfn & ~(uint64_t)(THP_PAGES - 1) : pfn));
	}
	n += snprintf(line + n, sizeof(line) - n, "\n");
	if (write(report_fd, line, n) != n)
		_exit(3);
}

static void splice_and_drain(char *buf, int npages)
{
	struct iovec iov = { .iov_base = buf, .iov_len = npages * page_size() };
	char *sink = malloc(npages * page_size());
	int fds[2];
	long left;

	if (pipe(fds) || fcntl(fds[1], F_SETPIPE_SZ, 64 * page_size()) < 0)
		die("pipe");
	if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)(npages * page_size()))
		die("vmsplice");
	for (left = npages * page_size(); left > 0;) {
		ssize_t n = read(fds[0], sink, left);
		if (n <= 0)
			die("draining the pipe");
		left -= n;
	}
	close(fds[0]);
	close(fds[1]);
}

static void dio_read(char *buf, int npages)
{
	int fd = open(dio_dev, O_RDONLY | O_DIRECT);

	if (fd < 0)
		die("open O_DIRECT");
	if (pread(fd, buf, npages * page_size(), 0) != (ssize_t)(npages * page_size()))
		die("O_DIRECT pread");
	close(fd);
}

/* A 2 MiB-aligned, touched THP (the guests' kernels default to THP always;
 * MADV_HUGEPAGE asks for it under "madvise" too). */
static char *thp_buffer(void)
{
	const long huge = THP_PAGES * page_size();
	char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf;

	if (raw == MAP_FAILED)
		die("mmap");
	buf = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	madvise(buf, huge, 14 /* MADV_HUGEPAGE */);
	memset(buf, 1, huge);
	return buf;
}

static void child(int kind)
{
	char *buf;

	switch (kind) {
	case 0: /* dio */
		buf = pages_on_node(NIO, 0, 0);
		tell(kinds[kind], buf, NIO);
		dio_read(buf, NIO);
		break;
	case 1: /* vmsplice */
		buf = pages_on_node(NIO, 0, 0);
		tell(kinds[kind], buf, NIO);
		splice_and_drain(buf, NIO);
		break;
	case 2: { /* exec */
		static char arg[3 * 4096];

		memset(arg, 'a', sizeof(arg) - 1);
		tell(kinds[kind], NULL, 0);
		execl("/bin/sh", "sh", "-c", "exit 0", "sh", arg, (char *)NULL);
		die("execl /bin/sh");
	}
	case 3: /* thp */
		buf = thp_buffer() + 100 * page_size();
		tell(kinds[kind], buf, THP_SPLICED);
		splice_and_drain(buf, THP_SPLICED);
		break;
	case 4: /* thp_dio */
		buf = thp_buffer() + 200 * page_size();
		tell(kinds[kind], buf, NIO);
		dio_read(buf, NIO);
		break;
	case 5: { /* thp_split */
		char *huge = thp_buffer();

		buf = huge + 300 * page_size();
		tell(kinds[kind], buf, THP_SPLICED);
		splice_and_drain(buf, THP_SPLICED);
		munmap(huge, THP_PAGES / 2 * page_size());
		break;
	}
	case 6: { /* pagecache */
		int fd = open("/tmp/free_stress.cache", O_RDWR | O_CREAT, 0600);

		if (fd < 0 || ftruncate(fd, NIO * page_size()))
			die("/tmp/free_stress.cache");
		buf = mmap(NULL, NIO * page_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (buf == MAP_FAILED)
			die("mmap of the cached file");
		memset(buf, 2, NIO * page_size());
		tell(kinds[kind], buf, NIO);
		splice_and_drain(buf, NIO);
		break;
	}
	}
	_exit(0);
}

int main(void)
{
	const char *env = getenv("SCENARIO_ROUNDS");
	int rounds = env ? atoi(env) : 4, fds[2], r, k, nchildren = 0, status, failed = 0;
	pid_t pids[MAX_CHILDREN];
	char *mine = pages_on_node(8, 0, 0);
	static char reports[1 << 20];
	size_t got = 0;
	ssize_t n;

	if (fast_block_device())
		problem("no null_blk device completing at once (configfs): the dio kinds cannot run");
	if (pipe(fds))
		die("pipe");
	report_fd = fds[1];
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < (int)NKINDS && nchildren < MAX_CHILDREN; k++) {
			pid_t pid;

			if ((k == 0 || k == 4) && !dio_dev[0])
				continue;
			pid = fork();
			if (pid < 0)
				die("fork");
			if (pid == 0) {
				close(fds[0]);
				child(k);
			}
			pids[nchildren++] = pid;
		}
		/* A stress run migrates while all this happens. */
		move_all(mine, 8, r % 2 ? 0 : 1, MPOL_MF_MOVE);
	}
	close(fds[1]);
	for (k = 0; k < nchildren; k++)
		if (waitpid(pids[k], &status, 0) != pids[k] || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	while ((n = read(fds[0], reports + got, sizeof(reports) - 1 - got)) > 0)
		got += n;
	reports[got] = 0;
	if (failed)
		problem("a child failed (see scenario stderr)");

	json_begin("free_stress", 0, "");
	printf(", \"rounds\": %d, \"kinds\": [", rounds);
	for (k = 0; k < (int)NKINDS; k++)
		printf("%s\"%s\"", k ? ", " : "", kinds[k]);
	printf("], \"dio_device\": \"%s\", \"children\": [", dio_dev);
	/* One object per child line: "kind pid pfn... thp=T head=H". */
	{
		char *line = reports, *next;
		int first = 1;

		for (; line && *line; line = next) {
			char kind[16];
			int pid, off, thp = 0, i = 0;
			unsigned long long pfn, head = 0;

			next = strchr(line, '\n');
			if (next)
				*next++ = 0;
			if (sscanf(line, "%15s %d%n", kind, &pid, &off) != 2)
				continue;
			printf("%s{\"kind\": \"%s\", \"pid\": %d, \"pfns\": [", first ? "" : ", ", kind, pid);
			first = 0;
			line += off;
			while (sscanf(line, " %llu%n", &pfn, &off) == 1) {
				printf("%s%llu", i++ ? ", " : "", pfn);
				line += off;
			}
			sscanf(line, " thp=%d head=%llu", &thp, &head);
			printf("], \"thp\": %s, \"head\": %llu}", thp ? "true" : "false", head);
		}
	}
	printf("]");
	json_setup_problems(problems, nproblems);
	json_end();
	return 0;
}
