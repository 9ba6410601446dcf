/*
 * tracefs_reader: fire events through a tracefs mount and read them back with
 * libtracefs, as a tracing tool would (tests/clients/test_libtracefs.py).
 *
 *   tracefs_reader [-i NAME] [-e SYSTEM:EVENT]... [-f LINE | -m TEXT]... -r MODE...
 *
 *   -i NAME   create instance NAME (tracefs_instance_create), use it, and
 *             destroy it at the end
 *   -e S:E    enable S:E in the instance (tracefs_event_enable)
 *   -f LINE   write LINE to the top-level "fire" file (one write)
 *   -m TEXT   write TEXT to the instance's trace_marker (one write)
 *   -r MODE   do every -f and -m in order, then read the buffers back:
 *             iterate  tracefs_iterate_raw_events over all CPUs
 *             cpu      tracefs_cpu_open/tracefs_cpu_read, one CPU after another
 *             all      tracefs_cpu_read on every CPU, merged by time stamp
 *
 * Prints "pid=PID" (the writer of the markers), then for each -r a line
 * "== MODE" and one line per event:
 *   cpu=N SYSTEM:EVENT common_pid=P FIELD=VALUE ...
 * (strings as text with "\n" escaped, other arrays as hex bytes).
 * Exits 1 with a message on stderr when a libtracefs call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event-parse.h>
#include <kbuffer.h>
#include <tracefs.h>

#define MAX_ACTIONS 256

struct action {
	char kind; /* 'f' fire, 'm' marker */
	const char *text;
};

static void die(const char *what)
{
	fprintf(stderr, "tracefs_reader: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void print_string(const char *p, int len)
{
	for (int i = 0; i < len && p[i]; i++) {
		if (p[i] == '\n')
			fputs("\\n", stdout);
		else
			putchar(p[i]);
	}
}

static void print_event(struct tep_event *event, struct tep_record *record, int cpu)
{
	struct tep_format_field **fields = tep_event_fields(event);

	printf("cpu=%d %s:%s common_pid=%d", cpu, event->system, event->name,
	       tep_data_pid(event->tep, record));
	for (int i = 0; fields && fields[i]; i++) {
		struct tep_format_field *f = fields[i];
		unsigned long long val;
		int len;

		printf(" %s=", f->name);
		if (f->flags & TEP_FIELD_IS_ARRAY) {
			const char *p = tep_get_field_raw(NULL, event, f->name, record, &len, 0);

			if (!p) {
				printf("?");
				continue;
			}
			if (!(f->flags & TEP_FIELD_IS_DYNAMIC) && f->size == 0)
				len = record->size - f->offset; /* char buf[]: to the end */
			if (f->flags & TEP_FIELD_IS_STRING) {
				print_string(p, len);
			} else {
				for (int j = 0; j < len; j++)
					printf("%02x", (unsigned char)p[j]);
			}
			continue;
		}
		if (tep_read_number_field(f, record->data, &val) < 0) {
			printf("?");
			continue;
		}
		if (f->flags & TEP_FIELD_IS_SIGNED) {
			int shift = 64 - 8 * f->size;

			printf("%lld", shift > 0 ? ((long long)(val << shift)) >> shift : (long long)val);
		} else {
			printf("%llu", val);
		}
	}
	putchar('\n');
	free(fields);
}

static int iterate_callback(struct tep_event *event, struct tep_record *record, int cpu,
			    void *context)
{
	(void)context;
	print_event(event, record, cpu);
	return 0;
}

/* Every record of one CPU, read with tracefs_cpu_read and split with kbuffer. */
struct cpu_records {
	int cpu;
	int count, next;
	struct tep_record *records;
};

static void read_cpu(struct tep_handle *tep, struct tracefs_instance *instance, int cpu,
		     struct cpu_records *out)
{
	enum kbuffer_long_size lsize = tep_get_header_page_size(tep) == 8 ? KBUFFER_LSIZE_8
									  : KBUFFER_LSIZE_4;
	enum kbuffer_endian endian = tep_is_file_bigendian(tep) ? KBUFFER_ENDIAN_BIG
								: KBUFFER_ENDIAN_LITTLE;
	/* Non-blocking at open: the read must end once the buffer is empty. */
	struct tracefs_cpu *tcpu = tracefs_cpu_open(instance, cpu, true);
	struct kbuffer *kbuf = kbuffer_alloc(lsize, endian);
	int size, r;

	if (!tcpu)
		die("tracefs_cpu_open");
	if (!kbuf)
		die("kbuffer_alloc");
	size = tracefs_cpu_read_size(tcpu);
	memset(out, 0, sizeof(*out));
	out->cpu = cpu;
	for (;;) {
		char *page = malloc(size);
		unsigned long long ts;
		void *data;

		if (!page)
			die("malloc");
		r = tracefs_cpu_read(tcpu, page, true);
		if (r < 0)
			die("tracefs_cpu_read");
		if (r == 0) {
			free(page);
			break;
		}
		if (kbuffer_load_subbuffer(kbuf, page) < 0)
			die("kbuffer_load_subbuffer");
		/* The page stays allocated: the records point into it. */
		for (data = kbuffer_read_event(kbuf, &ts); data; data = kbuffer_next_event(kbuf, &ts)) {
			struct tep_record *rec;

			out->records = realloc(out->records, (out->count + 1) * sizeof(*rec));
			if (!out->records)
				die("realloc");
			rec = &out->records[out->count++];
			memset(rec, 0, sizeof(*rec));
			rec->ts = ts;
			rec->cpu = cpu;
			rec->data = data;
			rec->size = kbuffer_event_size(kbuf);
			rec->ref_count = 1;
		}
	}
	kbuffer_free(kbuf);
	tracefs_cpu_close(tcpu);
}

static void print_record(struct tep_handle *tep, struct tep_record *rec)
{
	struct tep_event *event = tep_find_event(tep, tep_data_type(tep, rec));

	if (event)
		print_event(event, rec, rec->cpu);
	else
		printf("cpu=%d unknown-type=%d\n", rec->cpu, tep_data_type(tep, rec));
}

static void read_back(struct tep_handle *tep, struct tracefs_instance *instance, const char *mode)
{
	int ncpus = sysconf(_SC_NPROCESSORS_CONF);
	struct cpu_records *cpus;

	printf("== %s\n", mode);
	if (strcmp(mode, "iterate") == 0) {
		if (tracefs_iterate_raw_events(tep, instance, NULL, 0, iterate_callback, NULL) < 0)
			die("tracefs_iterate_raw_events");
		return;
	}
	if (strcmp(mode, "cpu") != 0 && strcmp(mode, "all") != 0) {
		fprintf(stderr, "tracefs_reader: unknown mode %s\n", mode);
		exit(2);
	}
	cpus = calloc(ncpus, sizeof(*cpus));
	if (!cpus)
		die("calloc");
	for (int cpu = 0; cpu < ncpus; cpu++) {
		read_cpu(tep, instance, cpu, &cpus[cpu]);
		if (mode[0] == 'c')
			for (int i = 0; i < cpus[cpu].count; i++)
				print_record(tep, &cpus[cpu].records[i]);
	}
	if (mode[0] == 'a') {
		for (;;) { /* the oldest record among the CPUs' next ones */
			struct cpu_records *best = NULL;

			for (int cpu = 0; cpu < ncpus; cpu++) {
				struct cpu_records *c = &cpus[cpu];

				if (c->next < c->count &&
				    (!best || c->records[c->next].ts < best->records[best->next].ts))
					best = c;
			}
			if (!best)
				break;
			print_record(tep, &best->records[best->next++]);
		}
	}
	/* The pages the records point into are left to the process's exit. */
	for (int cpu = 0; cpu < ncpus; cpu++)
		free(cpus[cpu].records);
	free(cpus);
}

static void write_all(int fd, const char *text, const char *what)
{
	ssize_t len = strlen(text);

	if (write(fd, text, len) != len)
		die(what);
}

static void do_actions(struct tracefs_instance *instance, struct action *actions, int n)
{
	char *fire = tracefs_get_tracing_file("fire");

	for (int i = 0; i < n; i++) {
		char *path = actions[i].kind == 'f' ? strdup(fire)
						    : tracefs_instance_get_file(instance, "trace_marker");
		int fd = open(path, O_WRONLY);

		if (fd < 0)
			die(path);
		write_all(fd, actions[i].text, path);
		close(fd);
		free(path);
	}
	tracefs_put_tracing_file(fire);
}

int main(int argc, char **argv)
{
	struct tracefs_instance *instance = NULL;
	struct action actions[MAX_ACTIONS];
	const char *systems[MAX_ACTIONS + 2] = {"ftrace"};
	const char *modes[MAX_ACTIONS];
	int nactions = 0, nmodes = 0, nsystems = 1;
	struct tep_handle *tep;
	int opt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid=%d\n", getpid());
	while ((opt = getopt(argc, argv, "i:e:f:m:r:")) != -1) {
		char *colon, *sys;

		if (nactions == MAX_ACTIONS || nmodes == MAX_ACTIONS || nsystems == MAX_ACTIONS)
			break;
		switch (opt) {
		case 'i':
			instance = tracefs_instance_create(optarg);
			if (!instance)
				die("tracefs_instance_create");
			break;
		case 'e':
			sys = strdup(optarg);
			colon = strchr(sys, ':');
			if (!colon) {
				fprintf(stderr, "tracefs_reader: -e takes SYSTEM:EVENT\n");
				return 2;
			}
			*colon = '\0';
			if (tracefs_event_enable(instance, sys, colon + 1) < 0)
				die("tracefs_event_enable");
			systems[nsystems++] = sys;
			break;
		case 'f':
		case 'm':
			actions[nactions].kind = opt;
			actions[nactions++].text = optarg;
			break;
		case 'r':
			modes[nmodes++] = optarg;
			break;
		default:
			return 2;
		}
	}
	systems[nsystems] = NULL;
	/* The formats of the enabled events' systems and of ftrace (markers). */
	tep = tracefs_local_events_system(NULL, systems);
	if (!tep)
		die("tracefs_local_events_system");
	for (int i = 0; i < nmodes; i++) {
		do_actions(instance, actions, nactions);
		read_back(tep, instance, modes[i]);
	}
	tep_free(tep);
	if (instance) {
		if (tracefs_instance_destroy(instance) < 0)
			die("tracefs_instance_destroy");
		tracefs_instance_free(instance);
	}
	return 0;
}
