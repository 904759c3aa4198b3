/* Pins 8 pages as io_uring fixed buffers and unregisters them again before
 * move_pages(2): nothing may be blamed on this process. */
#include "common.h"

#define NPAGES 8

int main(void)
{
	char *buf = pages_on_node(NPAGES, 0, 0);
	uint64_t before[NPAGES];
	int ring, i;
	long ret;

	ring = pin_as_fixed_buffers(buf, NPAGES);
	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0))
		die("IORING_UNREGISTER_BUFFERS");
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * page_size());
	ret = move_all(buf, NPAGES, 1, MPOL_MF_MOVE);

	json_begin("released_pin", 0, "syscall_or_cpuset");
	printf(", \"expect\": []");
	json_list("not_blamed", before, NPAGES);
	printf(", \"move_pages_ret\": %ld", ret);
	json_end();
	linger();
	return 0;
}
