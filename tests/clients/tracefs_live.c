/*
 * tracefs_live: a libtracefs program reading the machine's real events back
 * from a tracefs (tests/clients/test_live_clients.py, on a --live tpfs mount).
 *
 *   tracefs_live N [read|pipe [INSTANCE]]
 *
 * read (the default): creates instance "tpfs_live" (tracefs_instance_create),
 * enables syscalls:sys_enter_getppid in it (tracefs_event_enable), pins
 * itself to CPU 0 (sched_setaffinity), calls getppid() N times, then reads
 * CPU 0's raw pages with tracefs_cpu_open/tracefs_cpu_read (non-blocking) and
 * counts, with kbuffer, the records of that event whose common_pid is its
 * own. Destroys the instance.
 *
 * pipe: the pages come through tracefs_cpu_pipe, spliced into a pipe and
 * read from there, then, as trace-cmd ends a recording, through
 * tracefs_cpu_flush: the kernel splices whole pages only, so the page it
 * writes on comes by read(). It opens CPU 0's trace_pipe_raw before the
 * calls, and splices it once with tracefs_cpu_write (libtracefs sets up its
 * splicing there; tracefs_cpu_pipe alone splices 0 bytes until then). As the
 * records of a live tpfs reach the FIFO that stands for trace_pipe_raw a
 * moment after the calls (nothing tells the daemon of a FIFO's read), it
 * splices until it has N records or five seconds have passed (on the kernel,
 * N less the page being written), then reads the rest, on until it has N
 * records or ten seconds have passed, as a recorder reads on. It uses the
 * top-level buffer, or with INSTANCE that instance, which must exist (made
 * before exec-as-tracefs starts, whose FIFO then stands for its
 * trace_pipe_raw: see docs/recording.md), and disables the event again at
 * the end.
 *
 * Prints "pid=PID records=COUNT piped=P", P of the COUNT records having come
 * through tracefs_cpu_pipe (0 in read mode).
 * Exits 1 with a message on stderr when a call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <time.h>
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

/* The records of event `id` with its common_pid ours in the page at `page`. */
static int count_page(struct kbuffer *kbuf, void *page, int id)
{
	unsigned long long ts;
	int count = 0;
	void *data;

	if (kbuffer_load_subbuffer(kbuf, page) < 0)
		die("kbuffer_load_subbuffer");
	for (data = kbuffer_read_event(kbuf, &ts); data; data = kbuffer_next_event(kbuf, &ts)) {
		unsigned short type = *(unsigned short *)data;

		if (type == id && *(int *)((char *)data + 4) == getpid())
			count++;
	}
	return count;
}

/* Through tracefs_cpu_read: each read is one page. */
static int count_read(struct tracefs_cpu *tcpu, struct kbuffer *kbuf, char *page, int id)
{
	int r, count = 0;

	while ((r = tracefs_cpu_read(tcpu, page, true)) > 0)
		count += count_page(kbuf, page, id);
	if (r < 0 && errno != EAGAIN)
		die("tracefs_cpu_read");
	return count;
}

/* The records in the whole pages the pipe `in` holds. */
static int count_piped(int in, struct kbuffer *kbuf, char *page, int size, int id)
{
	int r, count = 0;

	while ((r = read(in, page, size)) > 0) {
		if (r != size) {
			errno = EPROTO;
			die("a part of a page through the pipe");
		}
		count += count_page(kbuf, page, id);
	}
	if (r < 0 && errno != EAGAIN)
		die("read");
	return count;
}

/* Through tracefs_cpu_pipe until it has nothing. */
static int count_pipe(struct tracefs_cpu *tcpu, int through[2], struct kbuffer *kbuf,
		      char *page, int size, int id)
{
	int r, count = 0;

	while ((r = tracefs_cpu_pipe(tcpu, through[1], true)) > 0)
		count += count_piped(through[0], kbuf, page, size, id);
	if (r < 0 && errno != EAGAIN)
		die("tracefs_cpu_pipe");
	return count;
}

/* Through tracefs_cpu_flush until it has nothing. */
static int count_flush(struct tracefs_cpu *tcpu, struct kbuffer *kbuf, char *page, int id)
{
	int r, count = 0;

	while ((r = tracefs_cpu_flush(tcpu, page)) > 0)
		count += count_page(kbuf, page, id);
	if (r < 0 && errno != EAGAIN)
		die("tracefs_cpu_flush");
	return count;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *systems[] = { "syscalls", NULL };
	struct tracefs_instance *instance = NULL;
	struct tracefs_cpu *tcpu = NULL;
	int calls, size = 0, count = 0, piped = 0;
	int through[2] = { -1, -1 };
	struct tep_handle *tep;
	struct tep_event *event;
	struct kbuffer *kbuf;
	cpu_set_t cpus;
	bool pipe;
	char *page = NULL;

	if (argc < 2 || argc > 4)
		return 2;
	calls = atoi(argv[1]);
	pipe = argc >= 3 && !strcmp(argv[2], "pipe");
	if (argc >= 3 && !pipe && (strcmp(argv[2], "read") || argc == 4))
		return 2;
	if (argc == 4) {
		instance = tracefs_instance_alloc(NULL, argv[3]);
		if (!instance || !tracefs_instance_exists(argv[3])) {
			errno = ENOENT;
			die(argv[3]);
		}
	} else if (!pipe) {
		instance = tracefs_instance_create("tpfs_live");
		if (!instance)
			die("tracefs_instance_create");
	}
	tep = tracefs_local_events_system(NULL, systems);
	if (!tep)
		die("tracefs_local_events_system");
	event = tep_find_event_by_name(tep, "syscalls", "sys_enter_getppid");
	if (!event)
		die("tep_find_event_by_name");
	kbuf = kbuffer_alloc(KBUFFER_LSIZE_SAME_AS_HOST, KBUFFER_ENDIAN_SAME_AS_HOST);
	if (!kbuf)
		die("kbuffer_alloc");
	if (tracefs_event_enable(instance, "syscalls", "sys_enter_getppid"))
		die("tracefs_event_enable");
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity");
	if (pipe) {
		/* Non-blocking at open: the splices and reads end once the buffer is empty. */
		tcpu = tracefs_cpu_open(instance, 0, true);
		if (!tcpu)
			die("tracefs_cpu_open");
		size = tracefs_cpu_read_size(tcpu);
		page = malloc(size);
		if (!page)
			die("malloc");
		if (pipe2(through, O_NONBLOCK | O_CLOEXEC))
			die("pipe2");
		if (tracefs_cpu_write(tcpu, through[1], true) < 0 && errno != EAGAIN)
			die("tracefs_cpu_write");
		count = count_piped(through[0], kbuf, page, size, event->id);
	}
	for (int i = 0; i < calls; i++)
		syscall(SYS_getppid);
	if (pipe) {
		double start = now();

		/* The pipe alone for up to 5 s, then the rest: the page being written. */
		while (piped < calls && now() < start + 5) {
			piped += count_pipe(tcpu, through, kbuf, page, size, event->id);
			if (piped < calls)
				usleep(10000);
		}
		count += piped + count_flush(tcpu, kbuf, page, event->id);
		while (count < calls && now() < start + 10) {
			usleep(10000);
			count += count_pipe(tcpu, through, kbuf, page, size, event->id);
			count += count_flush(tcpu, kbuf, page, event->id);
		}
		close(through[0]);
		close(through[1]);
	} else {
		tcpu = tracefs_cpu_open(instance, 0, true);
		if (!tcpu)
			die("tracefs_cpu_open");
		size = tracefs_cpu_read_size(tcpu);
		page = malloc(size);
		if (!page)
			die("malloc");
		count = count_read(tcpu, kbuf, page, event->id);
	}
	printf("pid=%d records=%d piped=%d\n", getpid(), count, piped);
	free(page);
	kbuffer_free(kbuf);
	tracefs_cpu_close(tcpu);
	tep_free(tep);
	if (pipe) {
		if (tracefs_event_disable(instance, "syscalls", "sys_enter_getppid"))
			die("tracefs_event_disable");
		tracefs_instance_free(instance);
		return 0;
	}
	if (tracefs_instance_destroy(instance))
		die("tracefs_instance_destroy");
	tracefs_instance_free(instance);
	return 0;
}
