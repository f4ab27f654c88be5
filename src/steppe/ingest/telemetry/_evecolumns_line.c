/* The line reader of the EVE decoder: the fields the lake uses (Line, in
 * _evecolumns_line.h) from one line of compact JSON, with the checks of times, IPv4
 * addresses and ports that make the decoder's result provably the per-event path's.
 * _evecolumns.c builds the Arrow columns from the lines read here; the rules and why
 * this is C are in the comment at its top.
 */
#include "_evecolumns_line.h"

#include <stddef.h>
#include <string.h>

#define MAX_DEPTH 64

enum { K_STR, K_INT, K_OBJ, K_ANY };

typedef struct Field {
    const char *name;
    Py_ssize_t length; /* of the name */
    int kind;
    size_t offset;            /* of the Str / Int (or int flag for K_ANY) in Line */
    const struct Field *body; /* K_OBJ: the nested object's fields */
} Field;

#define S(name, member) {name, sizeof(name) - 1, K_STR, offsetof(Line, member), NULL}
#define I(name, member) {name, sizeof(name) - 1, K_INT, offsetof(Line, member), NULL}
#define O(name, body) {name, sizeof(name) - 1, K_OBJ, 0, body}
#define END {NULL, 0, 0, 0, NULL}

static const Field ALERT[] = {
    I("signature_id", sid), S("signature", signature), I("severity", severity),
    S("action", action), END,
};
static const Field DNS[] = {
    S("rrname", rrname), S("rrtype", rrtype),
    {"queries", sizeof("queries") - 1, K_ANY, offsetof(Line, queries), NULL}, END,
};
static const Field HTTP[] = {
    S("hostname", hostname), S("url", url), I("http_port", http_port),
    S("http_method", method), S("http_user_agent", agent), I("status", status), END,
};
static const Field TLS[] = {S("sni", sni), END};
static const Field FILEINFO[] = {
    S("md5", md5), S("sha1", sha1), S("sha256", sha256), S("filename", filename), END,
};
static const Field FLOW[] = {S("state", state), END};
static const Field TOP[] = {
    S("timestamp", timestamp), S("event_type", event_type), S("src_ip", src_ip),
    S("dest_ip", dest_ip), I("src_port", src_port), I("dest_port", dest_port),
    S("proto", proto), S("app_proto", app_proto), S("host", host),
    O("alert", ALERT), O("dns", DNS), O("http", HTTP), O("tls", TLS),
    O("fileinfo", FILEINFO), O("flow", FLOW), END,
};

/* ---- the JSON reader: 0 = the line is not for this path ---------------------------- */

/* The bytes a string's scan stops at: the quote, and what this path refuses inside one
 * (the backslash, control bytes, non-ASCII). Filled at import. */
static uint8_t STOPS[256];

static int
read_string(const char **pp, const char *end, Str *out)
{
    const char *p = *pp + 1; /* past the quote */
    const char *start = p;
    while (p < end && !STOPS[(unsigned char)*p])
        p++;
    if (p >= end || *p != '"')
        return 0;
    out->p = start;
    out->n = p - start;
    out->set = 1;
    *pp = p + 1;
    return 1;
}

static int
read_int(const char **pp, const char *end, Int *out)
{
    const char *p = *pp;
    int negative = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return 0;
    if (*p == '0') {
        if (negative) /* -0: orjson writes 0 */
            return 0;
        p++;
    }
    else {
        const char *first = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p - first > 18) /* orjson reads longer ones as floats */
            return 0;
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return 0;
    int64_t v = 0;
    for (const char *q = *pp + negative; q < p; q++)
        v = v * 10 + (*q - '0');
    out->v = negative ? -v : v;
    out->set = 1;
    *pp = p;
    return 1;
}

static int
literal(const char **pp, const char *end, const char *word, size_t n)
{
    if ((size_t)(end - *pp) < n || memcmp(*pp, word, n) != 0)
        return 0;
    *pp += n;
    return 1;
}

static int skip_value(const char **pp, const char *end, int depth);

static int
skip_container(const char **pp, const char *end, int depth, char close)
{
    const char *p = *pp + 1;
    if (depth > MAX_DEPTH)
        return 0;
    if (p < end && *p == close) {
        *pp = p + 1;
        return 1;
    }
    for (;;) {
        if (close == '}') {
            Str key;
            if (p >= end || *p != '"' || !read_string(&p, end, &key))
                return 0;
            if (p >= end || *p != ':')
                return 0;
            p++;
        }
        if (!skip_value(&p, end, depth + 1))
            return 0;
        if (p >= end)
            return 0;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != close)
            return 0;
        *pp = p + 1;
        return 1;
    }
}

static int
skip_value(const char **pp, const char *end, int depth)
{
    if (*pp >= end)
        return 0;
    switch (**pp) {
    case '"': {
        Str s;
        return read_string(pp, end, &s);
    }
    case '{':
        return skip_container(pp, end, depth, '}');
    case '[':
        return skip_container(pp, end, depth, ']');
    case 't':
        return literal(pp, end, "true", 4);
    case 'f':
        return literal(pp, end, "false", 5);
    case 'n':
        return literal(pp, end, "null", 4);
    default: {
        Int i;
        return read_int(pp, end, &i);
    }
    }
}

/* An object of known fields into `line`; each known key at most once. */
static int
read_object(const char **pp, const char *end, const Field *fields, Line *line, int depth)
{
    const char *p = *pp + 1;
    uint32_t seen = 0;
    if (p < end && *p == '}') {
        *pp = p + 1;
        return 1;
    }
    for (;;) {
        Str key;
        if (p >= end || *p != '"' || !read_string(&p, end, &key))
            return 0;
        if (p >= end || *p != ':')
            return 0;
        p++;
        int index = -1;
        for (int i = 0; fields[i].name; i++) {
            if (fields[i].length == key.n && fields[i].name[0] == key.p[0] &&
                memcmp(fields[i].name, key.p, key.n) == 0) {
                index = i;
                break;
            }
        }
        if (index < 0) {
            if (!skip_value(&p, end, depth + 1))
                return 0;
        }
        else {
            const Field *f = &fields[index];
            if (seen & (1u << index)) /* a key twice: the Python path keeps the last */
                return 0;
            seen |= 1u << index;
            if (p < end && *p == 'n' && f->kind != K_ANY) {
                if (!literal(&p, end, "null", 4))
                    return 0;
            }
            else if (f->kind == K_STR) {
                if (p >= end || *p != '"' || !read_string(&p, end, (Str *)((char *)line + f->offset)))
                    return 0;
            }
            else if (f->kind == K_INT) {
                if (!read_int(&p, end, (Int *)((char *)line + f->offset)))
                    return 0;
            }
            else if (f->kind == K_OBJ) {
                if (p >= end || *p != '{' || !read_object(&p, end, f->body, line, depth + 1))
                    return 0;
            }
            else {
                const char *start = p;
                if (!skip_value(&p, end, depth + 1))
                    return 0;
                *(int *)((char *)line + f->offset) = !(p - start == 4 && memcmp(start, "null", 4) == 0);
            }
        }
        if (p >= end)
            return 0;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '}')
            return 0;
        *pp = p + 1;
        return 1;
    }
}

/* ---- the checks of values ---------------------------------------------------------- */

/* What ecs.ip keeps as it is: a dotted quad without leading zeros, octets <= 255. */
static int
canonical_ipv4(Str s)
{
    const char *p = s.p, *end = s.p + s.n;
    for (int octet = 0; octet < 4; octet++) {
        if (octet) {
            if (p >= end || *p != '.')
                return 0;
            p++;
        }
        const char *start = p;
        int v = 0;
        while (p < end && *p >= '0' && *p <= '9' && p - start < 3)
            v = v * 10 + (*p++ - '0');
        if (p == start || v > 255 || (p - start > 1 && *start == '0'))
            return 0;
    }
    return p == end;
}

static int
digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* EVE's time, microseconds since 1970 in UTC, as ecs.iso gives it. */
static int
eve_time(Str s, int64_t *out)
{
    const char *t = s.p;
    int year, month, day, hour, minute, second, fraction, zh = 0, zm = 0, sign = 0;
    if (s.n < 27 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':' || t[19] != '.')
        return 0;
    if (!digits(t, 4, &year) || !digits(t + 5, 2, &month) || !digits(t + 8, 2, &day) ||
        !digits(t + 11, 2, &hour) || !digits(t + 14, 2, &minute) ||
        !digits(t + 17, 2, &second) || !digits(t + 20, 6, &fraction))
        return 0;
    const char *z = t + 26;
    Py_ssize_t zn = s.n - 26;
    if (zn == 1 && z[0] == 'Z') {
    }
    else if ((zn == 5 || (zn == 6 && z[3] == ':')) && (z[0] == '+' || z[0] == '-')) {
        sign = z[0] == '+' ? 1 : -1;
        if (!digits(z + 1, 2, &zh) || !digits(z + zn - 2, 2, &zm))
            return 0;
    }
    else
        return 0;
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    /* Years 1 and 9999 may have no UTC time (ecs.iso refuses those): not here. */
    if (year < 2 || year > 9998 || month < 1 || month > 12 || day < 1 ||
        day > month_days[month - 1] || (month == 2 && day == 29 && !leap) || hour > 23 ||
        minute > 59 || second > 59 || zh > 23 || zm > 59)
        return 0;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second - sign * (zh * 3600 + zm * 60);
    *out = seconds * 1000000 + fraction;
    return 1;
}

/* The line's fields, or 0 when the Python path must read it. */
int
evecolumns_read_line(const char *p, Py_ssize_t n, Line *line, int64_t *stamp)
{
    const char *end = p + n;
    memset(line, 0, sizeof(*line));
    if (n < 2 || *p != '{' || !read_object(&p, end, TOP, line, 0) || p != end)
        return 0;
    if (line->timestamp.set && !eve_time(line->timestamp, stamp))
        return 0;
    if (line->src_ip.set && line->src_ip.n && !canonical_ipv4(line->src_ip))
        return 0;
    if (line->dest_ip.set && line->dest_ip.n && !canonical_ipv4(line->dest_ip))
        return 0;
    if ((line->src_port.set && (line->src_port.v < 0 || line->src_port.v > 65535)) ||
        (line->dest_port.set && (line->dest_port.v < 0 || line->dest_port.v > 65535)))
        return 0;
    /* v3 DNS: the name is in ``queries``, which only the per-event path reads. */
    if (line->queries && !line->rrname.set)
        return 0;
    return 1;
}

void
evecolumns_line_init(void)
{
    for (int c = 0; c < 256; c++)
        STOPS[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}
