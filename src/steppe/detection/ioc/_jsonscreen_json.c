/* The rest of the IOC screen's strict JSON reader (_jsonscreen_json.h has the Reader and
 * its inline string and whitespace helpers): numbers, literals, arrays and nested
 * objects, which the screen only checks and skips. Split from _jsonscreen.c, which holds
 * the screen itself; why this is C: see the comment at the top of that file.
 */
#include "_jsonscreen_json.h"

#define MAX_DEPTH 64

unsigned char jsonscreen_string_stop[256];

void
jsonscreen_json_init(void)
{
    for (int c = 0; c < 256; c++)
        jsonscreen_string_stop[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

static int
read_number(Reader *r)
{
    const unsigned char *p = r->p, *end = r->end, *start = r->p;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return -1;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return -1;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p - start > 15)
        r->odd = 1; /* big numbers: the full parser's limits decide */
    r->p = p;
    return 0;
}

static int
read_container(Reader *r, int depth)
{
    unsigned char close = *r->p == '{' ? '}' : ']';
    int object = close == '}';
    if (depth >= MAX_DEPTH)
        r->odd = 1;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        if (object) {
            const unsigned char *s;
            Py_ssize_t n;
            int escaped;
            if (r->p >= r->end || *r->p != '"' || read_string(r, &s, &n, &escaped) < 0)
                return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return -1;
            r->p++;
            skip_ws(r);
        }
        if (jsonscreen_read_value(r, depth + 1) < 0)
            return -1;
        skip_ws(r);
        if (r->p >= r->end)
            return -1;
        if (*r->p == ',') {
            r->p++;
            skip_ws(r);
            continue;
        }
        if (*r->p == close) {
            r->p++;
            return 0;
        }
        return -1;
    }
}

int
jsonscreen_read_value(Reader *r, int depth)
{
    if (r->p >= r->end)
        return -1;
    switch (*r->p) {
    case '"': {
        const unsigned char *s;
        Py_ssize_t n;
        int escaped;
        return read_string(r, &s, &n, &escaped);
    }
    case '{':
    case '[':
        if (depth > 512) /* deeper than any parser's limit: the full parser decides */
            return -1;
        return read_container(r, depth);
    case 't':
        if (r->end - r->p >= 4 && !memcmp(r->p, "true", 4)) {
            r->p += 4;
            return 0;
        }
        return -1;
    case 'f':
        if (r->end - r->p >= 5 && !memcmp(r->p, "false", 5)) {
            r->p += 5;
            return 0;
        }
        return -1;
    case 'n':
        if (r->end - r->p >= 4 && !memcmp(r->p, "null", 4)) {
            r->p += 4;
            return 0;
        }
        return -1;
    default:
        return read_number(r);
    }
}
