/* Offlining memory blocks that hold kernel pages (issue 16): page tables
 * this process makes on node 1, and whatever slab shares their blocks.
 * Such a block fails at isolation, before any migration, on the first
 * page the kernel will not move; no pin or reference is involved, and the
 * report must say what the page is (cause page_table or kernel_memory),
 * not "no holder seen".
 *
 * Page tables go wherever the allocator puts unmovable pages: node 1's
 * first memory block, which holds the node's own kernel pages, is filled
 * with this process's anonymous pages first, then chunks of page tables
 * are made until a memory block's first kernel page is one of them
 * (/proc/kpageflags: KPF_PGTABLE); that block is offlined first, then the
 * blocks of the others, whose first kernel page may be slab.
 *
 * The truth comes from the kernel itself, apart from pintrace: offline
 * reports the page that stopped isolation with dump_page() ("page dumped
 * because: unmovable page", with its pfn) in the kernel log, and
 * /proc/kpageflags says what that page is (KPF_PGTABLE, KPF_SLAB). */
#include "common.h"

#include <sys/klog.h>

#define KPF_SLAB 7
#define KPF_PGTABLE 26
#define MAX_NEW 65536
#define MAX_TRIES 6
#define MAX_CHUNKS 64 /* 128 MiB of page tables: a whole memory block */

static uint64_t kpageflags(uint64_t pfn)
{
	static int fd = -1;
	uint64_t flags = 0;

	if (fd < 0)
		fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0 || pread(fd, &flags, sizeof(flags), pfn * 8) != sizeof(flags))
		die("reading /proc/kpageflags");
	return flags;
}

/* Page-table pages of node 1's kernel zones, as a bitmap over pfns. */
static unsigned char *table_pages(struct pfn_range *zones, int nzones, uint64_t limit)
{
	unsigned char *map = calloc(limit / 8 + 1, 1);
	static uint64_t flags[4096];
	int fd = open("/proc/kpageflags", O_RDONLY), z;

	if (!map || fd < 0)
		die("page-table census");
	for (z = 0; z < nzones; z++)
		for (uint64_t pfn = zones[z].start; pfn < zones[z].end; pfn += 4096) {
			long n = pread(fd, flags, sizeof(flags), pfn * 8) / 8;

			for (long i = 0; i < n && pfn + i < zones[z].end; i++)
				if (flags[i] & (1ULL << KPF_PGTABLE))
					map[(pfn + i) / 8] |= 1 << ((pfn + i) % 8);
		}
	close(fd);
	return map;
}

static char klog[1 << 20];

/* The pfn of the newest "unmovable page" dump in the kernel log, and how
 * many such dumps the log holds (to tell a new one from an old one). */
static int unmovable_dumps(uint64_t *pfn)
{
	int len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, klog, sizeof(klog) - 1), n = 0;
	char *p = klog, *hit;

	if (len < 0)
		die("klogctl");
	klog[len] = 0;
	while ((hit = strstr(p, "page dumped because: unmovable page"))) {
		/* dump_page() prints "... pfn:0x1234 ..." on a line before. */
		char *at = NULL, *q;

		for (q = p; (q = strstr(q, "pfn:0x")) && q < hit; q++)
			at = q;
		if (at)
			*pfn = strtoull(at + 6, NULL, 16);
		n++;
		p = hit + 1;
	}
	return n;
}

/* Writes "offline" to the block's state; the errno, 0 when it went offline
 * (it is put back online then). */
static int offline_block(long block)
{
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%ld/state", block);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, "offline", 7) != 7)
		err = errno;
	close(fd);
	if (!err) {
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, "online", 6) != 6)
			die("putting the block back online");
		close(fd);
	}
	return err;
}

/* Is @pfn one of @news (sorted)? */
static int is_new(const uint64_t *news, long nnew, uint64_t pfn)
{
	long lo = 0, hi = nnew;

	while (lo < hi) {
		long mid = (lo + hi) / 2;

		if (news[mid] < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nnew && news[lo] == pfn;
}

/* Whether the first page of @block that is neither free nor on an LRU list
 * is one of this process's new page tables: then isolation, which stops
 * on the first unmovable page, stops on it (a page on a per-CPU free list
 * looks the same to kpageflags, so a block may be passed over wrongly,
 * never taken wrongly). */
static int block_starts_with_new_table(long block, long bpages, const uint64_t *news, long nnew)
{
	static uint64_t flags[4096];
	int fd = open("/proc/kpageflags", O_RDONLY);
	uint64_t pfn, start = (uint64_t)block * bpages;
	int verdict = -1;

	if (fd < 0)
		die("/proc/kpageflags");
	for (pfn = start; pfn < start + bpages && verdict < 0; pfn += 4096) {
		if (pread(fd, flags, sizeof(flags), pfn * 8) != sizeof(flags))
			die("reading /proc/kpageflags");
		for (long i = 0; i < 4096 && verdict < 0; i++)
			if (!(flags[i] & ((1ULL << KPF_BUDDY) | (1ULL << KPF_LRU))))
				verdict = (flags[i] & (1ULL << KPF_PGTABLE)) && is_new(news, nnew, pfn + i);
	}
	close(fd);
	return verdict > 0;
}

/* Anonymous pages bound to node 1, touched from its lowest free memory
 * up until one lands at or past @pfn: kept, so that the kernel allocations
 * that follow (the allocator hands out the lowest free blocks first) go
 * past it. Movable pages on the LRU: isolation passes over them. */
static char *fill_node1_to(uint64_t pfn)
{
	const long page = page_size(), max = 1L << 18, chunk = 1024; /* at most 1 GiB */
	char *buf = mmap(NULL, max * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	long touched;

	if (buf == MAP_FAILED)
		die("mmap");
	madvise(buf, max * page, 15 /* MADV_NOHUGEPAGE */);
	for (touched = 0; touched < max; touched += chunk) {
		for (long i = touched; i < touched + chunk; i++)
			buf[i * page] = 1;
		if (pfn_of(buf + (touched + chunk - 1) * page) >= pfn)
			return buf;
	}
	errno = ENOSPC;
	die("filling node 1 up to a memory block");
	return NULL;
}

int main(void)
{
	struct pfn_range zones[4];
	int nzones = node1_kernel_zones(zones, 4), tries = 0, tables = 0, slabs = 0, chunks = 0, i, z;
	static uint64_t news[MAX_NEW];
	uint64_t limit = 0;
	long nnew = 0, bpages = memory_block_bytes() / page_size(), tried[MAX_TRIES], clean = -1;
	unsigned long node1 = 1UL << 1;
	const long regions = 512, region = 2L << 20;
	unsigned char *before;
	char *bufs[MAX_CHUNKS], *fill;

	for (z = 0; z < nzones; z++)
		if (zones[z].end > limit)
			limit = zones[z].end;
	before = table_pages(zones, nzones, limit);
	if (syscall(__NR_set_mempolicy, MPOL_BIND, &node1, 8 * sizeof(node1)))
		die("set_mempolicy");
	/* Node 1's first memory block of its highest zone (where its kernel
	 * allocations go first) holds the node's own kernel pages: fill it, so
	 * that the page tables start the next block. */
	{
		uint64_t top = 0;

		for (z = 0; z < nzones; z++)
			if (zones[z].start > top)
				top = zones[z].start;
		fill = fill_node1_to((top / bpages + 1) * bpages + 2048);
	}
	/* A chunk: one byte in each of 512 2 MiB regions, a page-table page
	 * each, allocated under the task's policy, so on node 1: a pageblock's
	 * worth. Once the unmovable pageblocks node 1 had are full (after the other
	 * scenarios, 7.3's first block took 16 chunks and had room for more), the
	 * kernel takes fresh ones; chunks are added until a memory block's first
	 * kernel page is one of them. */
	while (chunks < MAX_CHUNKS && clean < 0) {
		char *buf = mmap(NULL, regions * region, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		unsigned char *after;

		if (buf == MAP_FAILED)
			die("mmap");
		/* 4 KiB pages: a huge page would map the region without a page table. */
		madvise(buf, regions * region, 15 /* MADV_NOHUGEPAGE */);
		bufs[chunks++] = buf;
		for (i = 0; i < regions; i++)
			buf[i * region] = 1;
		after = table_pages(zones, nzones, limit);
		nnew = 0;
		for (uint64_t b = 0; b <= limit / 8 && nnew < MAX_NEW; b++)
			for (int bit = 0; bit < 8; bit++)
				if ((after[b] & ~before[b]) & (1 << bit) && nnew < MAX_NEW)
					news[nnew++] = b * 8 + bit;
		free(after);
		for (i = 0; i < nnew && clean < 0; i++)
			if ((i == 0 || news[i] / bpages != news[i - 1] / bpages) &&
			    block_starts_with_new_table((long)(news[i] / bpages), bpages, news, nnew))
				clean = (long)(news[i] / bpages);
	}

	/* The blocks of this process's page tables, each tried once, until
	 * one stops on a page-table page. */
	char checked[MAX_TRIES][128], attempts[MAX_TRIES][96];
	int nchecked = 0;

	/* The block that starts with one of them first, then the others,
	 * whose first kernel page may be slab (checked where it is). */
	for (i = -1; i < nnew && tries < MAX_TRIES && !(tables && slabs); i++) {
		long block = i < 0 ? clean : (long)(news[i] / bpages), t;
		uint64_t pfn = 0, flags;
		int dumps, err, seen = 0;
		const char *cause;

		for (t = 0; t < tries; t++)
			seen |= tried[t] == block;
		if (seen || block < 0)
			continue;
		tried[tries++] = block;
		dumps = unmovable_dumps(&pfn);
		err = offline_block(block);
		pfn = 0;
		dumps = unmovable_dumps(&pfn) - dumps;
		snprintf(attempts[tries - 1], sizeof(attempts[0]),
			 "{\"block\": %ld, \"errno\": %d, \"dumped\": %d, \"pfn\": %llu}", block, err, dumps,
			 dumps ? (unsigned long long)pfn : 0ULL);
		/* Not stopped at isolation, or its dump not found (the log
		 * ring wrapped): nothing to check. */
		if (err != EBUSY || dumps <= 0 || !pfn)
			continue;
		flags = kpageflags(pfn);
		/* Another kernel page (a kernel stack, vmalloc memory) carries
		 * no flag kpageflags shows: not checked. */
		cause = flags & (1ULL << KPF_PGTABLE) ? "page_table" : flags & (1ULL << KPF_SLAB) ? "kernel_memory" : NULL;
		if (!cause)
			continue;
		tables += !strcmp(cause, "page_table");
		slabs += !strcmp(cause, "kernel_memory");
		snprintf(checked[nchecked++], sizeof(checked[0]), "{\"pfn\": %llu, \"cause\": \"%s\", \"block\": %ld}",
			 (unsigned long long)pfn, cause, block);
	}

	json_begin("offline_kernel_page", 1, "isolation");
	printf(", \"expect\": [], \"new_table_pages\": %ld, \"chunks\": %d, \"block_pages\": %ld, "
	       "\"block_starting_with_them\": %ld, \"expect_unexplained\": [",
	       nnew, chunks, bpages, clean);
	for (i = 0; i < nchecked; i++)
		printf("%s%s", i ? ", " : "", checked[i]);
	printf("], \"attempts\": [");
	for (i = 0; i < tries; i++)
		printf("%s%s", i ? ", " : "", attempts[i]);
	printf("]");
	{
		const char *problems[] = {
			nnew == 0 ? "no page-table page of this process appeared on node 1" : NULL,
			nnew && !tables ? "no offline attempt stopped on a page-table page" : NULL,
		};
		json_setup_problems(problems, 2);
	}
	json_end();
	for (i = 0; i < chunks; i++)
		munmap(bufs[i], regions * region);
	(void)fill; /* mapped until the exit */
	return 0;
}
