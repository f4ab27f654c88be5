/* The IOC screen of JSON events, over their bytes (steppe.detection.ioc.screen).
 *
 * Hand-written because measurement showed the libraries are the bottleneck
 * (docs/benchmarks.md, "IOC matching of JSON-lines telemetry"): the Python screen
 * over msgspec's structs costs ~2.3x an orjson parse of the event, and pyarrow's JSON
 * reader alone costs more CPU than orjson's whole parse before `is_in` starts. Here one
 * pass over each event's bytes checks that it is well-formed JSON, takes the string
 * values of the matched top-level fields, and turns each into 64-bit hashes of its
 * screen keys (the address, its /24 /16 /8 text keys, the name's last one or two
 * labels, the lower-cased hash); a second pass probes those hashes in one open-addressed
 * table with prefetching, so the cache misses of a million-entry table overlap.
 *
 * The screen may keep an event that cannot hit (a hash collision, a stale key): the
 * exact matcher then finds nothing. It must never drop one that can: anything it cannot
 * judge as the exact matcher would (an escape in a matched key or value, a non-ASCII
 * byte, IPv6, a name ending with a dot, a bracket or a digit, a URL, malformed JSON)
 * keeps the event. It never decides visibility: the kept events go to IocMatcher.
 *
 * This file is the screen: the hashes of the keys, the open-addressed table, the walk of
 * an event's top level and the Python type. The strict JSON reader it walks with is
 * _jsonscreen_json.h (the Reader and its inline string helpers) and _jsonscreen_json.c;
 * the growing lists of a batch (its probes and its events) are _jsonscreen_lists.h and
 * _jsonscreen_lists.c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_jsonscreen_json.h"
#include "_jsonscreen_lists.h"

/* Flags, set by the caller from the index. */
#define F_CIDR4 1u    /* IPv4 networks indexed */
#define F_L24 2u      /* ... with "a.b.c." keys */
#define F_L16 4u      /* ... with "a.b." keys */
#define F_L8 8u       /* ... with "a." keys */
#define F_V6 16u      /* IPv6 values or networks indexed */
#define F_SINGLE 32u  /* single-label names indexed */
#define F_EMAIL 64u   /* e-mail addresses indexed */

enum { K_IP = 'I', K_CIDR = 'C', K_TAIL = 'T', K_HASH = 'H' };
enum { T_IP, T_NAME, T_URL, T_HASH, T_EMAIL };

/* steppe.detection.ioc.matcher.MATCHED_FIELDS, by type. The equivalence tests build
 * their events from that tuple, so a field added there and not here fails them. */
static const struct {
    const char *name;
    int type;
} FIELDS[] = {
    {"source.ip", T_IP},
    {"destination.ip", T_IP},
    {"dns.question.name", T_NAME},
    {"destination.domain", T_NAME},
    {"url.domain", T_NAME},
    {"tls.server.sni", T_NAME},
    {"url.full", T_URL},
    {"file.hash.md5", T_HASH},
    {"file.hash.sha1", T_HASH},
    {"file.hash.sha256", T_HASH},
    {"email.from.address", T_EMAIL},
    {"email.sender.address", T_EMAIL},
    {"email.to.address", T_EMAIL},
};
#define N_FIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

static size_t field_len[N_FIELDS]; /* strlen of each, set at import */

static void
init_tables(void)
{
    for (size_t f = 0; f < N_FIELDS; f++)
        field_len[f] = strlen(FIELDS[f].name);
    jsonscreen_json_init();
}

/* A-Z to a-z in each of 8 bytes (ASCII; other bytes keep the event anyway). */
static inline uint64_t
lower8(uint64_t w)
{
    uint64_t low7 = w & 0x7f7f7f7f7f7f7f7fULL;
    uint64_t from_a = low7 + 0x3f3f3f3f3f3f3f3fULL; /* high bit: byte >= 'A' */
    uint64_t past_z = low7 + 0x2525252525252525ULL; /* high bit: byte > 'Z' */
    uint64_t upper = from_a & ~past_z & ~w & 0x8080808080808080ULL;
    return w | (upper >> 2);
}

static inline uint64_t
mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

/* A key's hash, 8 bytes at a time, lower-cased on the way when asked. */
static uint64_t
key_hash(int kind, const char *s, Py_ssize_t n, int lower)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)kind << 56) ^ (uint64_t)n;
    uint64_t w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = mix(h, lower ? lower8(w) : w);
    }
    if (n) {
        w = 0;
        memcpy(&w, s, (size_t)n);
        h = mix(h, lower ? lower8(w) : w);
    }
    h ^= h >> 33; /* murmur3's finaliser: the table indexes by the low bits */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1; /* 0 marks an empty slot */
}

typedef struct {
    PyObject_HEAD
    uint64_t *slots;
    uint64_t mask;
    Py_ssize_t used;
    unsigned flags;
} Screen;

static int
table_insert(Screen *self, uint64_t h)
{
    if ((uint64_t)(self->used + 1) * 2 > self->mask + 1) {
        uint64_t size = (self->mask + 1) * 2;
        uint64_t *slots = PyMem_Calloc(size, sizeof(uint64_t));
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (uint64_t k = 0; k <= self->mask; k++) {
            uint64_t v = self->slots[k];
            if (v) {
                uint64_t at = v & (size - 1);
                while (slots[at])
                    at = (at + 1) & (size - 1);
                slots[at] = v;
            }
        }
        PyMem_Free(self->slots);
        self->slots = slots;
        self->mask = size - 1;
    }
    uint64_t at = h & self->mask;
    while (self->slots[at]) {
        if (self->slots[at] == h)
            return 0;
        at = (at + 1) & self->mask;
    }
    self->slots[at] = h;
    self->used++;
    return 0;
}

static int
table_has(const Screen *self, uint64_t h)
{
    uint64_t at = h & self->mask;
    for (;;) {
        uint64_t v = self->slots[at];
        if (v == h)
            return 1;
        if (!v)
            return 0;
        at = (at + 1) & self->mask;
    }
}

static Py_ssize_t
rstrip_digits(const unsigned char *s, Py_ssize_t n)
{
    while (n > 0 && s[n - 1] >= '0' && s[n - 1] <= '9')
        n--;
    return n;
}

static Py_ssize_t
rstrip_dots(const unsigned char *s, Py_ssize_t n)
{
    while (n > 0 && s[n - 1] == '.')
        n--;
    return n;
}

static int
has_byte(const unsigned char *s, Py_ssize_t n, unsigned char c)
{
    return n > 0 && memchr(s, c, (size_t)n) != NULL;
}

/* One matched field's string value: push its keys, or return 1 to keep the event. */
static int
screen_value(const Screen *self, int type, const unsigned char *s, Py_ssize_t n,
             Probes *probes, Py_ssize_t item)
{
    unsigned flags = self->flags;
    const char *c = (const char *)s;
    if (n == 0)
        return 0;
    switch (type) {
    case T_IP:
        if (probes_push(probes, key_hash(K_IP, c, n, 0), item) < 0)
            return -1;
        if (has_byte(s, n, ':') && (flags & F_V6))
            return 1;
        if (flags & F_CIDR4) {
            if (has_byte(s, n, '/'))
                return 1;
            Py_ssize_t k24 = rstrip_digits(s, n);
            if ((flags & F_L24) && probes_push(probes, key_hash(K_CIDR, c, k24, 0), item) < 0)
                return -1;
            Py_ssize_t k16 = rstrip_digits(s, rstrip_dots(s, k24));
            if ((flags & F_L16) && probes_push(probes, key_hash(K_CIDR, c, k16, 0), item) < 0)
                return -1;
            Py_ssize_t k8 = rstrip_digits(s, rstrip_dots(s, k16));
            if ((flags & F_L8) && probes_push(probes, key_hash(K_CIDR, c, k8, 0), item) < 0)
                return -1;
        }
        return 0;
    case T_NAME: {
        unsigned char last = s[n - 1];
        if (last == '.' || last == ']' || (last >= '0' && last <= '9') || has_byte(s, n, ':'))
            return 1;
        Py_ssize_t dot = n - 1;
        while (dot >= 0 && s[dot] != '.')
            dot--;
        Py_ssize_t from = 0;
        if (dot >= 0) {
            Py_ssize_t before = dot - 1;
            while (before >= 0 && s[before] != '.')
                before--;
            from = before + 1;
        }
        if (probes_push(probes, key_hash(K_TAIL, c + from, n - from, 1), item) < 0)
            return -1;
        if ((flags & F_SINGLE) && dot >= 0 &&
            probes_push(probes, key_hash(K_TAIL, c + dot + 1, n - dot - 1, 1), item) < 0)
            return -1;
        return 0;
    }
    case T_HASH:
        return probes_push(probes, key_hash(K_HASH, c, n, 1), item) < 0 ? -1 : 0;
    case T_URL:
        return 1; /* rare in telemetry: the exact matcher parses it */
    default: /* T_EMAIL */
        return (flags & F_EMAIL) ? 1 : 0;
    }
}

/* One event (an object at r->p). Returns 1 to keep it (or it is malformed: the full
 * parser names the error), 0 when its keys are pushed, -1 on a memory error. */
static int
screen_event(const Screen *self, Reader *r, Probes *probes, Py_ssize_t item)
{
    Py_ssize_t mark = probes->len;
    r->odd = 0;
    if (r->p >= r->end || *r->p != '{')
        return 1;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    int keep = 0;
    for (;;) {
        const unsigned char *key;
        Py_ssize_t klen;
        int escaped;
        if (r->p >= r->end || *r->p != '"' || read_string(r, &key, &klen, &escaped) < 0)
            goto malformed;
        if (escaped)
            keep = 1; /* might spell a matched field */
        skip_ws(r);
        if (r->p >= r->end || *r->p != ':')
            goto malformed;
        r->p++;
        skip_ws(r);
        int type = -1;
        if (klen >= 8 && klen <= 20 && !escaped) {
            for (size_t f = 0; f < N_FIELDS; f++) {
                if ((Py_ssize_t)field_len[f] == klen &&
                    !memcmp(FIELDS[f].name, key, (size_t)klen)) {
                    type = FIELDS[f].type;
                    break;
                }
            }
        }
        if (type >= 0 && r->p < r->end && *r->p == '"') {
            const unsigned char *s;
            Py_ssize_t n;
            int odd_before = r->odd;
            r->odd = 0;
            if (read_string(r, &s, &n, &escaped) < 0)
                goto malformed;
            if (escaped || r->odd)
                keep = 1;
            else if (!keep) {
                int got = screen_value(self, type, s, n, probes, item);
                if (got < 0)
                    return -1;
                keep = got;
            }
            r->odd |= odd_before;
        }
        else if (jsonscreen_read_value(r, 1) < 0)
            goto malformed;
        skip_ws(r);
        if (r->p >= r->end)
            goto malformed;
        if (*r->p == ',') {
            r->p++;
            skip_ws(r);
            continue;
        }
        if (*r->p == '}') {
            r->p++;
            break;
        }
        goto malformed;
    }
    if (keep || r->odd) {
        probes->len = mark; /* kept anyway: no need to probe its keys */
        return 1;
    }
    return 0;
malformed:
    probes->len = mark;
    return 1;
}

/* Probe every pending key; mark[item] = 1 where one is in the table. */
static void
probe_all(const Screen *self, const Probes *probes, char *mark)
{
    const uint64_t *hash = probes->hash, *slots = self->slots;
    Py_ssize_t n = probes->len;
    uint64_t m = self->mask;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (k + 16 < n)
            __builtin_prefetch(&slots[hash[k + 16] & m]);
        if (!mark[probes->item[k]] && table_has(self, hash[k]))
            mark[probes->item[k]] = 1;
    }
}

/* -- the Python type ------------------------------------------------------------------ */

static void
Screen_dealloc(Screen *self)
{
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Screen_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"flags", "capacity", NULL};
    unsigned flags = 0;
    Py_ssize_t capacity = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|In", kwlist, &flags, &capacity))
        return NULL;
    uint64_t size = 1024;
    while ((Py_ssize_t)(size / 2) < capacity && size < ((uint64_t)1 << 40))
        size *= 2;
    Screen *self = (Screen *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->slots = PyMem_Calloc(size, sizeof(uint64_t));
    if (self->slots == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->mask = size - 1;
    self->flags = flags;
    return (PyObject *)self;
}

static PyObject *
Screen_add(Screen *self, PyObject *args)
{
    int kind, lower = 0;
    PyObject *values;
    if (!PyArg_ParseTuple(args, "CO|p", &kind, &values, &lower))
        return NULL;
    if (kind != K_IP && kind != K_CIDR && kind != K_TAIL && kind != K_HASH) {
        PyErr_SetString(PyExc_ValueError, "kind must be one of 'I', 'C', 'T', 'H'");
        return NULL;
    }
    PyObject *it = PyObject_GetIter(values);
    if (it == NULL)
        return NULL;
    PyObject *value;
    while ((value = PyIter_Next(it)) != NULL) {
        Py_ssize_t n;
        const char *s = PyUnicode_Check(value) ? PyUnicode_AsUTF8AndSize(value, &n) : NULL;
        if (s == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "screen keys must be str");
            Py_DECREF(value);
            Py_DECREF(it);
            return NULL;
        }
        int failed = table_insert(self, key_hash(kind, s, n, lower));
        Py_DECREF(value);
        if (failed) {
            Py_DECREF(it);
            return NULL;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* A scan of a buffer's events into items (and their keys into probes): 0 when done, 1
 * when the screen cannot judge the buffer (the caller returns None), -1 out of memory. */
typedef int (*Scan)(const Screen *self, const unsigned char *base, Py_ssize_t len,
                    Items *items, Probes *probes);

/* JSON lines, cut as bytes.splitlines() cuts them: at \n, \r or \r\n. */
static int
scan_lines(const Screen *self, const unsigned char *base, Py_ssize_t len, Items *items,
           Probes *probes)
{
    const unsigned char *p = base, *end = base + len;
    Py_ssize_t number = 0;
    while (p < end) {
        const unsigned char *q = p;
        while (q < end && *q != '\n' && *q != '\r')
            q++;
        number++;
        Reader r = {p, q, 0};
        skip_ws(&r);
        if (r.p < q) { /* a blank line is skipped */
            int keep = screen_event(self, &r, probes, items->len);
            if (keep < 0)
                return -1;
            skip_ws(&r);
            if (r.p != q)
                keep = 1; /* something after the object: the full parser's error */
            if (items_push(items, p - base, q - base, number, (char)keep) < 0)
                return -1;
        }
        if (q < end && *q == '\r' && q + 1 < end && q[1] == '\n')
            q++;
        p = q + 1;
    }
    return 0;
}

/* One JSON array of objects. */
static int
scan_array(const Screen *self, const unsigned char *base, Py_ssize_t len, Items *items,
           Probes *probes)
{
    Reader r = {base, base + len, 0};
    skip_ws(&r);
    if (r.p >= r.end || *r.p != '[')
        return 1;
    r.p++;
    skip_ws(&r);
    if (r.p < r.end && *r.p == ']')
        r.p++;
    else {
        for (;;) {
            const unsigned char *start = r.p;
            if (r.p >= r.end || *r.p != '{')
                return 1; /* not an object: the full path names it */
            int keep = screen_event(self, &r, probes, items->len);
            if (keep < 0)
                return -1;
            if (keep) {
                /* kept: was it malformed? then the array is; let the full path say so */
                Reader check = {start, r.end, 0};
                if (jsonscreen_read_value(&check, 1) < 0 || check.p != r.p)
                    return 1;
            }
            if (items_push(items, start - base, r.p - base, items->len, (char)keep) < 0)
                return -1;
            skip_ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                skip_ws(&r);
                continue;
            }
            if (r.p < r.end && *r.p == ']') {
                r.p++;
                break;
            }
            return 1;
        }
    }
    skip_ws(&r);
    return r.p != r.end;
}

/* What lines() and array() share: the buffer, the scan, the probes and the result. */
static PyObject *
screen_buffer(Screen *self, PyObject *arg, Scan scan)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Items items = {0};
    Probes probes = {0};
    PyObject *out = NULL;
    int got = scan(self, view.buf, view.len, &items, &probes);
    if (got < 0)
        PyErr_NoMemory();
    else if (got > 0)
        out = Py_NewRef(Py_None);
    else {
        probe_all(self, &probes, items.mark);
        out = jsonscreen_kept_spans(&items);
    }
    jsonscreen_lists_free(&items, &probes);
    PyBuffer_Release(&view);
    return out;
}

static PyObject *
Screen_lines(Screen *self, PyObject *arg)
{
    return screen_buffer(self, arg, scan_lines);
}

static PyObject *
Screen_array(Screen *self, PyObject *arg)
{
    return screen_buffer(self, arg, scan_array);
}

static PyObject *
Screen_len(Screen *self, void *closure)
{
    return PyLong_FromSsize_t(self->used);
}

static PyObject *
Screen_get_flags(Screen *self, void *closure)
{
    return PyLong_FromUnsignedLong(self->flags);
}

static int
Screen_set_flags(Screen *self, PyObject *value, void *closure)
{
    unsigned long flags = value ? PyLong_AsUnsignedLong(value) : 0;
    if (flags == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    self->flags = (unsigned)flags;
    return 0;
}

static PyMethodDef Screen_methods[] = {
    {"add", (PyCFunction)Screen_add, METH_VARARGS,
     "add(kind, values, lower=False): index the screen keys of one kind."},
    {"lines", (PyCFunction)Screen_lines, METH_O,
     "lines(data) -> [(start, end, line number)] of the JSON lines that may hit."},
    {"array", (PyCFunction)Screen_array, METH_O,
     "array(data) -> [(start, end, item number)] of a JSON array's events that may hit, "
     "or None when the array is not one of objects (the full parser names the error)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Screen_getset[] = {
    {"size", (getter)Screen_len, NULL, "how many distinct keys", NULL},
    {"flags", (getter)Screen_get_flags, (setter)Screen_set_flags, "the checks the index needs",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ScreenType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "steppe.detection.ioc._jsonscreen.Screen",
    .tp_basicsize = sizeof(Screen),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Hashes of the IOC screen keys, and the scan of JSON events against them.",
    .tp_new = Screen_new,
    .tp_dealloc = (destructor)Screen_dealloc,
    .tp_methods = Screen_methods,
    .tp_getset = Screen_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jsonscreen", "The IOC screen of JSON events, in C.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__jsonscreen(void)
{
    init_tables();
    if (PyType_Ready(&ScreenType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ScreenType);
    if (PyModule_AddObject(m, "Screen", (PyObject *)&ScreenType) < 0) {
        Py_DECREF(&ScreenType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
