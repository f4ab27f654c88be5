/* Suricata EVE JSON lines straight into the lake's Arrow column buffers
 * (steppe.ingest.telemetry.eve_columns, which documents the rules this follows).
 *
 * Hand-written because measurement showed the libraries are the bottleneck
 * (docs/benchmarks.md, "Telemetry ingest"): the msgspec + Arrow compute path costs
 * ~4.5 us CPU an event against orjson.loads' ~1.05 -- msgspec ~1, a Python list per
 * field into Arrow ~0.9, RE2 ~0.6, Arrow compute ~1.5 -- and Arrow's own JSON reader
 * was no faster. Here one pass over each line checks that it is compact JSON that
 * orjson would write back as it is, takes the ~25 fields the lake uses, and appends
 * the ECS columns (offsets + bytes for strings, int64 for numbers and times) with no
 * Python object per field.
 *
 * It accepts a line only where the result is provably the per-event path's: ASCII
 * only, no backslash, no whitespace, integers of at most 18 digits and no -0, no
 * float, each used key at most once, every used field of the JSON type the normaliser
 * takes without conversion, canonical IPv4 addresses, ports 0..65535, times
 * YYYY-MM-DDTHH:MM:SS.ffffff with Z, +HHMM or +HH:MM. Every other line is returned
 * by index and read by the Python path (msgspec, then the per-event normaliser),
 * which reports malformed ones with their line numbers.
 *
 * This file builds the Arrow columns of the accepted lines and holds the Python entry
 * point; the line reader (compact JSON, the field tables, the checks of times and IPv4
 * addresses) is _evecolumns_line.c, declared in _evecolumns_line.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "_evecolumns_line.h"

/* ---- the column builders ----------------------------------------------------------- */

typedef struct {
    const char *name;
    int is_int;
    char *data;
    size_t len, cap;
    int32_t *offsets;
    int64_t *values;
    uint8_t *valid;
    Py_ssize_t nulls, rows;
} Column;

enum {
    C_DATASET, C_KIND, C_ACTION, C_SEVERITY, C_OBSERVER, C_SRC_IP, C_SRC_PORT, C_DEST_IP,
    C_DEST_PORT, C_DEST_DOMAIN, C_TRANSPORT, C_PROTOCOL, C_DNS_NAME, C_DNS_TYPE, C_URL_FULL,
    C_URL_DOMAIN, C_METHOD, C_STATUS, C_AGENT, C_SNI, C_FILE_NAME, C_FILE_PATH, C_MD5,
    C_SHA1, C_SHA256, C_RULE_ID, C_RULE_NAME, C_RAW, N_COLUMNS
};

static const struct {
    const char *name;
    int is_int;
} COLUMNS[N_COLUMNS] = {
    [C_DATASET] = {"event.dataset", 0}, [C_KIND] = {"event.kind", 0},
    [C_ACTION] = {"event.action", 0}, [C_SEVERITY] = {"event.severity", 1},
    [C_OBSERVER] = {"observer.name", 0}, [C_SRC_IP] = {"source.ip", 0},
    [C_SRC_PORT] = {"source.port", 1}, [C_DEST_IP] = {"destination.ip", 0},
    [C_DEST_PORT] = {"destination.port", 1}, [C_DEST_DOMAIN] = {"destination.domain", 0},
    [C_TRANSPORT] = {"network.transport", 0}, [C_PROTOCOL] = {"network.protocol", 0},
    [C_DNS_NAME] = {"dns.question.name", 0}, [C_DNS_TYPE] = {"dns.question.type", 0},
    [C_URL_FULL] = {"url.full", 0}, [C_URL_DOMAIN] = {"url.domain", 0},
    [C_METHOD] = {"http.request.method", 0}, [C_STATUS] = {"http.response.status_code", 1},
    [C_AGENT] = {"user_agent.original", 0}, [C_SNI] = {"tls.server.sni", 0},
    [C_FILE_NAME] = {"file.name", 0}, [C_FILE_PATH] = {"file.path", 0},
    [C_MD5] = {"file.hash.md5", 0}, [C_SHA1] = {"file.hash.sha1", 0},
    [C_SHA256] = {"file.hash.sha256", 0}, [C_RULE_ID] = {"rule.id", 0},
    [C_RULE_NAME] = {"rule.name", 0}, [C_RAW] = {"raw", 0},
};

static int
column_init(Column *c, int index, Py_ssize_t rows)
{
    memset(c, 0, sizeof(*c));
    c->name = COLUMNS[index].name;
    c->is_int = COLUMNS[index].is_int;
    c->valid = calloc((size_t)rows / 8 + 1, 1);
    if (c->is_int)
        c->values = malloc(sizeof(int64_t) * ((size_t)rows + 1));
    else {
        c->offsets = malloc(sizeof(int32_t) * ((size_t)rows + 1));
        c->cap = 64 * (size_t)rows + 64;
        c->data = malloc(c->cap);
    }
    if (!c->valid || (c->is_int ? !c->values : (!c->offsets || !c->data)))
        return 0;
    if (!c->is_int)
        c->offsets[0] = 0;
    return 1;
}

static void
column_free(Column *c)
{
    free(c->data);
    free(c->offsets);
    free(c->values);
    free(c->valid);
}

/* Room for n more bytes; 0 when out of memory or past Arrow's 2 GiB of a string column. */
static int
reserve(Column *c, size_t n)
{
    if (c->len + n <= c->cap)
        return 1;
    size_t cap = c->cap * 2;
    while (cap < c->len + n)
        cap *= 2;
    if (c->len + n > INT32_MAX)
        return 0;
    char *data = realloc(c->data, cap);
    if (!data)
        return 0;
    c->data = data;
    c->cap = cap;
    return 1;
}

static inline void
mark(Column *c, int valid)
{
    if (valid)
        c->valid[c->rows >> 3] |= (uint8_t)(1u << (c->rows & 7));
    else
        c->nulls++;
}

static inline void
end_row(Column *c, int valid)
{
    mark(c, valid);
    c->rows++;
    c->offsets[c->rows] = (int32_t)c->len;
}

static inline int
put(Column *c, const char *p, size_t n)
{
    if (!reserve(c, n))
        return 0;
    memcpy(c->data + c->len, p, n);
    c->len += n;
    return 1;
}

static int
put_str(Column *c, Str s)
{
    if (s.set && !put(c, s.p, (size_t)s.n))
        return 0;
    end_row(c, s.set);
    return 1;
}

static void
lower(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] += 'a' - 'A';
}

static int
put_lower(Column *c, Str s)
{
    size_t at = c->len;
    if (!put_str(c, s))
        return 0;
    lower(c->data + at, (size_t)s.n * s.set);
    return 1;
}

/* ecs.domain: lower-cased, trailing dots dropped. */
static Str
domain_of(Str s)
{
    while (s.set && s.n > 0 && s.p[s.n - 1] == '.')
        s.n--;
    return s;
}

static void
put_int(Column *c, Int v)
{
    c->values[c->rows] = v.set ? v.v : 0;
    mark(c, v.set);
    c->rows++;
}

static const Str NONE = {NULL, 0, 0};
static const Int NO_INT = {0, 0};

static Str
only(int applies, Str s)
{
    return applies ? s : NONE;
}

static Int
only_int(int applies, Int v)
{
    return applies ? v : NO_INT;
}

static int
str_is(Str s, const char *word)
{
    size_t n = strlen(word);
    return s.set && (size_t)s.n == n && memcmp(s.p, word, n) == 0;
}

static int
contains(Str s, const char *needle)
{
    size_t n = strlen(needle);
    for (Py_ssize_t i = 0; s.set && i + (Py_ssize_t)n <= s.n; i++)
        if (memcmp(s.p + i, needle, n) == 0)
            return 1;
    return 0;
}

/* One accepted line's row in every column; 0 when out of memory. */
static int
append(Column *cols, const Line *l, const char *raw, Py_ssize_t raw_n)
{
    Str kind = l->event_type;
    int is_alert = str_is(kind, "alert");
    Column *c = &cols[C_DATASET];
    if (!put(c, "suricata.eve.", 13))
        return 0;
    if (kind.set && kind.n > 0) {
        if (!put(c, kind.p, (size_t)kind.n))
            return 0;
    }
    else if (!put(c, "unknown", 7))
        return 0;
    end_row(c, 1);
    c = &cols[C_KIND];
    if (!(is_alert ? put(c, "alert", 5) : put(c, "event", 5)))
        return 0;
    end_row(c, 1);

    Str action = NONE;
    if (is_alert)
        action = l->action;
    else if (str_is(kind, "flow"))
        action = l->state;
    if (!put_str(&cols[C_ACTION], action))
        return 0;
    put_int(&cols[C_SEVERITY], only_int(is_alert, l->severity));
    if (!put_str(&cols[C_OBSERVER], l->host))
        return 0;
    Str ip = l->src_ip;
    ip.set = ip.set && ip.n > 0;
    if (!put_str(&cols[C_SRC_IP], ip))
        return 0;
    put_int(&cols[C_SRC_PORT], l->src_port);
    ip = l->dest_ip;
    ip.set = ip.set && ip.n > 0;
    if (!put_str(&cols[C_DEST_IP], ip))
        return 0;
    put_int(&cols[C_DEST_PORT], l->dest_port);
    if (!put_lower(&cols[C_TRANSPORT], l->proto) || !put_lower(&cols[C_PROTOCOL], l->app_proto))
        return 0;

    int dns = is_alert || str_is(kind, "dns");
    if (!put_lower(&cols[C_DNS_NAME], domain_of(only(dns, l->rrname))) ||
        !put_str(&cols[C_DNS_TYPE], only(dns, l->rrtype)))
        return 0;

    int http = is_alert || str_is(kind, "http");
    Str host = domain_of(only(http, l->hostname));
    Str url = only(http, l->url);
    c = &cols[C_URL_FULL];
    if (url.set && contains(url, "://")) {
        if (!put_str(c, url))
            return 0;
    }
    else if (url.set && host.set) {
        /* As the per-event path: ``http_port or destination.port``, no port for 80. */
        Int port = l->http_port.set && l->http_port.v != 0 ? l->http_port : l->dest_port;
        size_t at = c->len;
        if (!put(c, "http://", 7) || !put(c, host.p, (size_t)host.n))
            return 0;
        lower(c->data + at + 7, (size_t)host.n);
        if (port.set && port.v != 80) {
            char number[24];
            int n = snprintf(number, sizeof number, ":%lld", (long long)port.v);
            if (!put(c, number, (size_t)n))
                return 0;
        }
        if (!put(c, url.p, (size_t)url.n))
            return 0;
        end_row(c, 1);
    }
    else
        end_row(c, 0);
    if (!put_lower(&cols[C_URL_DOMAIN], host) ||
        !put_str(&cols[C_METHOD], only(http, l->method)))
        return 0;
    put_int(&cols[C_STATUS], only_int(http, l->status));
    if (!put_str(&cols[C_AGENT], only(http, l->agent)))
        return 0;

    int tls = is_alert || str_is(kind, "tls");
    Str sni = domain_of(only(tls, l->sni));
    if (!put_lower(&cols[C_SNI], sni) || !put_lower(&cols[C_DEST_DOMAIN], sni))
        return 0;

    int file = is_alert || str_is(kind, "fileinfo");
    Str path = only(file, l->filename), name = path;
    for (Py_ssize_t i = 0; name.set && i < path.n; i++)
        if (path.p[i] == '/') {
            name.p = path.p + i + 1;
            name.n = path.n - i - 1;
        }
    if (!put_str(&cols[C_FILE_NAME], name) || !put_str(&cols[C_FILE_PATH], path) ||
        !put_lower(&cols[C_MD5], only(file, l->md5)) ||
        !put_lower(&cols[C_SHA1], only(file, l->sha1)) ||
        !put_lower(&cols[C_SHA256], only(file, l->sha256)))
        return 0;

    c = &cols[C_RULE_ID];
    if (is_alert && l->sid.set) {
        char number[24];
        int n = snprintf(number, sizeof number, "%lld", (long long)l->sid.v);
        if (!put(c, number, (size_t)n))
            return 0;
        end_row(c, 1);
    }
    else
        end_row(c, 0);
    if (!put_str(&cols[C_RULE_NAME], only(is_alert, l->signature)))
        return 0;
    Str whole = {raw, raw_n, 1};
    return put_str(&cols[C_RAW], whole);
}


static PyObject *
bytes_of(const void *p, size_t n)
{
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
}

/* ---- the entry points --------------------------------------------------------------- */

/* A line of the input, its newline left out; n < 0 for a line without one (not taken). */
typedef struct {
    const char *p;
    Py_ssize_t n;
} Span;

/* What one call builds: the columns of the taken lines, their times, which were taken. */
typedef struct {
    Column cols[N_COLUMNS];
    int ready;
    int64_t *stamps;
    uint8_t *taken;
    Py_ssize_t rows;
} Build;

static int
build_init(Build *b, Py_ssize_t count)
{
    b->rows = 0;
    b->stamps = malloc(sizeof(int64_t) * ((size_t)count + 1));
    b->taken = malloc((size_t)count + 1);
    for (b->ready = 0; b->ready < N_COLUMNS; b->ready++)
        if (!column_init(&b->cols[b->ready], b->ready, count))
            break;
    return b->stamps && b->taken && b->ready == N_COLUMNS;
}

static void
build_free(Build *b)
{
    for (int k = 0; k < b->ready; k++)
        column_free(&b->cols[k]);
    free(b->stamps);
    free(b->taken);
}

/* Decode every span into the columns: C data only, so callers run it without the GIL.
 * 0 when a column is full (past 2 GiB) or memory ran out. */
static int
build_rows(Build *b, const Span *spans, Py_ssize_t count, int64_t ingested)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        Line line;
        int64_t stamp = ingested;
        b->taken[i] = spans[i].n >= 0 && evecolumns_read_line(spans[i].p, spans[i].n, &line, &stamp);
        if (b->taken[i]) {
            if (!append(b->cols, &line, spans[i].p, spans[i].n))
                return 0;
            b->stamps[b->rows++] = stamp;
        }
    }
    return 1;
}

/* [(name, validity, offsets, null count, data)] and the @timestamp int64s, new
 * references; 0 on error. */
static int
build_output(Build *b, PyObject **out_columns, PyObject **out_stamps)
{
    PyObject *columns = PyList_New(N_COLUMNS);
    if (!columns)
        return 0;
    Py_ssize_t rows = b->rows;
    for (int k = 0; k < N_COLUMNS; k++) {
        Column *c = &b->cols[k];
        PyObject *valid = c->nulls ? bytes_of(c->valid, (size_t)rows / 8 + 1) : Py_NewRef(Py_None);
        PyObject *entry;
        if (c->is_int)
            entry = Py_BuildValue("(sNOnN)", c->name, valid, Py_None, c->nulls,
                                  bytes_of(c->values, sizeof(int64_t) * (size_t)rows));
        else
            entry = Py_BuildValue("(sNNnN)", c->name, valid,
                                  bytes_of(c->offsets, sizeof(int32_t) * ((size_t)rows + 1)),
                                  c->nulls, bytes_of(c->data, c->len));
        if (!entry) {
            Py_DECREF(columns);
            return 0;
        }
        PyList_SET_ITEM(columns, k, entry);
    }
    *out_stamps = bytes_of(b->stamps, sizeof(int64_t) * (size_t)rows);
    if (!*out_stamps) {
        Py_DECREF(columns);
        return 0;
    }
    *out_columns = columns;
    return 1;
}

static int
full_or_no_memory(int built)
{
    if (!built)
        PyErr_SetString(PyExc_MemoryError, "EVE columns past 2 GiB or out of memory");
    return !built;
}

/* Append to ``rejected`` each line not taken: its index, or with ``base`` (the block
 * the spans lie in) (index, start, end) of its bytes. 0 on error. */
static int
note_rejected(PyObject *rejected, const Build *b, const Span *spans, Py_ssize_t count,
              const void *base)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        if (b->taken[i])
            continue;
        PyObject *entry;
        if (base == NULL)
            entry = PyLong_FromSsize_t(i);
        else {
            Py_ssize_t from = spans[i].p - (const char *)base;
            entry = Py_BuildValue("(nnn)", i, from, from + spans[i].n);
        }
        if (!entry || PyList_Append(rejected, entry) < 0) {
            Py_XDECREF(entry);
            return 0;
        }
        Py_DECREF(entry);
    }
    return 1;
}

static PyObject *
decode(PyObject *module, PyObject *args)
{
    PyObject *lines;
    long long ingested;
    if (!PyArg_ParseTuple(args, "O!L", &PyList_Type, &lines, &ingested))
        return NULL;
    /* A tuple holds the lines while the GIL is released (the list might change). */
    PyObject *held = PyList_AsTuple(lines);
    if (!held)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(held);
    Build b;
    Span *spans = malloc(sizeof(Span) * ((size_t)count + 1));
    PyObject *rejected = PyList_New(0), *result = NULL;
    if (!build_init(&b, count) || !spans || !rejected) {
        if (rejected)
            PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(held, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "lines must be bytes");
            goto done;
        }
        Py_ssize_t n = PyBytes_GET_SIZE(item);
        spans[i].p = PyBytes_AS_STRING(item);
        spans[i].n = n > 0 && spans[i].p[n - 1] == '\n' ? n - 1 : -1;
    }
    int ok;
    /* Only C data from here to the end of the loop: other threads (the spool's writer,
     * the Parquet writer) run meanwhile. */
    Py_BEGIN_ALLOW_THREADS
    ok = build_rows(&b, spans, count, ingested);
    Py_END_ALLOW_THREADS
    if (full_or_no_memory(ok))
        goto done;
    if (!note_rejected(rejected, &b, spans, count, NULL))
        goto done;
    PyObject *columns, *stamps;
    if (build_output(&b, &columns, &stamps))
        result = Py_BuildValue("(OnNN)", rejected, b.rows, columns, stamps);
done:
    build_free(&b);
    free(spans);
    Py_XDECREF(rejected);
    Py_DECREF(held);
    return result;
}

/* The lines of data[start:] up to max_lines of them, cut at '\n' (the last may lack
 * one). Without the GIL: the caller holds the buffer. */
static Py_ssize_t
cut_lines(const char *data, Py_ssize_t size, Py_ssize_t start, Py_ssize_t max_lines, Span *spans,
          Py_ssize_t *next)
{
    Py_ssize_t count = 0, at = start;
    while (count < max_lines && at < size) {
        const char *newline = memchr(data + at, '\n', (size_t)(size - at));
        Py_ssize_t end = newline ? newline - data : size;
        spans[count].p = data + at;
        spans[count].n = end - at;
        count++;
        at = newline ? end + 1 : size;
    }
    *next = at;
    return count;
}

static PyObject *
decode_block(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, max_lines;
    long long ingested;
    if (!PyArg_ParseTuple(args, "y*nnL", &view, &start, &max_lines, &ingested))
        return NULL;
    Build b;
    b.ready = 0;
    b.stamps = NULL;
    b.taken = NULL;
    Span *spans = NULL;
    PyObject *rejected = NULL, *result = NULL;
    if (start < 0 || start > view.len || max_lines < 1) {
        PyErr_SetString(PyExc_ValueError, "start must lie in the data, max_lines be positive");
        goto done;
    }
    Py_ssize_t most = max_lines < view.len - start + 1 ? max_lines : view.len - start + 1;
    spans = malloc(sizeof(Span) * ((size_t)most + 1));
    rejected = PyList_New(0);
    if (!spans || !rejected || !build_init(&b, most)) {
        if (rejected)
            PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t count, next;
    int ok;
    Py_BEGIN_ALLOW_THREADS
    count = cut_lines(view.buf, view.len, start, most, spans, &next);
    ok = build_rows(&b, spans, count, ingested);
    Py_END_ALLOW_THREADS
    if (full_or_no_memory(ok))
        goto done;
    if (!note_rejected(rejected, &b, spans, count, view.buf))
        goto done;
    PyObject *columns, *stamps;
    if (build_output(&b, &columns, &stamps))
        result = Py_BuildValue("(OnNNnn)", rejected, b.rows, columns, stamps, count, next);
done:
    build_free(&b);
    free(spans);
    Py_XDECREF(rejected);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(lines, ingested) -> (rejected indices, rows, [(name, validity, offsets, "
     "null count, data)], @timestamp int64s): the lake columns of the lines this path "
     "accepts; ingested (us since 1970) is the time of lines without one."},
    {"decode_block", decode_block, METH_VARARGS,
     "decode_block(data, start, max_lines, ingested) -> ([(index, start, end) of each "
     "line not taken], rows, columns, @timestamp int64s as decode gives them, lines "
     "read, offset of the next line): up to max_lines lines of data from byte start, "
     "cut at newlines without a bytes object a line (an HTTP body already in memory)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_evecolumns", "Suricata EVE JSON lines to Arrow buffers, in C.",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__evecolumns(void)
{
    evecolumns_line_init();
    return PyModule_Create(&module);
}
