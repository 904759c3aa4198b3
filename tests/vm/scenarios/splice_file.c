/* Issue 16's case: a process writes 8 pages to a file on tmpfs, maps them
 * shared, and splice()s the first 4 into a pipe nobody reads. The pipe holds
 * page cache references no GUP call took; move_pages(2) of all 8 leaves
 * those 4 behind. The splice hook (do_splice_to / do_splice_read) records
 * those references: the report must blame this process for them, as
 * FOLL_GET references of origin "splice" whose release it can see.
 *
 * Then it tee()s the first 2 buffers into a second pipe and drains the
 * first: a second move_pages(2) fails on those 2 alone, which the report
 * must still blame on this process (the copies are counted through
 * generic_pipe_buf_get). It drains the second pipe, and a third move moves
 * all 4: each page's history must show exactly one release and nobody
 * holding it at the end.
 * Each blamed page names its file as the capture read it at the failure
 * (issue 16 part 1): the truth gives it as fstat() does. */
#include "common.h" /* first: it defines _GNU_SOURCE (splice) */

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define NPAGES 8
#define NSPLICED 4
#define NTEED 2
#define DIR "/splice_file_fs"
#define FILE_NAME "data"

/* Reads @npages pages out of a pipe. */
static void drain_pipe(int fd, int npages)
{
	char *buf = malloc(npages * page_size());
	long done, got;

	for (done = 0; done < npages * page_size(); done += got)
		if ((got = read(fd, buf + done, npages * page_size() - done)) <= 0)
			die("read the pipe");
	free(buf);
}

int main(void)
{
	unsigned long node0 = 1;
	uint64_t before[NPAGES];
	struct stat st, pipe_st;
	loff_t off = 0;
	int fds[2], tee_fds[2], fd, i;
	char *map;
	long ret, teed_ret, drained_ret;

	/* tmpfs: shmem migrates its pages (ramfs, the initramfs root, does not). */
	mkdir(DIR, 0755);
	if (mount("tmpfs", DIR, "tmpfs", 0, "size=1m") && errno != EBUSY)
		die("mount tmpfs");
	/* The page cache comes from the writer's policy: node 0, so that a
	 * move to node 1 has something to do. */
	if (syscall(__NR_set_mempolicy, MPOL_BIND, &node0, 8 * sizeof(node0)))
		die("set_mempolicy");
	fd = open(DIR "/" FILE_NAME, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	map = malloc(NPAGES * page_size());
	for (i = 0; i < NPAGES; i++)
		memset(map + i * page_size(), i + 1, page_size());
	if (write(fd, map, NPAGES * page_size()) != NPAGES * page_size())
		die("write");
	free(map);
	if (fstat(fd, &st))
		die("fstat");
	map = mmap(NULL, NPAGES * page_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	for (i = 0; i < NPAGES; i++) {
		/* Mapped in this process's page tables, so that it has a pfn
		 * here and move_pages(2) moves it. */
		*(volatile char *)(map + i * page_size());
		before[i] = pfn_of(map + i * page_size());
	}
	if (pipe(fds) || fstat(fds[1], &pipe_st))
		die("pipe");
	if (splice(fd, &off, fds[1], NULL, NSPLICED * page_size(), 0) != NSPLICED * page_size())
		die("splice");
	ret = move_all(map, NPAGES, 1, MPOL_MF_MOVE);
	/* tee() copies the first NTEED buffers into a second pipe: another
	 * reference each. Draining the first pipe leaves those pages held by
	 * the second (a second move fails on them alone); draining it too lets
	 * every page go. */
	if (pipe(tee_fds))
		die("pipe");
	if (tee(fds[0], tee_fds[1], NTEED * page_size(), 0) != NTEED * page_size())
		die("tee");
	drain_pipe(fds[0], NSPLICED);
	teed_ret = move_all(map, NSPLICED, 1, MPOL_MF_MOVE);
	drain_pipe(tee_fds[0], NTEED);
	drained_ret = move_all(map, NSPLICED, 1, MPOL_MF_MOVE);

	json_begin("splice_file", 1, "syscall_or_cpuset");
	printf(", \"origin\": \"splice\"");
	for (i = 0; i < NSPLICED; i++)
		printf("%s{\"pfn\": %llu, \"holders\": [{\"pid\": %d, \"flags\": [\"FOLL_GET\"], "
		       "\"release_observable\": true, \"pipe_inode\": %llu, \"pipe_fds\": [%d, %d]}], "
		       "\"file\": {\"dev\": \"%u:%u\", \"inode\": %llu, \"path\": \"/" FILE_NAME "\", "
		       "\"offset_pages\": %d}}",
		       i ? ", " : ", \"expect\": [", (unsigned long long)before[i], getpid(),
		       (unsigned long long)pipe_st.st_ino, fds[0], fds[1], major(st.st_dev), minor(st.st_dev),
		       (unsigned long long)st.st_ino, i);
	printf("]");
	json_list("released", before, NSPLICED);
	json_list("held_after_tee", before, NTEED);
	printf(", \"teed_move_pages_ret\": %ld", teed_ret);
	printf(", \"drained_move_pages_ret\": %ld", drained_ret);
	json_list("not_blamed", before + NSPLICED, NPAGES - NSPLICED);
	printf(", \"move_pages_ret\": %ld", ret);
	json_end();
	linger();
	return 0;
}
