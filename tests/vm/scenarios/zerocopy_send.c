/* A zero-copy TCP send (MSG_ZEROCOPY) to a peer that does not read, over
 * loopback (issue 16: socket zero-copy sends). The send takes a FOLL_GET
 * reference on each page it queues (iov_iter_get_pages2 under
 * skb_zerocopy_iter_stream) and keeps it until the data is sent and
 * acknowledged; with the peer's receive window full, most of it stays in
 * the send queue. move_pages(2) of the buffer then fails on those pages:
 * which ones, the truth, is where move_pages(2) finds each page after. */
#include "common.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#define NPAGES 64

/* The initramfs brings up no network: loopback is down until now. */
static void loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo");
	close(s);
}

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int listener, sender, receiver, one = 1, small = 4096, big = 4 << 20, pid = getpid(), i, nfailed = 0;
	long page = page_size(), ret;
	uint64_t before[NPAGES], moved[NPAGES];
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES], first = 1, nmoved = 0;
	char *buf;
	ssize_t sent;

	loopback_up();
	listener = socket(AF_INET, SOCK_STREAM, 0);
	/* A small receive buffer (the accepted socket inherits it): the
	 * window fills at once and the rest waits in the sender's queue. */
	if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ||
	    bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 1) ||
	    getsockname(listener, (struct sockaddr *)&addr, &alen))
		die("listen");
	sender = socket(AF_INET, SOCK_STREAM, 0);
	if (sender < 0 || setsockopt(sender, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) ||
	    setsockopt(sender, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) ||
	    connect(sender, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect");
	receiver = accept(listener, NULL, NULL);
	if (receiver < 0)
		die("accept");

	buf = pages_on_node(NPAGES, 0, 0);
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * page);
	sent = send(sender, buf, NPAGES * page, MSG_ZEROCOPY | MSG_DONTWAIT);
	if (sent <= 0)
		die("send(MSG_ZEROCOPY)");
	usleep(200 * 1000); /* what the window lets through is delivered */
	for (i = 0; i < NPAGES; i++) {
		pages[i] = buf + i * page;
		nodes[i] = 1;
	}
	ret = syscall(__NR_move_pages, 0, NPAGES, pages, nodes, status, MPOL_MF_MOVE);
	/* move_pages(2) reports the target node for a batch even where some
	 * of its pages stayed (it returns how many): ask where each one is. */
	if (syscall(__NR_move_pages, 0, NPAGES, pages, NULL, status, 0))
		die("move_pages (query)");

	json_begin("zerocopy_send", 1, "syscall_or_cpuset");
	printf(", \"origin\": \"socket_zerocopy\"");
	for (i = 0; i < NPAGES; i++) {
		if (status[i] == 1) {
			moved[nmoved++] = before[i];
			continue;
		}
		json_expect_page(first, before[i], 1, &pid, "\"FOLL_GET\"");
		first = 0;
		nfailed++;
	}
	printf(first ? ", \"expect\": []" : "]");
	json_list("not_blamed", moved, nmoved);
	printf(", \"sent_bytes\": %ld, \"move_pages_ret\": %ld, \"failed_pages\": %d", (long)sent, ret, nfailed);
	{
		const char *problems[] = { nfailed == 0 ? "no page of the zero-copy send stayed behind" : NULL };
		json_setup_problems(problems, 1);
	}
	json_end();
	linger();
	close(receiver);
	close(sender);
	close(listener);
	return 0;
}
