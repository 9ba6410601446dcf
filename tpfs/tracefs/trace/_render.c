/*
 * Events' texts from libtraceevent, many records per call.
 *
 * printer.py keeps the libtraceevent handle (made and fed formats through
 * ctypes); this module does the per-record work on it: for a batch of
 * records it points one tep_record at each record's bytes in turn, prints
 * it with tep_print_event(TEP_PRINT_INFO) into one trace_seq for the whole
 * batch, and cuts the texts out as str (undecodable bytes kept as
 * surrogates, as the Python path decoded them). One call replaces the
 * copy, the field stores, the reset, the print and the string read that
 * ctypes made per record.
 *
 * lines() makes whole lines of trace_pipe and trace; syscall events' texts
 * it prints itself from a spec per event (syscall_text.py's syscall_spec),
 * as the kernel's print_syscall_enter and print_syscall_exit print them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <event-parse.h>
#include <trace-seq.h>

/* Offsets of each text in the batch's trace_seq, kept between calls. */
static Py_ssize_t *ends;
static Py_ssize_t ends_size;

static int
grow_ends(Py_ssize_t n)
{
    if (n <= ends_size)
        return 0;
    Py_ssize_t *bigger = PyMem_Realloc(ends, (size_t)n * sizeof(*ends));
    if (bigger == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ends = bigger;
    ends_size = n;
    return 0;
}

/* One (record, cpu, ts) of a batch: its bytes, length, CPU and time stamp. */
static int
unpack_item(PyObject *item, const char **data, Py_ssize_t *size, int *cpu,
            unsigned long long *ts)
{
    PyObject *record, *cpu_obj, *ts_obj;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
        PyErr_SetString(PyExc_TypeError, "each item is (record, cpu, ts)");
        return -1;
    }
    record = PyTuple_GET_ITEM(item, 0);
    cpu_obj = PyTuple_GET_ITEM(item, 1);
    ts_obj = PyTuple_GET_ITEM(item, 2);
    if (!PyBytes_Check(record)) {
        PyErr_SetString(PyExc_TypeError, "a record is bytes");
        return -1;
    }
    *data = PyBytes_AS_STRING(record);
    *size = PyBytes_GET_SIZE(record);
    if (*size > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "a record is too long");
        return -1;
    }
    *cpu = (int)PyLong_AsLong(cpu_obj);
    if (*cpu == -1 && PyErr_Occurred())
        return -1;
    *ts = PyLong_AsUnsignedLongLong(ts_obj);
    if (*ts == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    return 0;
}

static PyObject *
texts(PyObject *module, PyObject *args)
{
    unsigned long long handle;
    PyObject *items, *seq_items, *result = NULL;
    struct tep_record rec;
    struct trace_seq seq;
    Py_ssize_t n, i;

    (void)module;
    if (!PyArg_ParseTuple(args, "KO:texts", &handle, &items))
        return NULL;
    if (handle == 0) {
        PyErr_SetString(PyExc_ValueError, "no libtraceevent handle");
        return NULL;
    }
    seq_items = PySequence_Fast(items, "texts takes a sequence of (record, cpu, ts)");
    if (seq_items == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq_items);
    if (grow_ends(n) < 0)
        goto out;

    memset(&rec, 0, sizeof(rec));
    rec.ref_count = 1;
    rec.locked = 1;
    trace_seq_init(&seq);
    for (i = 0; i < n; i++) {
        const char *data;
        Py_ssize_t size;

        if (unpack_item(PySequence_Fast_GET_ITEM(seq_items, i), &data, &size, &rec.cpu,
                        &rec.ts) < 0)
            goto done;
        /* libtraceevent only reads the record: point at the bytes, no copy. */
        rec.data = (void *)data;
        rec.size = rec.record_size = (int)size;
        tep_print_event((struct tep_handle *)(uintptr_t)handle, &seq, &rec, "%s",
                        TEP_PRINT_INFO);
        if (seq.state != TRACE_SEQ__GOOD) {
            PyErr_NoMemory();
            goto done;
        }
        ends[i] = seq.len;
    }
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        Py_ssize_t start = i ? ends[i - 1] : 0;
        PyObject *text = PyUnicode_DecodeUTF8(seq.buffer + start, ends[i] - start,
                                              "surrogateescape");
        if (text == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, text);
    }
done:
    trace_seq_destroy(&seq);
out:
    Py_DECREF(seq_items);
    return result;
}

/*
 * Whole trace_pipe lines: the context columns, the time stamp and the event's
 * text in one trace_seq, the runs of several CPUs merged by time and the read
 * cut at its size, as trace.py's TracePipe._fill and printer.py's Printer.line
 * would make them one at a time.
 */

/* What a record's body is, by event id (printer.py keeps the table). */
enum body_kind {
    BODY_PYTHON = 0, /* printed by printer.py's own code: a callback */
    BODY_NAMED = 1,  /* "NAME: TEXT\n" from libtraceevent */
    BODY_TEXT = 2,   /* the TEXT alone, its newline in it (ftrace:print) */
    BODY_SYSCALL_ENTER = 3, /* "sys_NAME(ARG: VALUE, ...)\n" from the event's spec */
    BODY_SYSCALL_EXIT = 4,  /* "sys_NAME -> 0xVALUE\n" from the event's spec */
};
#define KINDS_SIZE 65536
/* printer.py's RECORD_MAX: a longer record goes to the callback, which refuses it. */
#define RECORD_MAX 8192

static const char *const resched_flags[8] = {
    /* by NEED_RESCHED_LAZY (1), NEED_RESCHED (2), PREEMPT_RESCHED (4) */
    ".", "l", "n", "b", "p", "L", "N", "B",
};

/* The five flag letters of trace_print_lat_fmt, as printer.py's lat_flags. */
static void
lat_flags(char *out, unsigned flags, unsigned pc)
{
    unsigned irqs_off = flags & 0x01, bh_off = flags & 0x80;
    unsigned nmi = flags & 0x40, hard = flags & 0x08, soft = flags & 0x10;
    static const char hex[] = "0123456789abcdef";

    out[0] = irqs_off && bh_off ? 'D' : irqs_off ? 'd' : bh_off ? 'b' : '.';
    out[1] = resched_flags[(flags >> 1 & 1) | (flags >> 1 & 2) | (flags >> 3 & 4)][0];
    out[2] = nmi && hard ? 'Z' : nmi ? 'z' : hard && soft ? 'H' : hard ? 'h' : soft ? 's' : '.';
    out[3] = pc & 0xF ? hex[pc & 0xF] : '.';
    out[4] = pc & 0xF0 ? hex[pc >> 4 & 0xF] : '.';
}

/* v in decimal, padded on the left with `pad` to `width` characters (as printf's
 * "%*llu" and "%0*llu"); returns the characters written (at most 20 or width). */
static int
put_decimal(char *out, unsigned long long v, int width, char pad)
{
    char digits[20];
    int n = 0, len = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (len + n < width)
        out[len++] = pad;
    while (n)
        out[len++] = digits[--n];
    return len;
}

/* One CPU's run: its events from `taken` on, the next one's stamp decoded. */
struct run {
    int cpu;
    unsigned long long lost;
    PyObject *stamps, *payloads; /* lists, borrowed */
    Py_ssize_t n, taken;
    unsigned long long next_ts;
};

struct line_opts {
    int context, irq_info, tgid, in_ns;
    PyObject *comm_of, *tgid_of, *body_of, *heads, *syscalls;
};

/* Bytes onto the end of a trace_seq (libtraceevent exports no putmem); the
 * buffer grows as its own code grows it, with realloc. */
static void
seq_put(struct trace_seq *s, const char *mem, size_t len)
{
    if (s->state != TRACE_SEQ__GOOD)
        return;
    if ((size_t)s->len + len + 1 > s->buffer_size) {
        size_t size = (size_t)s->buffer_size * 2;
        char *bigger;

        if (size < (size_t)s->len + len + 1)
            size = (size_t)s->len + len + 1;
        if (size > UINT_MAX || (bigger = realloc(s->buffer, size)) == NULL) {
            s->state = TRACE_SEQ__MEM_ALLOC_FAILED;
            return;
        }
        s->buffer = bigger;
        s->buffer_size = (unsigned)size;
    }
    memcpy(s->buffer + s->len, mem, len);
    s->len += (unsigned)len;
}

/* The task-pid part of a line with its TGID column: "%16s-%-7d " and "(%7d) ". */
static PyObject *
make_head(struct line_opts *o, int pid)
{
    PyObject *pid_obj = PyLong_FromLong(pid), *comm = NULL, *raw = NULL, *head = NULL;
    char tail[64];
    Py_ssize_t pad, len;
    int n;

    if (pid_obj == NULL)
        return NULL;
    comm = PyObject_CallOneArg(o->comm_of, pid_obj);
    if (comm == NULL)
        goto out;
    if (!PyUnicode_Check(comm)) {
        PyErr_SetString(PyExc_TypeError, "a comm is a str");
        goto out;
    }
    raw = PyUnicode_AsEncodedString(comm, "utf-8", "surrogateescape");
    if (raw == NULL)
        goto out;
    n = snprintf(tail, sizeof(tail), "-%-7d ", pid);
    if (o->tgid) {
        PyObject *tgid = PyObject_CallOneArg(o->tgid_of, pid_obj);
        if (tgid == NULL)
            goto out;
        if (tgid == Py_None) {
            n += snprintf(tail + n, sizeof(tail) - n, "(-------) ");
        } else {
            long long value = PyLong_AsLongLong(tgid);
            if (value == -1 && PyErr_Occurred()) {
                Py_DECREF(tgid);
                goto out;
            }
            n += snprintf(tail + n, sizeof(tail) - n, "(%7lld) ", value);
        }
        Py_DECREF(tgid);
    }
    /* padded to 16 characters (code points, as Python's format pads) */
    pad = 16 - PyUnicode_GET_LENGTH(comm);
    if (pad < 0)
        pad = 0;
    len = pad + PyBytes_GET_SIZE(raw) + n;
    head = PyBytes_FromStringAndSize(NULL, len);
    if (head == NULL)
        goto out;
    memset(PyBytes_AS_STRING(head), ' ', pad);
    memcpy(PyBytes_AS_STRING(head) + pad, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    memcpy(PyBytes_AS_STRING(head) + pad + PyBytes_GET_SIZE(raw), tail, n);
    if (PyDict_SetItem(o->heads, pid_obj, head) < 0)
        Py_CLEAR(head);
out:
    Py_XDECREF(raw);
    Py_XDECREF(comm);
    Py_DECREF(pid_obj);
    return head; /* a new reference, also held by o->heads */
}

/* A little-endian u16 of a spec, and a text of a spec (its u16 length, then it). */
static int
spec_u16(const unsigned char **at, const unsigned char *end, unsigned *value)
{
    if (end - *at < 2)
        return -1;
    *value = (*at)[0] | (unsigned)(*at)[1] << 8;
    *at += 2;
    return 0;
}

static int
spec_text(struct trace_seq *seq, const unsigned char **at, const unsigned char *end)
{
    unsigned len;

    if (spec_u16(at, end, &len) < 0 || (size_t)(end - *at) < len)
        return -1;
    seq_put(seq, (const char *)*at, len);
    *at += len;
    return 0;
}

/*
 * A syscall event's text as syscall_text.py makes it, from the event's spec
 * (syscall_spec: the head, the tail, the values' count, then each value's
 * offset, size and label): each value read unsigned from its size in bytes
 * (those the record has of them), an entry's below 10 in decimal and the rest
 * 0x hex, an exit's always 0x hex. -1 for a spec that does not parse.
 */
static int
syscall_body(struct trace_seq *seq, int kind, PyObject *spec, const unsigned char *data,
             Py_ssize_t size)
{
    const unsigned char *at = (const unsigned char *)PyBytes_AS_STRING(spec);
    const unsigned char *end = at + PyBytes_GET_SIZE(spec), *tail;
    unsigned count, i;

    if (spec_text(seq, &at, end) < 0)
        return -1;
    tail = at;
    if (spec_u16(&at, end, &count) < 0 || (size_t)(end - at) < count)
        return -1;
    at += count; /* the tail's text: printed after the values */
    if (spec_u16(&at, end, &count) < 0)
        return -1;
    for (i = 0; i < count; i++) {
        unsigned offset, width, b;
        unsigned long long value = 0;
        char digits[24];
        int n;

        if (spec_u16(&at, end, &offset) < 0 || spec_u16(&at, end, &width) < 0 || width > 8
            || spec_text(seq, &at, end) < 0)
            return -1;
        for (b = 0; b < width && (Py_ssize_t)(offset + b) < size; b++)
            value |= (unsigned long long)data[offset + b] << (8 * b);
        if (kind == BODY_SYSCALL_ENTER && value < 10)
            n = snprintf(digits, sizeof(digits), "%llu", value);
        else
            n = snprintf(digits, sizeof(digits), "0x%llx", value);
        seq_put(seq, digits, (size_t)n);
    }
    return spec_text(seq, &tail, end);
}

/* The body of a record printed by printer.py: its str, as UTF-8 into seq. */
static int
python_body(struct line_opts *o, struct trace_seq *seq, PyObject *record, int cpu,
            unsigned long long ts)
{
    PyObject *text, *raw;

    text = PyObject_CallFunction(o->body_of, "OiK", record, cpu, ts);
    if (text == NULL)
        return -1;
    if (!PyUnicode_Check(text)) {
        Py_DECREF(text);
        PyErr_SetString(PyExc_TypeError, "a body is a str");
        return -1;
    }
    raw = PyUnicode_AsEncodedString(text, "utf-8", "surrogateescape");
    Py_DECREF(text);
    if (raw == NULL)
        return -1;
    seq_put(seq, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    Py_DECREF(raw);
    return 0;
}

/* The last record libtraceevent printed in a call of lines() and its body: an
 * identical record (a body depends on the record alone) is not printed again.
 * Kept on the call's stack (the callbacks into Python may let another thread
 * call lines() meanwhile); size is -1 when there is none, and a record or a
 * body longer than the room here is not kept. */
#define MEMO_RECORD 512
#define MEMO_BODY 2048
struct memo {
    Py_ssize_t size;
    unsigned len;
    char record[MEMO_RECORD];
    char body[MEMO_BODY];
};

static void
remember(struct memo *m, const char *record, Py_ssize_t size, const char *body, unsigned len)
{
    if (size > MEMO_RECORD || len > MEMO_BODY) {
        m->size = -1;
        return;
    }
    memcpy(m->record, record, size);
    memcpy(m->body, body, len);
    m->size = size;
    m->len = len;
}

static int
next_stamp(struct run *r)
{
    if (r->taken >= r->n)
        return 0;
    r->next_ts = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(r->stamps, r->taken));
    return r->next_ts == (unsigned long long)-1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *
lines(PyObject *module, PyObject *args)
{
    unsigned long long handle;
    PyObject *run_list, *taken_list, *out, *result = NULL;
    Py_buffer kinds_view;
    Py_ssize_t want, limit, nruns, i, exhausted = -1, start_len;
    struct line_opts o;
    struct run *runs = NULL;
    struct trace_seq seq;
    struct tep_record rec;
    const unsigned char *kinds;
    struct memo memo;
    PyObject *last_head = NULL; /* the last pid's head, borrowed from o.heads */
    int last_pid = 0;
    PyObject *last_spec = NULL; /* the last syscall event's spec, a reference held */
    int last_spec_id = -1;

    (void)module;
    if (!PyArg_ParseTuple(args, "Ky*O!O!O!Ynn(iiii)OOO:lines", &handle, &kinds_view,
                          &PyDict_Type, &o.syscalls, &PyList_Type, &run_list,
                          &PyList_Type, &taken_list, &out, &want, &limit, &o.context,
                          &o.irq_info, &o.tgid, &o.in_ns, &o.comm_of, &o.tgid_of,
                          &o.body_of))
        return NULL;
    if (handle == 0 || kinds_view.len != KINDS_SIZE) {
        PyErr_SetString(PyExc_ValueError, "no libtraceevent handle or no table of kinds");
        goto release;
    }
    kinds = (const unsigned char *)kinds_view.buf;
    memo.size = -1;
    nruns = PyList_GET_SIZE(run_list);
    if (PyList_GET_SIZE(taken_list) != nruns) {
        PyErr_SetString(PyExc_ValueError, "one taken count per run");
        goto release;
    }
    runs = PyMem_Calloc(nruns ? (size_t)nruns : 1, sizeof(*runs));
    if (runs == NULL) {
        PyErr_NoMemory();
        goto release;
    }
    o.heads = PyDict_New();
    if (o.heads == NULL)
        goto free_runs;
    for (i = 0; i < nruns; i++) {
        struct run *r = &runs[i];
        PyObject *item = PyList_GET_ITEM(run_list, i);

        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4
            || !PyList_Check(PyTuple_GET_ITEM(item, 2))
            || !PyList_Check(PyTuple_GET_ITEM(item, 3))) {
            PyErr_SetString(PyExc_TypeError, "a run is (cpu, lost, stamps, payloads)");
            goto free_heads;
        }
        r->cpu = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        r->lost = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 1));
        r->stamps = PyTuple_GET_ITEM(item, 2);
        r->payloads = PyTuple_GET_ITEM(item, 3);
        r->n = PyList_GET_SIZE(r->payloads);
        r->taken = PyLong_AsSsize_t(PyList_GET_ITEM(taken_list, i));
        if (PyErr_Occurred())
            goto free_heads;
        if (PyList_GET_SIZE(r->stamps) != r->n || r->taken < 0 || r->taken > r->n) {
            PyErr_SetString(PyExc_ValueError, "a run's stamps, payloads and taken disagree");
            goto free_heads;
        }
        if (next_stamp(r) < 0)
            goto free_heads;
    }

    memset(&rec, 0, sizeof(rec));
    rec.ref_count = 1;
    rec.locked = 1;
    trace_seq_init(&seq);
    start_len = PyByteArray_GET_SIZE(out);
    while (start_len + (Py_ssize_t)seq.len < want) {
        struct run *best = NULL;
        PyObject *record;
        const char *data;
        Py_ssize_t size;
        unsigned line_at = seq.len;
        int event_id, kind, pid;

        for (i = 0; i < nruns; i++) {
            struct run *r = &runs[i];
            /* the earliest next event, a tie to the lower CPU */
            if (r->taken < r->n && (best == NULL || r->next_ts < best->next_ts
                                    || (r->next_ts == best->next_ts && r->cpu < best->cpu)))
                best = r;
        }
        if (best == NULL)
            break;
        record = PyList_GET_ITEM(best->payloads, best->taken);
        if (!PyBytes_Check(record) || PyBytes_GET_SIZE(record) < 8) {
            PyErr_SetString(PyExc_ValueError, "a payload is bytes with the common fields");
            goto done;
        }
        data = PyBytes_AS_STRING(record);
        size = PyBytes_GET_SIZE(record);
        event_id = (unsigned char)data[0] | (unsigned char)data[1] << 8;
        kind = size > RECORD_MAX ? BODY_PYTHON : kinds[event_id];
        if ((kind == BODY_SYSCALL_ENTER || kind == BODY_SYSCALL_EXIT)
            && event_id != last_spec_id) {
            PyObject *key = PyLong_FromLong(event_id), *spec;

            if (key == NULL)
                goto done;
            spec = PyDict_GetItemWithError(o.syscalls, key);
            Py_DECREF(key);
            if (spec == NULL && PyErr_Occurred())
                goto done;
            Py_XINCREF(spec);
            Py_XSETREF(last_spec, spec);
            last_spec_id = event_id;
        }
        /* a syscall event without a spec of bytes goes to printer.py, which knows it */
        if ((kind == BODY_SYSCALL_ENTER || kind == BODY_SYSCALL_EXIT)
            && (last_spec == NULL || !PyBytes_Check(last_spec)))
            kind = BODY_PYTHON;
        if (!best->taken && best->lost)
            trace_seq_printf(&seq, "CPU:%d [LOST %llu EVENTS]\n", best->cpu, best->lost);
        if (o.context) {
            PyObject *head;
            char cols[96];
            int n;

            memcpy(&pid, data + 4, sizeof(pid));
            if (last_head == NULL || pid != last_pid) {
                PyObject *key = PyLong_FromLong(pid);

                if (key == NULL)
                    goto done;
                head = PyDict_GetItemWithError(o.heads, key);
                Py_DECREF(key);
                if (head == NULL) {
                    if (PyErr_Occurred())
                        goto done;
                    head = make_head(&o, pid);
                    if (head == NULL)
                        goto done;
                    Py_DECREF(head); /* o.heads holds it */
                }
                last_head = head;
                last_pid = pid;
            }
            head = last_head;
            seq_put(&seq, PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head));
            /* "[%03d] ", the flags, then " %5llu.%06llu: " or " %12llu: ", without
             * printf's parsing of its format for every line */
            cols[0] = '[';
            n = 1 + put_decimal(cols + 1, (unsigned)best->cpu, 3, '0');
            cols[n++] = ']';
            cols[n++] = ' ';
            if (o.irq_info) {
                lat_flags(cols + n, (unsigned char)data[2], (unsigned char)data[3]);
                n += 5;
            }
            cols[n++] = ' ';
            if (o.in_ns) {
                unsigned long long us = best->next_ts / 1000 + (best->next_ts % 1000 >= 500);
                n += put_decimal(cols + n, us / 1000000, 5, ' ');
                cols[n++] = '.';
                n += put_decimal(cols + n, us % 1000000, 6, '0');
            } else {
                n += put_decimal(cols + n, best->next_ts, 12, ' ');
            }
            cols[n++] = ':';
            cols[n++] = ' ';
            seq_put(&seq, cols, n);
        }
        if (kind == BODY_PYTHON) {
            if (python_body(&o, &seq, record, best->cpu, best->next_ts) < 0)
                goto done;
        } else if (memo.size == size && memcmp(memo.record, data, size) == 0) {
            seq_put(&seq, memo.body, memo.len);
        } else {
            unsigned at = seq.len;

            if (kind == BODY_SYSCALL_ENTER || kind == BODY_SYSCALL_EXIT) {
                if (syscall_body(&seq, kind, last_spec, (const unsigned char *)data, size) < 0) {
                    PyErr_SetString(PyExc_ValueError, "a syscall event's spec is malformed");
                    goto done;
                }
                goto printed;
            }
            rec.data = (void *)data;
            rec.size = rec.record_size = (int)size;
            rec.cpu = best->cpu;
            rec.ts = best->next_ts;
            if (kind == BODY_NAMED)
                tep_print_event((struct tep_handle *)(uintptr_t)handle, &seq, &rec, "%s: %s\n",
                                TEP_PRINT_NAME, TEP_PRINT_INFO);
            else
                tep_print_event((struct tep_handle *)(uintptr_t)handle, &seq, &rec, "%s",
                                TEP_PRINT_INFO);
        printed:
            if (seq.state == TRACE_SEQ__GOOD)
                remember(&memo, data, size, seq.buffer + at, seq.len - at);
        }
        if (seq.state != TRACE_SEQ__GOOD) {
            PyErr_NoMemory();
            goto done;
        }
        /* a line that would fill the read stays for the next, unless it is the first */
        if (start_len + line_at > 0 && start_len + (Py_ssize_t)seq.len >= limit) {
            seq.len = line_at;
            break;
        }
        best->taken++;
        if (best->taken == best->n) {
            exhausted = best - runs;
            break;
        }
        if (next_stamp(best) < 0)
            goto done;
    }
    if (PyByteArray_Resize(out, start_len + seq.len) < 0)
        goto done;
    memcpy(PyByteArray_AS_STRING(out) + start_len, seq.buffer, seq.len);
    for (i = 0; i < nruns; i++) {
        PyObject *count = PyLong_FromSsize_t(runs[i].taken);
        if (count == NULL || PyList_SetItem(taken_list, i, count) < 0)
            goto done;
    }
    result = PyLong_FromSsize_t(exhausted);
done:
    trace_seq_destroy(&seq);
free_heads:
    Py_XDECREF(last_spec);
    Py_DECREF(o.heads);
free_runs:
    PyMem_Free(runs);
release:
    PyBuffer_Release(&kinds_view);
    return result;
}

static PyMethodDef methods[] = {
    {"texts", texts, METH_VARARGS,
     "texts(tep, items) -> list[str]: each (record, cpu, ts) of items printed with "
     "TEP_PRINT_INFO by the libtraceevent handle at address tep."},
    {"lines", lines, METH_VARARGS,
     "lines(tep, kinds, syscalls, runs, taken, out, want, limit, (context, irq_info, tgid, in_ns), "
     "comm_of, tgid_of, body_of) -> int: trace_pipe's lines of the runs appended to out; "
     "the index of a run used up, or -1."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_render",
    "Events' texts from libtraceevent, many records per call.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__render(void)
{
    return PyModule_Create(&module);
}
