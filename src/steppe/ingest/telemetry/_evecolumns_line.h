/* The line reader of the EVE decoder (_evecolumns.c): the fields of one Suricata EVE
 * line the lake uses, read from compact JSON by _evecolumns_line.c (the field tables,
 * the strict reader, the checks of times, IPv4 addresses and ports). _evecolumns.c
 * builds the Arrow columns from them; the rules a line must follow are in its comment.
 */
#ifndef STEPPE_EVECOLUMNS_LINE_H
#define STEPPE_EVECOLUMNS_LINE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef struct {
    const char *p;
    Py_ssize_t n;
    int set; /* present and not null */
} Str;

typedef struct {
    int64_t v;
    int set;
} Int;

/* The fields of one line the lake uses (the structs of eve_columns.py). */
typedef struct {
    Str timestamp, event_type, src_ip, dest_ip, proto, app_proto, host;
    Int src_port, dest_port;
    Int sid, severity;
    Str signature, action;
    Str rrname, rrtype;
    int queries;
    Str hostname, url, method, agent;
    Int http_port, status;
    Str sni;
    Str md5, sha1, sha256, filename;
    Str state;
} Line;

/* Fills the reader's tables; once, at import. */
void evecolumns_line_init(void);

/* The line's fields (p, n: one line without its newline) and its time in microseconds
 * since 1970 in *stamp (left as it is when the line has none), or 0 when the Python
 * path must read it. */
int evecolumns_read_line(const char *p, Py_ssize_t n, Line *line, int64_t *stamp);

#endif /* STEPPE_EVECOLUMNS_LINE_H */
