/*
 * tracefs_live: a libtracefs program reading the machine's real events back
 * from a tracefs (tests/clients/test_live_clients.py, on a --live tpfs mount).
 *
 *   tracefs_live N
 *
 * Creates instance "tpfs_live" (tracefs_instance_create), enables
 * syscalls:sys_enter_getppid in it (tracefs_event_enable), pins itself to
 * CPU 0 (sched_setaffinity), calls getppid() N times, then reads CPU 0's raw
 * pages with tracefs_cpu_open/tracefs_cpu_read (non-blocking) and counts, with
 * kbuffer, the records of that event whose common_pid is its own. Destroys
 * the instance. Prints "pid=PID records=COUNT".
 * Exits 1 with a message on stderr when a call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event-parse.h>
#include <kbuffer.h>
#include <tracefs.h>

static void die(const char *what)
{
	fprintf(stderr, "tracefs_live: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	const char *systems[] = { "syscalls", NULL };
	struct tracefs_instance *instance;
	struct tracefs_cpu *tcpu;
	struct tep_handle *tep;
	struct tep_event *event;
	struct kbuffer *kbuf;
	cpu_set_t cpus;
	int calls, size, r, count = 0;
	char *page;

	if (argc != 2)
		return 2;
	calls = atoi(argv[1]);
	instance = tracefs_instance_create("tpfs_live");
	if (!instance)
		die("tracefs_instance_create");
	tep = tracefs_local_events_system(NULL, systems);
	if (!tep)
		die("tracefs_local_events_system");
	event = tep_find_event_by_name(tep, "syscalls", "sys_enter_getppid");
	if (!event)
		die("tep_find_event_by_name");
	if (tracefs_event_enable(instance, "syscalls", "sys_enter_getppid"))
		die("tracefs_event_enable");
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity");
	for (int i = 0; i < calls; i++)
		syscall(SYS_getppid);
	/* Non-blocking at open: the reads end once the buffer is empty. */
	tcpu = tracefs_cpu_open(instance, 0, true);
	if (!tcpu)
		die("tracefs_cpu_open");
	kbuf = kbuffer_alloc(KBUFFER_LSIZE_SAME_AS_HOST, KBUFFER_ENDIAN_SAME_AS_HOST);
	if (!kbuf)
		die("kbuffer_alloc");
	size = tracefs_cpu_read_size(tcpu);
	page = malloc(size);
	if (!page)
		die("malloc");
	while ((r = tracefs_cpu_read(tcpu, page, true)) > 0) {
		unsigned long long ts;
		void *data;

		if (kbuffer_load_subbuffer(kbuf, page) < 0)
			die("kbuffer_load_subbuffer");
		for (data = kbuffer_read_event(kbuf, &ts); data;
		     data = kbuffer_next_event(kbuf, &ts)) {
			unsigned short type = *(unsigned short *)data;
			int pid = *(int *)((char *)data + 4);

			if (type == event->id && pid == getpid())
				count++;
		}
	}
	if (r < 0 && errno != EAGAIN)
		die("tracefs_cpu_read");
	printf("pid=%d records=%d\n", getpid(), count);
	free(page);
	kbuffer_free(kbuf);
	tracefs_cpu_close(tcpu);
	tep_free(tep);
	if (tracefs_instance_destroy(instance))
		die("tracefs_instance_destroy");
	tracefs_instance_free(instance);
	return 0;
}
