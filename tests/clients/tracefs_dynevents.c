/*
 * tracefs_dynevents: make dynamic events and histograms with libtracefs's own
 * calls, fire them, read them back and remove them, as a tracing tool would
 * (tests/clients/test_libtracefs.py).
 *
 *   tracefs_dynevents [-c CLOCK] [-f LINE]...
 *
 * In order:
 *   - makes a kprobe kprobes/tpfs_read on vfs_read ($arg1 len=$arg3:u32)
 *     (tracefs_kprobe_alloc, tracefs_dynevent_create); an eprobe
 *     eprobes/tpfs_switch on sched.sched_switch (tracefs_eprobe_alloc); a
 *     synthetic event tpfs_lat from sched_waking to sched_switch
 *     (tracefs_synth_alloc) and one, tpfs_sql, from libtracefs's SQL
 *     (tracefs_sql), with their hist triggers (tracefs_synth_create); a
 *     histogram on the kprobe keyed on len (tracefs_hist_alloc,
 *     tracefs_hist_start)
 *   - "== list": every dynamic event (tracefs_dynevent_get_all, _info), the
 *     fields libtraceevent parses from each one's format
 *     (tracefs_dynevent_get_event, tracefs_synth_get_event), and the files
 *     that hold them (dynamic_events, kprobe_events, synthetic_events, the
 *     triggers)
 *   - sets trace_clock to CLOCK, if given (after the hist triggers are made:
 *     on Linux a hist trigger with time stamps sets the clock to its own),
 *     enables the four events (tracefs_event_enable) and writes each -f LINE
 *     to the top-level "fire" file (tracefs_instance_file_write)
 *   - "== records": the records (tracefs_iterate_raw_events), one a line:
 *       cpu=N SYSTEM:EVENT FIELD=VALUE ...  (numbers in decimal, strings as text)
 *   - "== hist": the kprobe's hist file
 *   - "== remove": disables the events, then tracefs_hist_destroy,
 *     tracefs_synth_destroy, tracefs_dynevent_destroy, and shows what is
 *     left: tracefs_dynevent_get_all's count, the files again, and whether
 *     the kprobe's directory is gone
 *
 * A file shows as "NAME: LINE" a line ("NAME: (empty)" when it has none; an
 * event's trigger file without its comment lines).
 * Exits 1 with a message on stderr when a libtracefs call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event-parse.h>
#include <tracefs.h>

#define MAX_FIRES 64

static const char *const kinds[] = {"kprobe", "kretprobe", "uprobe", "uretprobe", "eprobe",
				    "synth"};

static void die(const char *what)
{
	fprintf(stderr, "tracefs_dynevents: %s: %s\n", what, strerror(errno));
	exit(1);
}

static const char *kind_name(enum tracefs_dynevent_type type)
{
	for (unsigned int i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (type == 1u << i)
			return kinds[i];
	return "unknown";
}

/* A file's lines, each prefixed with "LABEL: " (comment lines only if
 * "comments"), or "LABEL: (empty)". */
static void show_path(char *path, const char *label, int comments)
{
	FILE *file = fopen(path, "r");
	char *line = NULL;
	size_t size = 0;
	int shown = 0;

	if (!file)
		die(path);
	while (getline(&line, &size, file) > 0) {
		if (!comments && line[0] == '#')
			continue;
		printf("%s: %s", label, line);
		shown++;
	}
	if (!shown)
		printf("%s: (empty)\n", label);
	free(line);
	fclose(file);
	tracefs_put_tracing_file(path);
}

static void show_file(const char *file)
{
	show_path(tracefs_instance_get_file(NULL, file), file, 1);
}

static void show_event_file(const char *system, const char *event, const char *file,
			    int comments)
{
	char label[256];

	snprintf(label, sizeof(label), "%s/%s/%s", system, event, file);
	show_path(tracefs_event_get_file(NULL, system, event, file), label, comments);
}

static void show_fields(struct tep_event *event)
{
	struct tep_format_field **fields;

	if (!event)
		die("no tep event");
	fields = tep_event_fields(event);
	printf("fields %s:%s", event->system, event->name);
	for (int i = 0; fields && fields[i]; i++)
		printf(" %s:%d:%d", fields[i]->name, fields[i]->offset, fields[i]->size);
	putchar('\n');
	free(fields);
}

static void list_dynevents(struct tep_handle *tep)
{
	struct tracefs_dynevent **all = tracefs_dynevent_get_all(TRACEFS_DYNEVENT_ALL, NULL);

	if (!all)
		die("tracefs_dynevent_get_all");
	for (int i = 0; all[i]; i++) {
		char *system, *event, *prefix, *addr, *format;
		enum tracefs_dynevent_type type =
			tracefs_dynevent_info(all[i], &system, &event, &prefix, &addr, &format);

		printf("%s system=%s event=%s prefix=%s addr=%s format=%s\n", kind_name(type),
		       system, event, prefix, addr ? addr : "(null)", format ? format : "(null)");
		if (type != TRACEFS_DYNEVENT_SYNTH)
			show_fields(tracefs_dynevent_get_event(tep, all[i]));
		free(system);
		free(event);
		free(prefix);
		free(addr);
		free(format);
	}
	tracefs_dynevent_list_free(all);
}

static void print_record(struct tep_event *event, struct tep_record *record, int cpu)
{
	struct tep_format_field **fields = tep_event_fields(event);

	printf("cpu=%d %s:%s", cpu, event->system, event->name);
	for (int i = 0; fields && fields[i]; i++) {
		struct tep_format_field *f = fields[i];
		unsigned long long val;
		int len;

		printf(" %s=", f->name);
		if (f->flags & TEP_FIELD_IS_STRING) {
			const char *p = tep_get_field_raw(NULL, event, f->name, record, &len, 0);

			printf("%.*s", p ? (int)strnlen(p, len) : 1, p ? p : "?");
		} else if (tep_read_number_field(f, record->data, &val) < 0) {
			printf("?");
		} else {
			printf("%llu", val);
		}
	}
	putchar('\n');
	free(fields);
}

static int record_callback(struct tep_event *event, struct tep_record *record, int cpu,
			   void *context)
{
	(void)context;
	print_record(event, record, cpu);
	return 0;
}

static struct tracefs_synth *make_synth(struct tep_handle *tep)
{
	struct tracefs_synth *synth = tracefs_synth_alloc(tep, "tpfs_lat", "sched",
							  "sched_waking", "sched", "sched_switch",
							  "pid", "next_pid", "pid");

	if (!synth)
		die("tracefs_synth_alloc");
	if (tracefs_synth_add_compare_field(synth, TRACEFS_TIMESTAMP, TRACEFS_TIMESTAMP,
					    TRACEFS_SYNTH_DELTA_END, "delta") < 0)
		die("tracefs_synth_add_compare_field");
	if (tracefs_synth_add_start_field(synth, "prio", "wake_prio") < 0)
		die("tracefs_synth_add_start_field");
	if (tracefs_synth_add_end_field(synth, "next_comm", "comm") < 0)
		die("tracefs_synth_add_end_field");
	if (tracefs_synth_append_start_filter(synth, TRACEFS_FILTER_COMPARE, "comm",
					      TRACEFS_COMPARE_EQ, "\"cyclictest\"") < 0)
		die("tracefs_synth_append_start_filter");
	return synth;
}

static struct tracefs_synth *make_sql(struct tep_handle *tep)
{
	char *err = NULL;
	struct tracefs_synth *synth = tracefs_sql(
		tep, "tpfs_sql",
		"SELECT end.common_pid AS pid, end.next_prio AS prio,"
		" (end.common_timestamp - start.common_timestamp) AS lat"
		" FROM sched_waking AS start JOIN sched_switch AS end"
		" ON start.pid = end.next_pid WHERE end.next_prio < 100",
		&err);

	if (!synth) {
		fprintf(stderr, "tracefs_dynevents: tracefs_sql: %s\n", err ? err : "?");
		exit(1);
	}
	return synth;
}

int main(int argc, char **argv)
{
	const char *systems[] = {"sched", "kprobes", "eprobes", "synthetic", NULL};
	const char *fires[MAX_FIRES];
	struct tracefs_dynevent *kprobe, *eprobe;
	struct tracefs_synth *synth, *sql;
	struct tracefs_hist *hist;
	struct tracefs_dynevent **left;
	struct tep_handle *tep;
	const char *clock = NULL;
	int nfires = 0, opt, count;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "c:f:")) != -1) {
		if (opt == 'c')
			clock = optarg;
		else if (opt != 'f' || nfires == MAX_FIRES)
			return 2;
		else
			fires[nfires++] = optarg;
	}

	kprobe = tracefs_kprobe_alloc(NULL, "tpfs_read", "vfs_read", "$arg1 len=$arg3:u32");
	if (!kprobe || tracefs_dynevent_create(kprobe) < 0)
		die("kprobe");
	eprobe = tracefs_eprobe_alloc(NULL, "tpfs_switch", "sched", "sched_switch",
				      "prev=$prev_pid:u32 next=$next_comm");
	if (!eprobe || tracefs_dynevent_create(eprobe) < 0)
		die("eprobe");
	/* The formats of the sched events and of the kprobe, made above. */
	tep = tracefs_local_events_system(NULL, systems);
	if (!tep)
		die("tracefs_local_events_system");
	synth = make_synth(tep);
	sql = make_sql(tep);
	if (tracefs_synth_create(synth) < 0)
		die("tracefs_synth_create tpfs_lat");
	if (tracefs_synth_create(sql) < 0)
		die("tracefs_synth_create tpfs_sql");
	hist = tracefs_hist_alloc(tep, "kprobes", "tpfs_read", "len", TRACEFS_HIST_KEY_NORMAL);
	if (!hist || tracefs_hist_add_value(hist, "arg1") < 0)
		die("tracefs_hist_alloc");
	if (tracefs_hist_add_sort_key(hist, "len") < 0)
		die("tracefs_hist_add_sort_key");
	if (tracefs_hist_start(NULL, hist) < 0)
		die("tracefs_hist_start");
	tep_free(tep);

	printf("== list\n");
	tep = tracefs_local_events_system(NULL, systems);
	if (!tep)
		die("tracefs_local_events_system");
	list_dynevents(tep);
	show_fields(tracefs_synth_get_event(tep, synth));
	show_fields(tracefs_synth_get_event(tep, sql));
	show_file("dynamic_events");
	show_file("kprobe_events");
	show_file("synthetic_events");
	show_event_file("sched", "sched_waking", "trigger", 0);
	show_event_file("sched", "sched_switch", "trigger", 0);
	show_event_file("kprobes", "tpfs_read", "trigger", 0);

	if (clock && tracefs_instance_file_write(NULL, "trace_clock", clock) < 0)
		die("trace_clock");
	if (tracefs_event_enable(NULL, "kprobes", "tpfs_read") < 0 ||
	    tracefs_event_enable(NULL, "eprobes", "tpfs_switch") < 0 ||
	    tracefs_event_enable(NULL, "synthetic", NULL) < 0)
		die("tracefs_event_enable");
	for (int i = 0; i < nfires; i++)
		if (tracefs_instance_file_write(NULL, "fire", fires[i]) < 0)
			die(fires[i]);

	printf("== records\n");
	if (tracefs_iterate_raw_events(tep, NULL, NULL, 0, record_callback, NULL) < 0)
		die("tracefs_iterate_raw_events");
	printf("== hist\n");
	show_event_file("kprobes", "tpfs_read", "hist", 1);

	printf("== remove\n");
	if (tracefs_event_disable(NULL, "kprobes", NULL) < 0 ||
	    tracefs_event_disable(NULL, "eprobes", NULL) < 0 ||
	    tracefs_event_disable(NULL, "synthetic", NULL) < 0)
		die("tracefs_event_disable");
	if (tracefs_hist_destroy(NULL, hist) < 0)
		die("tracefs_hist_destroy");
	if (tracefs_synth_destroy(synth) < 0)
		die("tracefs_synth_destroy tpfs_lat");
	if (tracefs_synth_destroy(sql) < 0)
		die("tracefs_synth_destroy tpfs_sql");
	if (tracefs_dynevent_destroy(eprobe, false) < 0)
		die("tracefs_dynevent_destroy eprobe");
	if (tracefs_dynevent_destroy(kprobe, false) < 0)
		die("tracefs_dynevent_destroy kprobe");
	tracefs_hist_free(hist);
	tracefs_synth_free(synth);
	tracefs_synth_free(sql);
	tracefs_dynevent_free(eprobe);
	tracefs_dynevent_free(kprobe);
	tep_free(tep);
	left = tracefs_dynevent_get_all(TRACEFS_DYNEVENT_ALL, NULL);
	for (count = 0; left && left[count]; count++)
		;
	tracefs_dynevent_list_free(left);
	printf("left: %d\n", count);
	show_file("dynamic_events");
	show_file("kprobe_events");
	show_file("synthetic_events");
	show_event_file("sched", "sched_waking", "trigger", 0);
	show_event_file("sched", "sched_switch", "trigger", 0);
	printf("kprobes: %s\n", tracefs_event_file_exists(NULL, "kprobes", "tpfs_read", "enable")
	       ? "still there" : "gone");
	return 0;
}
