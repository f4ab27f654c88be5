/* The growing lists of one batch of the IOC screen (_jsonscreen.c): its probes (each
 * key's hash and the event it came from) and its events (their bytes, their number and
 * whether the screen keeps them). A push runs per key and per event, so it is `static
 * inline` here and only growing goes out of line; growing, freeing and the list of kept
 * spans handed to Python are _jsonscreen_lists.c.
 */
#ifndef STEPPE_JSONSCREEN_LISTS_H
#define STEPPE_JSONSCREEN_LISTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Pending probes of one batch: the hash and the event it came from. */
typedef struct {
    uint64_t *hash;
    Py_ssize_t *item;
    Py_ssize_t len, cap;
} Probes;

/* The events of one batch: where each is in the buffer, its number, whether kept. */
typedef struct {
    Py_ssize_t *start, *end, *number;
    char *mark;
    Py_ssize_t len, cap;
} Items;

/* Double the room (0; -1 out of memory, the list unchanged). */
int jsonscreen_probes_grow(Probes *p);
int jsonscreen_items_grow(Items *it);

/* Free both lists of a batch. */
void jsonscreen_lists_free(Items *it, Probes *p);

/* The (start, end, number) tuples of the kept events, as a Python list (NULL: error). */
PyObject *jsonscreen_kept_spans(const Items *it);

static inline int
probes_push(Probes *p, uint64_t h, Py_ssize_t item)
{
    if (p->len == p->cap && jsonscreen_probes_grow(p) < 0)
        return -1;
    p->hash[p->len] = h;
    p->item[p->len] = item;
    p->len++;
    return 0;
}

static inline int
items_push(Items *it, Py_ssize_t start, Py_ssize_t end, Py_ssize_t number, char keep)
{
    if (it->len == it->cap && jsonscreen_items_grow(it) < 0)
        return -1;
    it->start[it->len] = start;
    it->end[it->len] = end;
    it->number[it->len] = number;
    it->mark[it->len] = keep;
    it->len++;
    return 0;
}

#endif
