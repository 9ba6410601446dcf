/*
 * The fire file's lines parsed and their records encoded in one call.
 *
 * fire.py parses a write line by line and has record.Layout encode each
 * line's record; for a write of many lines that is most of what firing
 * costs. Here a whole write is parsed and encoded at once, from a table per
 * event that compile() makes of its Layout: each field's name, offset,
 * size, sign, kind (scalar, char array, x[] tail, __data_loc/__rel_loc) and
 * whether it holds text, the common fields marked by role.
 *
 * Python stays the one source of truth for errors: on anything it is not
 * sure of (a name with no table, a word that is not WORD=VALUE, a key given
 * twice, a number out of range or too long for 64 bits, text that does not
 * fit, a byte that is not ASCII, a NUL) parse() returns None and fire.py
 * parses the write itself, raising the errno and message it always did.
 * What parse() accepts, it encodes exactly as Layout.encode does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

enum { KIND_SCALAR, KIND_ARRAY, KIND_TAIL, KIND_DYNAMIC };
enum { ROLE_NONE, ROLE_TYPE, ROLE_FLAGS, ROLE_PREEMPT, ROLE_PID };

#define MAX_PID ((1 << 22) - 1)
#define COMM_MAX 15
#define MAX_FIRINGS 100000
#define CAPSULE "tpfs._fire.table"

typedef struct {
    char *name;
    Py_ssize_t name_len;
    Py_ssize_t offset, size;
    int is_signed, kind, text, rel, role;
} field_t;

typedef struct {
    uint64_t id;
    Py_ssize_t fixed_size;
    Py_ssize_t nfields;
    field_t fields[];
} table_t;

static void
table_free(PyObject *capsule)
{
    table_t *t = PyCapsule_GetPointer(capsule, CAPSULE);

    if (t == NULL)
        return;
    for (Py_ssize_t i = 0; i < t->nfields; i++)
        PyMem_Free(t->fields[i].name);
    PyMem_Free(t);
}

/* compile(event_id, fixed_size, fields) with fields a sequence of
 * (name: bytes, offset, size, signed, kind, text, rel, role). */
static PyObject *
compile(PyObject *self, PyObject *args)
{
    unsigned long long id;
    Py_ssize_t fixed_size;
    PyObject *fields, *seq;
    table_t *t;

    (void)self;
    if (!PyArg_ParseTuple(args, "KnO", &id, &fixed_size, &fields))
        return NULL;
    seq = PySequence_Fast(fields, "fields must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    t = PyMem_Calloc(1, sizeof(table_t) + (size_t)n * sizeof(field_t));
    if (t == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    t->id = id;
    t->fixed_size = fixed_size;
    for (Py_ssize_t i = 0; i < n; i++) {
        field_t *f = &t->fields[i];
        const char *name;
        Py_ssize_t len;

        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "y#nniiiii", &name, &len,
                              &f->offset, &f->size, &f->is_signed, &f->kind, &f->text,
                              &f->rel, &f->role))
            goto fail;
        t->nfields = i + 1;
        f->name = PyMem_Malloc((size_t)len + 1);
        if (f->name == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        memcpy(f->name, name, (size_t)len);
        f->name[len] = 0;
        f->name_len = len;
        if (f->offset < 0 || f->size < 0 || f->offset + f->size > fixed_size
            || (f->kind == KIND_SCALAR && f->size != 1 && f->size != 2 && f->size != 4
                && f->size != 8)
            || (f->kind == KIND_DYNAMIC && f->size < 4) || f->kind < KIND_SCALAR
            || f->kind > KIND_DYNAMIC) {
            PyErr_Format(PyExc_ValueError, "field %s cannot be encoded natively", f->name);
            goto fail;
        }
    }
    Py_DECREF(seq);
    PyObject *capsule = PyCapsule_New(t, CAPSULE, table_free);
    if (capsule == NULL) {
        for (Py_ssize_t i = 0; i < t->nfields; i++)
            PyMem_Free(t->fields[i].name);
        PyMem_Free(t);
    }
    return capsule;
fail:
    Py_DECREF(seq);
    for (Py_ssize_t i = 0; i < t->nfields; i++)
        PyMem_Free(t->fields[i].name);
    PyMem_Free(t);
    return NULL;
}

/* A number as fire.py's _number reads it: -?(0[xX]hex+|digits+), magnitude at
 * most 2**64 (anything larger is out of every range anyway). 0 if not one. */
static int
parse_number(const char *s, Py_ssize_t len, int *negative, uint64_t *magnitude, int *over)
{
    Py_ssize_t i = 0;
    uint64_t v = 0;
    int hex = 0, base = 10;

    *negative = 0;
    *over = 0;
    if (i < len && s[i] == '-') {
        *negative = 1;
        i++;
    }
    if (i + 1 < len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        hex = 1;
        base = 16;
        i += 2;
    }
    if (i >= len)
        return 0;
    for (; i < len; i++) {
        int d;
        char c = s[i];

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            *over = 1;
        else
            v = v * (uint64_t)base + (uint64_t)d;
    }
    *magnitude = v;
    return 1;
}

/* A number within low..high (both small, non-negative): 1 and *out, else 0. */
static int
small_number(const char *s, Py_ssize_t len, long low, long high, long *out)
{
    int negative, over;
    uint64_t m;

    if (!parse_number(s, len, &negative, &m, &over) || over)
        return 0;
    if (negative)
        return m == 0 && low <= 0 && (*out = 0, 1);
    if (m < (uint64_t)low || m > (uint64_t)high)
        return 0;
    *out = (long)m;
    return 1;
}

/* Store a scalar of the field's size and sign, as EventField.scalar: 0 if it does not fit. */
static int
put_scalar(unsigned char *dst, const field_t *f, int negative, uint64_t m)
{
    unsigned bits = (unsigned)(8 * f->size - f->is_signed);
    uint64_t v;

    if (negative && m) {
        if (!f->is_signed || m > ((uint64_t)1 << bits))
            return 0;
        v = (uint64_t)0 - m;
    } else {
        if (bits < 64 && m > ((uint64_t)1 << bits) - 1)
            return 0;
        v = m;
    }
    for (Py_ssize_t i = 0; i < f->size; i++)
        dst[f->offset + i] = (unsigned char)(v >> (8 * i));
    return 1;
}

typedef struct {
    const char *key, *value;
    Py_ssize_t key_len, value_len;
} word_t;

typedef struct {
    unsigned char *data;
    Py_ssize_t len, cap;
} bytes_t;

static int
grow(bytes_t *b, Py_ssize_t need)
{
    if (need <= b->cap)
        return 1;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    unsigned char *p = PyMem_Realloc(b->data, (size_t)cap);
    if (p == NULL)
        return 0;
    b->data = p;
    b->cap = cap;
    return 1;
}

/* Encode one line's record into *rec (fixed part then tail); 0 for "slow path",
 * -1 on a Python error. values[i] is the word given for field i, or NULL. */
static int
encode(const table_t *t, word_t **values, long pid, bytes_t *rec)
{
    Py_ssize_t fixed = t->fixed_size, tail = 0;

    if (!grow(rec, fixed + 8)) {
        PyErr_NoMemory();
        return -1;
    }
    memset(rec->data, 0, (size_t)fixed);
    for (Py_ssize_t i = 0; i < t->nfields; i++) {
        const field_t *f = &t->fields[i];
        const word_t *w = values[i];

        if (f->role != ROLE_NONE) {
            uint64_t v = f->role == ROLE_TYPE ? t->id : f->role == ROLE_PID ? (uint64_t)pid : 0;
            if (f->kind != KIND_SCALAR || !put_scalar(rec->data, f, 0, v))
                return 0;
            continue;
        }
        if (f->kind == KIND_SCALAR) {
            int negative = 0, over = 0;
            uint64_t m = 0;

            if (w != NULL && (!parse_number(w->value, w->value_len, &negative, &m, &over)
                              || over || (negative && m > ((uint64_t)1 << 63))))
                return 0;
            if (!put_scalar(rec->data, f, negative, m))
                return 0;
        } else if (f->kind == KIND_ARRAY) {
            if (w == NULL)
                continue;
            if (!f->text || w->value_len > f->size - 1)
                return 0;
            memcpy(rec->data + f->offset, w->value, (size_t)w->value_len);
        } else {
            Py_ssize_t len;

            if (w != NULL && !f->text)
                return 0;
            len = w != NULL ? w->value_len + 1 : (f->kind == KIND_DYNAMIC && f->text);
            if (f->kind == KIND_DYNAMIC) {
                Py_ssize_t start = fixed + tail;
                Py_ssize_t where = f->rel ? start - (f->offset + f->size) : start;
                uint32_t loc;

                if (len > 0xFFFF || where > 0xFFFF || where < 0)
                    return 0;
                loc = (uint32_t)len << 16 | (uint32_t)where;
                memcpy(rec->data + f->offset, &loc, 4);
            }
            if (!grow(rec, fixed + tail + len + 8)) {
                PyErr_NoMemory();
                return -1;
            }
            if (w != NULL)
                memcpy(rec->data + fixed + tail, w->value, (size_t)w->value_len);
            if (len)
                rec->data[fixed + tail + len - 1] = 0;
            tail += len;
        }
    }
    rec->len = fixed + tail;
    Py_ssize_t padded = (rec->len + 3) & ~(Py_ssize_t)3;
    memset(rec->data + rec->len, 0, (size_t)(padded - rec->len));
    rec->len = padded;
    return 1;
}

static int
same(const char *a, Py_ssize_t alen, const char *b, Py_ssize_t blen)
{
    return alen == blen && memcmp(a, b, (size_t)alen) == 0;
}

static PyObject *
optional_long(int given, long v)
{
    if (given)
        return PyLong_FromLong(v);
    Py_RETURN_NONE;
}

/* One line (words already split); appends its tuple to out. 0 slow, -1 error, 1 done. */
static int
parse_line(word_t *words, Py_ssize_t nwords, PyObject *tables, long ncpus, long pid,
           word_t **values, Py_ssize_t max_fields, bytes_t *rec, PyObject *out)
{
    PyObject *name = PyUnicode_FromStringAndSize(words[0].key, words[0].key_len);
    PyObject *capsule, *item = NULL;
    const table_t *t;
    long cpu = -1, at_pid = -1, count = 1;
    const word_t *comm = NULL;
    int r;

    if (name == NULL)
        return -1;
    capsule = PyDict_GetItemWithError(tables, name);
    if (capsule == NULL) {
        Py_DECREF(name);
        return PyErr_Occurred() ? -1 : 0;
    }
    t = PyCapsule_GetPointer(capsule, CAPSULE);
    if (t == NULL || t->nfields > max_fields) {
        Py_DECREF(name);
        return t == NULL ? -1 : 0;
    }
    for (Py_ssize_t i = 0; i < t->nfields; i++)
        values[i] = NULL;
    for (Py_ssize_t i = 1; i < nwords; i++) {
        word_t *w = &words[i];

        if (w->value == NULL)
            goto slow;
        for (Py_ssize_t j = 1; j < i; j++)
            if (same(w->key, w->key_len, words[j].key, words[j].key_len))
                goto slow;
        if (same(w->key, w->key_len, "@cpu", 4)) {
            if (!small_number(w->value, w->value_len, 0, ncpus - 1, &cpu))
                goto slow;
        } else if (same(w->key, w->key_len, "@pid", 4)) {
            if (!small_number(w->value, w->value_len, 0, MAX_PID, &at_pid))
                goto slow;
        } else if (same(w->key, w->key_len, "@comm", 5)) {
            if (w->value_len < 1 || w->value_len > COMM_MAX)
                goto slow;
            comm = w;
        } else if (same(w->key, w->key_len, "@count", 6)) {
            if (!small_number(w->value, w->value_len, 1, MAX_FIRINGS, &count))
                goto slow;
        } else {
            Py_ssize_t j;

            for (j = 0; j < t->nfields; j++)
                if (same(w->key, w->key_len, t->fields[j].name, t->fields[j].name_len))
                    break;
            if (j == t->nfields || t->fields[j].role != ROLE_NONE)
                goto slow;
            values[j] = w;
        }
    }
    r = encode(t, values, at_pid >= 0 ? at_pid : pid, rec);
    if (r <= 0) {
        Py_DECREF(name);
        return r;
    }
    item = Py_BuildValue("(NNNNlN)", name, optional_long(cpu >= 0, cpu),
                         optional_long(at_pid >= 0, at_pid),
                         comm == NULL ? Py_NewRef(Py_None)
                         : PyUnicode_FromStringAndSize(comm->value, comm->value_len),
                         count, PyBytes_FromStringAndSize((const char *)rec->data, rec->len));
    if (item == NULL)
        return -1;
    r = PyList_Append(out, item);
    Py_DECREF(item);
    return r < 0 ? -1 : 1;
slow:
    Py_DECREF(name);
    return 0;
}

/* parse(buf, tables, ncpus, pid) -> list of (name, cpu, pid, comm, count, record)
 * or None when Python must parse the write. */
static PyObject *
parse(PyObject *self, PyObject *args)
{
    Py_buffer view;
    PyObject *tables, *out = NULL;
    long ncpus, pid;
    word_t *words = NULL, **values = NULL;
    bytes_t rec = {NULL, 0, 0};
    Py_ssize_t max_words, max_fields = 256;

    (void)self;
    if (!PyArg_ParseTuple(args, "y*O!ll", &view, &PyDict_Type, &tables, &ncpus, &pid))
        return NULL;
    const char *s = view.buf;
    Py_ssize_t n = view.len;
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] == 0 || (unsigned char)s[i] >= 0x80)
            goto slow;
    max_words = n / 2 + 1;
    words = PyMem_Malloc((size_t)max_words * sizeof(word_t));
    values = PyMem_Malloc((size_t)max_fields * sizeof(word_t *));
    out = PyList_New(0);
    if (words == NULL || values == NULL || out == NULL) {
        if (out != NULL)
            PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i <= n;) {
        Py_ssize_t end = i, nwords = 0;

        while (end < n && s[end] != '\n')
            end++;
        for (Py_ssize_t j = i; j < end;) {
            while (j < end && (s[j] == ' ' || s[j] == '\t'))
                j++;
            if (j == end)
                break;
            Py_ssize_t k = j;
            while (k < end && s[k] != ' ' && s[k] != '\t')
                k++;
            word_t *w = &words[nwords++];
            const char *eq = memchr(s + j, '=', (size_t)(k - j));
            w->key = s + j;
            if (eq == NULL) {
                w->key_len = k - j;
                w->value = NULL;
                w->value_len = 0;
            } else {
                w->key_len = eq - (s + j);
                w->value = eq + 1;
                w->value_len = s + k - (eq + 1);
            }
            j = k;
        }
        if (nwords) {
            /* The name is the whole first word, '=' and all. */
            words[0].key_len = (words[0].value == NULL ? words[0].key_len
                                : words[0].value - words[0].key + words[0].value_len);
            int r = parse_line(words, nwords, tables, ncpus, pid, values, max_fields, &rec,
                               out);
            if (r < 0)
                goto error;
            if (r == 0)
                goto slow;
        }
        i = end + 1;
    }
    goto done;
slow:
    Py_XDECREF(out);
    out = Py_NewRef(Py_None);
    goto done;
error:
    Py_CLEAR(out);
done:
    PyMem_Free(words);
    PyMem_Free(values);
    PyMem_Free(rec.data);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"compile", compile, METH_VARARGS,
     "compile(event_id, fixed_size, fields) -> table: an event's layout for parse(); "
     "fields are (name, offset, size, signed, kind, text, rel, role) in format order."},
    {"parse", parse, METH_VARARGS,
     "parse(buf, tables, ncpus, pid) -> [(name, cpu, pid, comm, count, record)] for each "
     "line of a fire write, or None when the write needs Python's parse."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fire",
    "The fire file's lines parsed and their records encoded in one call.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__fire(void)
{
    return PyModule_Create(&module);
}
