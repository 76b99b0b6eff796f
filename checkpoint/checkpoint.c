/*
 * checkpoint/checkpoint.c — the in-memory checkpoint: its tables of tensors and
 * metadata, setters, getters, lookups and errors. Saving and loading are in
 * checkpoint_write.c and checkpoint_read.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint_impl.h"

recur_ckpt *recur_ckpt_new(void) { return calloc(1, sizeof(recur_ckpt)); }

static void table_free(ckpt_table *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->e[i].name);
        free(t->e[i].data);
        free(t->e[i].s);
    }
    free(t->e);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

void recur_ckpt_clear(recur_ckpt *ck)
{
    table_free(&ck->tensors);
    table_free(&ck->meta);
}

void recur_ckpt_free(recur_ckpt *ck)
{
    if (!ck) return;
    recur_ckpt_clear(ck);
    free(ck);
}

int64_t recur_ckpt_first_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

/* ---------------------------------------------------------------- errors */

recur_status recur_ckpt_errcode(const recur_ckpt *ck) { return recur_error_code(ck ? &ck->error : NULL); }

const char *recur_ckpt_errmsg(const recur_ckpt *ck) { return recur_error_msg(ck ? &ck->error : NULL, "no checkpoint (NULL)"); }

/* ------------------------------------------------------------ the tables */

/* FNV-1a, 32 bits: h = (h ^ byte) * 16777619 from h = 2166136261. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 16777619u;
    return h;
}

int recur_ckpt_table_find(const ckpt_table *t, const char *name)
{
    if (t->n_slots == 0 || !name) return -1;
    uint32_t mask = t->n_slots - 1;
    for (uint32_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        int32_t s = t->slot[i];
        if (s < 0) return -1;
        if (strcmp(t->e[s].name, name) == 0) return s;
    }
}

static void index_insert(ckpt_table *t, int pos)
{
    uint32_t mask = t->n_slots - 1, i = name_hash(t->e[pos].name) & mask;
    while (t->slot[i] >= 0) i = (i + 1) & mask;
    t->slot[i] = pos;
}

recur_status recur_ckpt_table_reserve(ckpt_table *t)
{
    if (t->n >= (1 << 29)) return RECUR_ERR_NOMEM;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 8;
        ckpt_entry *e = realloc(t->e, sizeof *e * (size_t)cap);
        if (!e) return RECUR_ERR_NOMEM;
        t->e = e;
        t->cap = cap;
    }
    /* Keep the index under half full, so probe runs stay short. */
    if ((uint32_t)(t->n + 1) * 2 >= t->n_slots) {
        uint32_t n_slots = t->n_slots ? 2 * t->n_slots : 16;
        int32_t *slot = malloc(sizeof *slot * n_slots);
        if (!slot) return RECUR_ERR_NOMEM;
        for (uint32_t i = 0; i < n_slots; i++) slot[i] = -1;
        free(t->slot);
        t->slot = slot;
        t->n_slots = n_slots;
        for (int i = 0; i < t->n; i++) index_insert(t, i);
    }
    return RECUR_OK;
}

void recur_ckpt_table_push(ckpt_table *t, ckpt_entry e)
{
    t->e[t->n] = e;
    index_insert(t, t->n);
    t->n++;
}

/* ------------------------------------------------------------ validation */

/*
 * UTF-8: a lead byte 0xxxxxxx (1 byte), 110xxxxx (2), 1110xxxx (3) or
 * 11110xxx (4) followed by 10xxxxxx continuation bytes; the code point must
 * need that many bytes (no overlong forms), lie below U+110000 and outside
 * the surrogates U+D800..U+DFFF.
 */
const char *recur_ckpt_check_text(const char *s, size_t len, int is_name, size_t *at)
{
    const unsigned char *b = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        *at = i;
        uint32_t c = b[i], cp, min;
        size_t more;
        if (c == 0) return "contains a NUL byte";
        if (c < 0x80) {
            if (is_name && (c < 0x20 || c == 0x7f)) return "contains a control character";
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) more = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) more = 2, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4) more = 3, cp = c & 0x07, min = 0x10000;
        else return "is not valid UTF-8";
        if (more > len - i - 1) return "is not valid UTF-8 (a sequence is cut short)";
        for (size_t k = 1; k <= more; k++) {
            if ((b[i + k] & 0xc0) != 0x80) return "is not valid UTF-8";
            cp = (cp << 6) | (b[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "is not valid UTF-8";
        if (is_name && cp <= 0x9f) return "contains a control character";
        i += more + 1;
    }
    return NULL;
}

/* Rank 0..4, dimensions >= 1, at most 2^40 elements (recur_shape_numel saturates: no product overflows). */
static int shape_ok(recur_shape s)
{
    if (s.ndim < 0 || s.ndim > RECUR_MAX_DIMS) return 0;
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] < 1) return 0;
    return recur_shape_numel(s) <= RECUR_CKPT_MAX_NUMEL;
}

/* Checks a tensor name or metadata key given to `who`. */
static recur_status check_name(recur_ckpt *ck, const char *who, const char *name)
{
    if (!name) return recur_error_set(&ck->error, RECUR_ERR_ARG, "%s: the name is NULL", who);
    size_t len = strlen(name), at;
    if (len == 0) return recur_error_set(&ck->error, RECUR_ERR_ARG, "%s: the name is empty", who);
    if (len > RECUR_CKPT_MAX_NAME)
        return recur_error_set(&ck->error, RECUR_ERR_ARG, "%s: a name of %zu bytes is longer than the limit of %d bytes", who,
                               len, RECUR_CKPT_MAX_NAME);
    const char *why = recur_ckpt_check_text(name, len, 1, &at);
    if (why) return recur_error_set(&ck->error, RECUR_ERR_ARG, "%s: the name \"%.*s...\" %s at byte %zu", who, (int)at, name, why, at);
    return RECUR_OK;
}

/* --------------------------------------------------------------- tensors */

recur_status recur_ckpt_set_tensor(recur_ckpt *ck, const char *name, recur_shape shape, const float *data)
{
    if (!ck) return RECUR_ERR_ARG;
    recur_status st = check_name(ck, "ckpt_set_tensor", name);
    if (st != RECUR_OK) return st;
    char shp[64];
    if (!shape_ok(shape))
        return recur_error_set(&ck->error, RECUR_ERR_SHAPE,
                               "ckpt_set_tensor: tensor \"%s\": invalid shape %s (rank 0..%d, dimensions >= 1, at "
                               "most 2^40 elements)",
                               name, recur_shape_str(shape, shp, sizeof shp), RECUR_MAX_DIMS);
    if (!data) return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_set_tensor: tensor \"%s\": data is NULL", name);
    size_t bytes = sizeof(float) * (size_t)recur_shape_numel(shape);
    float *copy = malloc(bytes);
    if (!copy) return recur_error_set(&ck->error, RECUR_ERR_NOMEM, "ckpt_set_tensor: tensor \"%s\": out of memory", name);
    memcpy(copy, data, bytes);
    int i = recur_ckpt_table_find(&ck->tensors, name);
    if (i >= 0) {
        ckpt_entry *e = &ck->tensors.e[i];
        free(e->data);
        e->data = copy;
        e->shape = shape;
        return RECUR_OK;
    }
    char *nm = strdup(name);
    if (!nm || recur_ckpt_table_reserve(&ck->tensors) != RECUR_OK) {
        free(nm);
        free(copy);
        return recur_error_set(&ck->error, RECUR_ERR_NOMEM, "ckpt_set_tensor: tensor \"%s\": out of memory", name);
    }
    recur_ckpt_table_push(&ck->tensors, (ckpt_entry){.name = nm, .shape = shape, .data = copy});
    return RECUR_OK;
}

recur_status recur_ckpt_get_tensor(recur_ckpt *ck, const char *name, recur_shape shape, float *out)
{
    if (!ck) return RECUR_ERR_ARG;
    int i = recur_ckpt_table_find(&ck->tensors, name);
    if (i < 0)
        return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_get_tensor: no tensor is named \"%s\" (the checkpoint has %d)",
                               name ? name : "(NULL)", ck->tensors.n);
    const ckpt_entry *e = &ck->tensors.e[i];
    char a[64], b[64];
    if (!recur_shape_equal(e->shape, shape))
        return recur_error_set(&ck->error, RECUR_ERR_SHAPE, "ckpt_get_tensor: tensor \"%s\" has shape %s, expected %s", name,
                               recur_shape_str(e->shape, a, sizeof a), recur_shape_str(shape, b, sizeof b));
    if (!out) return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_get_tensor: tensor \"%s\": out is NULL", name);
    memcpy(out, e->data, sizeof(float) * (size_t)recur_shape_numel(shape));
    return RECUR_OK;
}

int recur_ckpt_count(const recur_ckpt *ck) { return ck ? ck->tensors.n : 0; }

int recur_ckpt_find(const recur_ckpt *ck, const char *name) { return ck ? recur_ckpt_table_find(&ck->tensors, name) : -1; }

recur_ckpt_tensor recur_ckpt_at(const recur_ckpt *ck, int i)
{
    recur_ckpt_tensor t = {0};
    if (!ck || i < 0 || i >= ck->tensors.n) return t;
    const ckpt_entry *e = &ck->tensors.e[i];
    t.name = e->name;
    t.shape = e->shape;
    t.data = e->data;
    return t;
}

/* -------------------------------------------------------------- metadata */

static const char *meta_type_name(recur_meta_type type)
{
    switch (type) {
    case RECUR_META_INT: return "int";
    case RECUR_META_FLOAT: return "float";
    case RECUR_META_STR: return "string";
    }
    return "unknown type";
}

/* Sets entry `key` to `value` (whose string, if any, ck takes over, also on failure). */
static recur_status set_meta(recur_ckpt *ck, const char *who, const char *key, ckpt_entry value)
{
    recur_status st = check_name(ck, who, key);
    int i = st == RECUR_OK ? recur_ckpt_table_find(&ck->meta, key) : -1;
    if (st == RECUR_OK && i >= 0) {
        ckpt_entry *e = &ck->meta.e[i];
        free(e->s);
        value.name = e->name;
        *e = value;
        return RECUR_OK;
    }
    if (st == RECUR_OK) {
        value.name = strdup(key);
        if (!value.name || recur_ckpt_table_reserve(&ck->meta) != RECUR_OK)
            st = recur_error_set(&ck->error, RECUR_ERR_NOMEM, "%s: metadata \"%s\": out of memory", who, key);
    }
    if (st != RECUR_OK) {
        free(value.name);
        free(value.s);
        return st;
    }
    recur_ckpt_table_push(&ck->meta, value);
    return RECUR_OK;
}

recur_status recur_ckpt_set_int(recur_ckpt *ck, const char *key, int64_t value)
{
    if (!ck) return RECUR_ERR_ARG;
    return set_meta(ck, "ckpt_set_int", key, (ckpt_entry){.type = RECUR_META_INT, .i = value});
}

recur_status recur_ckpt_set_float(recur_ckpt *ck, const char *key, double value)
{
    if (!ck) return RECUR_ERR_ARG;
    return set_meta(ck, "ckpt_set_float", key, (ckpt_entry){.type = RECUR_META_FLOAT, .f = value});
}

recur_status recur_ckpt_set_str(recur_ckpt *ck, const char *key, const char *value)
{
    if (!ck) return RECUR_ERR_ARG;
    if (!value) return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_set_str: metadata \"%s\": the value is NULL", key ? key : "(NULL)");
    size_t len = strlen(value), at;
    if (len > UINT32_MAX)
        return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_set_str: metadata \"%s\": a string of %zu bytes is too long",
                               key ? key : "(NULL)", len);
    const char *why = recur_ckpt_check_text(value, len, 0, &at);
    if (why)
        return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_set_str: metadata \"%s\": the value %s at byte %zu",
                               key ? key : "(NULL)", why, at);
    char *copy = strdup(value);
    if (!copy) return recur_error_set(&ck->error, RECUR_ERR_NOMEM, "ckpt_set_str: out of memory");
    return set_meta(ck, "ckpt_set_str", key, (ckpt_entry){.type = RECUR_META_STR, .s = copy});
}

/* The entry `key` for getter `who`, or NULL after recording why (absent: ARG; another type: FORMAT). */
static const ckpt_entry *get_meta(recur_ckpt *ck, const char *who, const char *key, recur_meta_type want)
{
    int i = recur_ckpt_table_find(&ck->meta, key);
    if (i < 0) {
        recur_error_set(&ck->error, RECUR_ERR_ARG, "%s: no metadata is named \"%s\"", who, key ? key : "(NULL)");
        return NULL;
    }
    const ckpt_entry *e = &ck->meta.e[i];
    int fits = e->type == want || (want == RECUR_META_FLOAT && e->type == RECUR_META_INT);
    if (!fits) {
        recur_error_set(&ck->error, RECUR_ERR_FORMAT, "%s: metadata \"%s\" is a%s %s, not a%s %s", who, key,
                        e->type == RECUR_META_INT ? "n" : "", meta_type_name(e->type),
                        want == RECUR_META_INT ? "n" : "", meta_type_name(want));
        return NULL;
    }
    return e;
}

recur_status recur_ckpt_get_int(recur_ckpt *ck, const char *key, int64_t *out)
{
    if (!ck) return RECUR_ERR_ARG;
    const ckpt_entry *e = get_meta(ck, "ckpt_get_int", key, RECUR_META_INT);
    if (!e) return ck->error.code;
    if (out) *out = e->i;
    return RECUR_OK;
}

recur_status recur_ckpt_get_float(recur_ckpt *ck, const char *key, double *out)
{
    if (!ck) return RECUR_ERR_ARG;
    const ckpt_entry *e = get_meta(ck, "ckpt_get_float", key, RECUR_META_FLOAT);
    if (!e) return ck->error.code;
    if (out) *out = e->type == RECUR_META_INT ? (double)e->i : e->f;
    return RECUR_OK;
}

recur_status recur_ckpt_get_str(recur_ckpt *ck, const char *key, const char **out)
{
    if (!ck) return RECUR_ERR_ARG;
    const ckpt_entry *e = get_meta(ck, "ckpt_get_str", key, RECUR_META_STR);
    if (!e) return ck->error.code;
    if (out) *out = e->s;
    return RECUR_OK;
}

int recur_ckpt_meta_count(const recur_ckpt *ck) { return ck ? ck->meta.n : 0; }

int recur_ckpt_meta_find(const recur_ckpt *ck, const char *key) { return ck ? recur_ckpt_table_find(&ck->meta, key) : -1; }

recur_ckpt_meta recur_ckpt_meta_at(const recur_ckpt *ck, int i)
{
    recur_ckpt_meta m = {0};
    if (!ck || i < 0 || i >= ck->meta.n) return m;
    const ckpt_entry *e = &ck->meta.e[i];
    m.key = e->name;
    m.type = e->type;
    m.i = e->i;
    m.f = e->f;
    m.s = e->s;
    return m;
}
