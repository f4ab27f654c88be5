/* The growing lists of a batch of the IOC screen: see _jsonscreen_lists.h. */
#include "_jsonscreen_lists.h"

int
jsonscreen_probes_grow(Probes *p)
{
    Py_ssize_t cap = p->cap ? p->cap * 2 : 4096;
    uint64_t *hash = PyMem_Realloc(p->hash, cap * sizeof(uint64_t));
    if (hash == NULL)
        return -1;
    p->hash = hash;
    Py_ssize_t *it = PyMem_Realloc(p->item, cap * sizeof(Py_ssize_t));
    if (it == NULL)
        return -1;
    p->item = it;
    p->cap = cap;
    return 0;
}

int
jsonscreen_items_grow(Items *it)
{
    Py_ssize_t cap = it->cap ? it->cap * 2 : 1024;
    Py_ssize_t *a = PyMem_Realloc(it->start, cap * sizeof(Py_ssize_t));
    if (a == NULL)
        return -1;
    it->start = a;
    a = PyMem_Realloc(it->end, cap * sizeof(Py_ssize_t));
    if (a == NULL)
        return -1;
    it->end = a;
    a = PyMem_Realloc(it->number, cap * sizeof(Py_ssize_t));
    if (a == NULL)
        return -1;
    it->number = a;
    char *m = PyMem_Realloc(it->mark, (size_t)cap);
    if (m == NULL)
        return -1;
    it->mark = m;
    it->cap = cap;
    return 0;
}

void
jsonscreen_lists_free(Items *it, Probes *p)
{
    PyMem_Free(it->start);
    PyMem_Free(it->end);
    PyMem_Free(it->number);
    PyMem_Free(it->mark);
    PyMem_Free(p->hash);
    PyMem_Free(p->item);
}

PyObject *
jsonscreen_kept_spans(const Items *it)
{
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < it->len; k++) {
        if (!it->mark[k])
            continue;
        PyObject *t = Py_BuildValue("(nnn)", it->start[k], it->end[k], it->number[k]);
        if (t == NULL || PyList_Append(out, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(t);
    }
    return out;
}
