/*
 * checkpoint/checkpoint_impl.h — the checkpoint object's representation, shared
 * by the checkpoint's files (private to the library).
 *
 * Tensors and metadata entries live in two tables of the same kind: an
 * array of entries in the order first set, and a hash index from names to
 * positions (open addressing with linear probing, FNV-1a hashes), so that
 * lookups and the duplicate checks of a load stay O(1) even for files with
 * many thousands of entries.
 */
#ifndef RECUR_TRAIN_CHECKPOINT_IMPL_H
#define RECUR_TRAIN_CHECKPOINT_IMPL_H

#include <stdarg.h>
#include <string.h>

#include "graph/error.h"
#include "recur/checkpoint.h"

/* The magic at offset 0, without a terminating NUL in the file. */
#define RECUR_CKPT_MAGIC "RECURCKP"
#define RECUR_CKPT_MAGIC_LEN 8

/* The most elements of a tensor, as for graph shapes. */
#define RECUR_CKPT_MAX_NUMEL ((int64_t)1 << 40)

/* One tensor (name, shape, data) or one metadata entry (name = key, type and value). */
typedef struct ckpt_entry {
    char *name;
    recur_shape shape;     /* tensors */
    float *data;
    recur_meta_type type;  /* metadata */
    int64_t i;
    double f;
    char *s;
} ckpt_entry;

typedef struct ckpt_table {
    ckpt_entry *e;
    int n, cap;
    int32_t *slot;         /* hash index: a position in e, or -1 for an empty slot */
    uint32_t n_slots;      /* a power of two, more than twice n (0 before the first entry) */
} ckpt_table;

struct recur_ckpt {
    ckpt_table tensors;
    ckpt_table meta;
    recur_error error;
};

/* Frees every tensor and entry of ck, keeping its error. */
void recur_ckpt_clear(recur_ckpt *ck);

/* Position of the entry called `name` in t, -1 if there is none. */
int recur_ckpt_table_find(const ckpt_table *t, const char *name);

/* Makes room for one more entry (array and index); RECUR_ERR_NOMEM (nothing changed) if it cannot. */
recur_status recur_ckpt_table_reserve(ckpt_table *t);

/* Appends e (whose allocations t takes over) after a successful reserve; cannot fail. */
void recur_ckpt_table_push(ckpt_table *t, ckpt_entry e);

/*
 * Checks the `len` bytes of a name or string: valid UTF-8 (no overlong
 * forms, surrogates or code points above U+10FFFF) without NUL, and for a
 * name (is_name) without any control character. NULL if good, else what is
 * wrong ("is not valid UTF-8") with the offending byte's index in *at.
 */
const char *recur_ckpt_check_text(const char *s, size_t len, int is_name, size_t *at);

/*
 * Removes the temporary files "<path>.tmp.<pid>" that saves killed midway
 * left beside `path`: those whose pid names no live process (kill(pid, 0)
 * fails with ESRCH). Temporaries of live processes (this one included),
 * names without a decimal pid and anything but regular files are kept;
 * failures are ignored (it is tidying). checkpoint_write.c; recur_ckpt_save
 * and recur_ckpt_load call it.
 */
void recur_ckpt_remove_stale(const char *path);

/*
 * The first element of x[0..n) that is NaN or infinite, or -1 (the finiteness
 * check of loading and restoring, which RECUR_CKPT_ALLOW_NONFINITE skips).
 */
int64_t recur_ckpt_first_nonfinite(const float *x, int64_t n);

/*
 * CRC-32 of IEEE 802.3 (reflected polynomial 0xEDB88320, as zlib's crc32):
 * extends `crc` (0 to start) over n bytes. crc32("123456789") = 0xCBF43926.
 */
uint32_t recur_crc32(uint32_t crc, const void *p, size_t n);

/* ---------------------------------------------- little-endian encoding */

static inline void recur_put_u32(unsigned char *b, uint32_t v)
{
    for (int k = 0; k < 4; k++) b[k] = (unsigned char)(v >> (8 * k));
}

static inline void recur_put_u64(unsigned char *b, uint64_t v)
{
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(v >> (8 * k));
}

static inline uint32_t recur_get_u32(const unsigned char *b)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) v |= (uint32_t)b[k] << (8 * k);
    return v;
}

static inline uint64_t recur_get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)b[k] << (8 * k);
    return v;
}

/* 1 on a little-endian host, where float arrays are already in the file's byte order. */
static inline int recur_host_le(void)
{
    const uint32_t one = 1;
    unsigned char b[4];
    memcpy(b, &one, 4);
    return b[0] == 1;
}

/* Reverses the bytes of each of n 4-byte words in place (big-endian hosts). */
static inline void recur_swap32(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++, b += 4) {
        unsigned char t0 = b[0], t1 = b[1];
        b[0] = b[3], b[1] = b[2], b[2] = t1, b[3] = t0;
    }
}

#endif
