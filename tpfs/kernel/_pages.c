/*
 * A ring buffer page's records, decoded in one call: pure computation.
 *
 * ring_buffer.py reads a page record by record when it peeks or consumes
 * one event; a reader that takes many (trace_pipe) asks for the rest of
 * the reader page at once instead. The walk is that of read_record and
 * _advance_reader in ring_buffer_format.py / ring_buffer.py: padding is
 * stepped over, a time extend adds to the stamp, a data record adds its
 * delta and yields its payload.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

enum {
    TYPE_DATA_LEN_MAX = 28,
    TYPE_PADDING = 29,
    TYPE_TIME_EXTEND = 30,
    EVENT_HEADER = 4,
    ALIGNMENT = 4,
    TS_SHIFT = 27,
    TIME_EXTEND_LEN = 8,
};

static uint32_t
u32_at(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v)); /* little-endian host, as the records */
    return v;
}

static int
append_owned(PyObject *list, PyObject *item)
{
    int err;

    if (item == NULL)
        return -1;
    err = PyList_Append(list, item);
    Py_DECREF(item);
    return err;
}

static PyObject *
decode(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t offset, limit;
    unsigned long long stamp;
    PyObject *stamps = NULL, *payloads = NULL, *ends = NULL, *result = NULL;
    const unsigned char *data;

    (void)module;
    if (!PyArg_ParseTuple(args, "y*nKn:decode", &view, &offset, &stamp, &limit))
        return NULL;
    data = view.buf;
    stamps = PyList_New(0);
    payloads = PyList_New(0);
    ends = PyList_New(0);
    if (stamps == NULL || payloads == NULL || ends == NULL)
        goto out;
    if (offset < 0) {
        PyErr_SetString(PyExc_ValueError, "a negative offset");
        goto out;
    }
    while (offset < view.len && (limit < 0 || PyList_GET_SIZE(payloads) < limit)) {
        uint32_t word, type_len, delta, array0 = 0;
        Py_ssize_t start, end;

        if (view.len - offset < EVENT_HEADER)
            goto truncated;
        word = u32_at(data + offset);
        type_len = word & 31;
        delta = word >> 5;
        if (type_len == TYPE_PADDING || type_len == TYPE_TIME_EXTEND || type_len == 0) {
            if (view.len - offset < EVENT_HEADER + 4)
                goto truncated;
            array0 = u32_at(data + offset + EVENT_HEADER);
        }
        if (type_len == TYPE_PADDING) {
            offset += (Py_ssize_t)array0 + EVENT_HEADER;
            continue;
        }
        if (type_len == TYPE_TIME_EXTEND) {
            stamp += (unsigned long long)array0 << TS_SHIFT | delta;
            offset += TIME_EXTEND_LEN;
            continue;
        }
        if (type_len > TYPE_DATA_LEN_MAX) {
            PyErr_Format(PyExc_ValueError, "a record of type %u at %zd", type_len, offset);
            goto out;
        }
        if (type_len) {
            start = offset + EVENT_HEADER;
            end = start + (Py_ssize_t)type_len * ALIGNMENT;
        } else {
            start = offset + EVENT_HEADER + 4;
            end = offset + EVENT_HEADER + (Py_ssize_t)array0;
        }
        if (end > view.len || end < start)
            goto truncated;
        stamp += delta;
        if (append_owned(stamps, PyLong_FromUnsignedLongLong(stamp)) < 0
            || append_owned(payloads, PyBytes_FromStringAndSize((const char *)data + start,
                                                               end - start)) < 0
            || append_owned(ends, PyLong_FromSsize_t(end)) < 0)
            goto out;
        offset = end;
    }
    result = PyTuple_Pack(3, stamps, payloads, ends);
    goto out;
truncated:
    PyErr_Format(PyExc_ValueError, "a record runs past the page's data at %zd", offset);
out:
    Py_XDECREF(stamps);
    Py_XDECREF(payloads);
    Py_XDECREF(ends);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(data, offset, stamp, limit) -> (stamps, payloads, ends): the data records "
     "from offset on (at most limit of them, all for -1), their time stamps counted "
     "from stamp, their payloads and the offsets just after each."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pages",
    "A ring buffer page's records, decoded in one call.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__pages(void)
{
    return PyModule_Create(&module);
}
