/* The strict JSON reader (RFC 8259) of the IOC screen (_jsonscreen.c): its Reader, and
 * the helpers the screen's walk of an event's top level runs per byte and per key, kept
 * `static inline` here so that they inline into that walk (callgrind: read_string inlined
 * runs ~7% fewer instructions than the call GCC made when all was one file). The rest of
 * the reader (numbers, literals, nested values) is _jsonscreen_json.c.
 *
 * The reader checks that a value is well-formed JSON and flags what the screen cannot
 * judge (r->odd: non-ASCII, surrogate escapes, long numbers, deep nesting); the full
 * parser then decides.
 */
#ifndef STEPPE_JSONSCREEN_JSON_H
#define STEPPE_JSONSCREEN_JSON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    const unsigned char *p, *end;
    int odd; /* something the screen cannot judge: keep the event */
} Reader;

/* Bytes a string's scan stops at: the quote, the backslash, control and non-ASCII.
 * Filled by jsonscreen_json_init at import. */
extern unsigned char jsonscreen_string_stop[256];

void jsonscreen_json_init(void);

static inline void
skip_ws(Reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static inline int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A string at r->p (the opening quote). Sets *s, *n to its raw body and *escaped when
 * it has a backslash. Non-ASCII bytes set r->odd (UTF-8 left to the full parser).
 * Returns 0, or -1 when malformed. */
static inline int
read_string(Reader *r, const unsigned char **s, Py_ssize_t *n, int *escaped)
{
    const unsigned char *p = r->p + 1, *end = r->end;
    *s = p;
    *escaped = 0;
    while (p < end) {
        while (p < end && !jsonscreen_string_stop[*p])
            p++;
        if (p >= end)
            break;
        unsigned char c = *p;
        if (c == '"') {
            *n = p - *s;
            r->p = p + 1;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c >= 0x80)
            r->odd = 1;
        if (c == '\\') {
            *escaped = 1;
            if (p + 1 >= end)
                return -1;
            c = p[1];
            if (c == 'u') {
                if (p + 6 > end)
                    return -1;
                int v = 0;
                for (int k = 2; k < 6; k++) {
                    int d = hexval(p[k]);
                    if (d < 0)
                        return -1;
                    v = v * 16 + d;
                }
                if (v >= 0xD800 && v <= 0xDFFF)
                    r->odd = 1; /* surrogates: let the full parser judge the pair */
                p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", c) || c == 0)
                return -1;
            p += 2;
            continue;
        }
        p++;
    }
    return -1;
}

/* Any value at r->p, nested `depth` deep. Returns 0, or -1 when malformed. */
int jsonscreen_read_value(Reader *r, int depth);

#endif /* STEPPE_JSONSCREEN_JSON_H */
