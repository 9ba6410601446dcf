/*
 * The ring buffer's writer for many events at once: pure computation.
 *
 * RingBufferPerCpu.write lays one event out on the tail page; write_many
 * hands fill() the tail page's data and the events left, and fill() lays out
 * as many as fit on that page exactly as write does one at a time: each time
 * stamp no earlier than the last, a delta over the header's 27 bits preceded
 * by a time extend, the record's length by rb_calculate_event_length, the
 * payload followed by zero slack. It stops at the first event that does not
 * fit the page (or whose delta a time extend cannot hold), where Python
 * moves the writer to the next page (rb_move_tail: padding, overrun or a
 * dropped event) and calls it again.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

enum {
    BUF_PAGE_SIZE = 4096 - 16,
    EVENT_HEADER = 4,
    ALIGNMENT = 4,
    MAX_SMALL_DATA = 4 * 28,
    TS_SHIFT = 27,
    TIME_EXTEND = 30,
    TIME_EXTEND_LEN = 8,
};

#define TS_MASK ((UINT64_C(1) << TS_SHIFT) - 1)
#define TS_EXTEND_LIMIT (UINT64_C(1) << (TS_SHIFT + 32))

/* rb_calculate_event_length */
static Py_ssize_t
event_length(Py_ssize_t length)
{
    if (length < 1)
        length = 1;
    if (length > MAX_SMALL_DATA)
        length += 4;
    length += EVENT_HEADER;
    length = (length + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    if (length == TIME_EXTEND_LEN + ALIGNMENT)
        length += ALIGNMENT;
    return length;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v)); /* little-endian host, as the records */
}

/* fill(data, write_stamp, stamps, payloads, start) -> (end, write_stamp, used) */
static PyObject *
fill(PyObject *self, PyObject *args)
{
    PyObject *data, *stamps, *payloads;
    unsigned long long write_stamp;
    Py_ssize_t start, n, i, w, at, used = 0;
    uint64_t stamp;

    (void)self;
    if (!PyArg_ParseTuple(args, "O!KO!O!n", &PyByteArray_Type, &data, &write_stamp,
                          &PyList_Type, &stamps, &PyList_Type, &payloads, &start))
        return NULL;
    n = PyList_GET_SIZE(payloads);
    if (PyList_GET_SIZE(stamps) != n || start < 0 || start > n) {
        PyErr_SetString(PyExc_ValueError, "stamps and payloads differ, or start is outside");
        return NULL;
    }
    w = PyByteArray_GET_SIZE(data);
    /* First pass: how many fit, and their bytes. */
    stamp = write_stamp;
    at = w;
    for (i = start; i < n; i++) {
        PyObject *payload = PyList_GET_ITEM(payloads, i);
        uint64_t ts = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(stamps, i));
        uint64_t delta;
        Py_ssize_t need;

        if (ts == (uint64_t)-1 && PyErr_Occurred())
            return NULL;
        if (!PyBytes_Check(payload)) {
            PyErr_SetString(PyExc_TypeError, "payloads must be bytes");
            return NULL;
        }
        if (ts < stamp)
            ts = stamp;
        delta = at ? ts - stamp : 0;
        need = event_length(PyBytes_GET_SIZE(payload)) + (delta > TS_MASK ? TIME_EXTEND_LEN : 0);
        if (at + need > BUF_PAGE_SIZE || delta >= TS_EXTEND_LIMIT)
            break;
        at += need;
        stamp = ts;
    }
    Py_ssize_t end = i;
    if (end > start && PyByteArray_Resize(data, at) < 0)
        return NULL;
    /* Second pass: lay them out. */
    unsigned char *page = (unsigned char *)PyByteArray_AS_STRING(data);
    stamp = write_stamp;
    at = w;
    for (i = start; i < end; i++) {
        PyObject *payload = PyList_GET_ITEM(payloads, i);
        uint64_t ts = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(stamps, i));
        Py_ssize_t size = PyBytes_GET_SIZE(payload);
        Py_ssize_t length = event_length(size);
        Py_ssize_t body = length - EVENT_HEADER, room;
        uint64_t delta;

        if (ts < stamp)
            ts = stamp;
        delta = at ? ts - stamp : 0;
        if (delta > TS_MASK) {
            put_u32(page + at, (uint32_t)(TIME_EXTEND | (delta & TS_MASK) << 5));
            put_u32(page + at + 4, (uint32_t)(delta >> TS_SHIFT));
            at += TIME_EXTEND_LEN;
            used += TIME_EXTEND_LEN;
            delta = 0;
        }
        if (body > MAX_SMALL_DATA) {
            put_u32(page + at, (uint32_t)(delta << 5));
            put_u32(page + at + 4, (uint32_t)body);
            at += 8;
            room = body - 4;
        } else {
            put_u32(page + at, (uint32_t)(body / ALIGNMENT | delta << 5));
            at += 4;
            room = body;
        }
        memcpy(page + at, PyBytes_AS_STRING(payload), (size_t)size);
        memset(page + at + size, 0, (size_t)(room - size));
        at += room;
        used += length;
        stamp = ts;
    }
    return Py_BuildValue("(nKn)", end, (unsigned long long)stamp, used);
}

static PyMethodDef methods[] = {
    {"fill", fill, METH_VARARGS,
     "fill(data, write_stamp, stamps, payloads, start) -> (end, write_stamp, used): "
     "lay the events from start on out after the page's data while they fit; end is "
     "the first left, used the bytes added."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_commit",
    "The ring buffer's writer for many events at once.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__commit(void)
{
    return PyModule_Create(&module);
}
