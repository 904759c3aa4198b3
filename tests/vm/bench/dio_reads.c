/* Benchmark workload: 4 KiB O_DIRECT reads in a loop from a block device
 * that completes at once (null_blk irqmode=0). Every read grabs its buffer
 * page through fast GUP and releases it at completion: the pin/unpin-heavy
 * load pintrace's overhead is measured on.
 *
 *   dio_reads DEVICE SECONDS  ->  {"reads": N, "seconds": S, "reads_per_s": R}
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 2 ? atof(argv[2]) : 3, start, end;
	long reads = 0;
	char *buf;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: dio_reads DEVICE [SECONDS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (fd < 0 || buf == MAP_FAILED) {
		perror("dio_reads");
		return 1;
	}
	start = now();
	do {
		for (int i = 0; i < 256; i++)
			if (pread(fd, buf, 4096, (off_t)((reads + i) % 1024) * 4096) != 4096) {
				perror("pread");
				return 1;
			}
		reads += 256;
		end = now();
	} while (end - start < seconds);
	printf("{\"reads\": %ld, \"seconds\": %.3f, \"reads_per_s\": %.0f}\n", reads, end - start,
	       reads / (end - start));
	return 0;
}
