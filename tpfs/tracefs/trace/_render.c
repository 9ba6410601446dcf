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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

static PyMethodDef methods[] = {
    {"texts", texts, METH_VARARGS,
     "texts(tep, items) -> list[str]: each (record, cpu, ts) of items printed with "
     "TEP_PRINT_INFO by the libtraceevent handle at address tep."},
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
