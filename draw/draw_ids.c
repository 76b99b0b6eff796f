/*
 * draw/draw_ids.c — a cgraph discipline that names objects deterministically.
 *
 * cgraph's default discipline makes a named object's id the address of its
 * interned name, and cgraph writes and dot lays out subgraphs in id order,
 * so the output would depend on the heap. Here a name's id is
 * 2 * (1 + the order in which it was first seen); anonymous objects (edges)
 * get odd ids in creation order, as cgraph's own discipline gives them.
 */
#include <stdlib.h>
#include <string.h>

#include "draw.h"

typedef struct ids {
    char **names;
    int n, cap;
    int32_t *hash; /* open addressing: index + 1, 0 empty */
    int hash_cap;
    IDTYPE anon;
    Agraph_t *g;   /* names live in its string pool, as cgraph's writer expects */
} ids;

static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int ids_find(const ids *t, const char *name)
{
    if (!t->hash_cap) return -1;
    for (uint32_t j = str_hash(name) & (uint32_t)(t->hash_cap - 1); t->hash[j];
         j = (j + 1) & (uint32_t)(t->hash_cap - 1))
        if (strcmp(t->names[t->hash[j] - 1], name) == 0) return t->hash[j] - 1;
    return -1;
}

static int ids_add(ids *t, const char *name)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        char **names = realloc(t->names, sizeof *names * (size_t)cap);
        if (!names) return -1;
        t->names = names;
        t->cap = cap;
    }
    if (2 * (t->n + 1) > t->hash_cap) {
        int cap = t->hash_cap ? 2 * t->hash_cap : 128;
        int32_t *hash = calloc((size_t)cap, sizeof *hash);
        if (!hash) return -1;
        for (int i = 0; i < t->n; i++) {
            uint32_t j = str_hash(t->names[i]) & (uint32_t)(cap - 1);
            while (hash[j]) j = (j + 1) & (uint32_t)(cap - 1);
            hash[j] = i + 1;
        }
        free(t->hash);
        t->hash = hash;
        t->hash_cap = cap;
    }
    t->names[t->n] = agstrdup(t->g, (char *)name);
    if (!t->names[t->n]) return -1;
    uint32_t j = str_hash(name) & (uint32_t)(t->hash_cap - 1);
    while (t->hash[j]) j = (j + 1) & (uint32_t)(t->hash_cap - 1);
    t->hash[j] = ++t->n;
    return t->n - 1;
}

static void *ids_open(Agraph_t *g, Agdisc_t *disc)
{
    (void)disc;
    ids *t = calloc(1, sizeof *t);
    if (t) t->anon = 1, t->g = g;
    return t;
}

static long ids_map(void *state, int objtype, char *str, IDTYPE *id, int createflag)
{
    (void)objtype;
    ids *t = state;
    if (!str) {
        *id = t->anon;
        t->anon += 2;
        return 1;
    }
    int i = ids_find(t, str);
    if (i < 0 && createflag) i = ids_add(t, str);
    *id = i < 0 ? 0 : 2 * ((IDTYPE)i + 1); /* 0: no such name */
    return i >= 0 || !createflag;
}

static long ids_alloc(void *state, int objtype, IDTYPE id)
{
    (void)state, (void)objtype, (void)id;
    return 1;
}

static void ids_free(void *state, int objtype, IDTYPE id) { (void)state, (void)objtype, (void)id; }

static char *ids_print(void *state, int objtype, IDTYPE id)
{
    (void)objtype;
    const ids *t = state;
    return id % 2 == 0 && id > 0 && id / 2 <= (IDTYPE)t->n ? t->names[id / 2 - 1] : NULL;
}

static void ids_close(void *state)
{
    ids *t = state; /* the names go with the graph's string pool */
    free(t->names), free(t->hash), free(t);
}

static void ids_register(void *state, int objtype, void *obj) { (void)state, (void)objtype, (void)obj; }

static Agiddisc_t id_disc = {ids_open, ids_map, ids_alloc, ids_free, ids_print, ids_close, ids_register};

Agdisc_t *recur_draw_disc(void)
{
    static Agdisc_t disc = {&AgMemDisc, &id_disc, &AgIoDisc};
    return &disc;
}
