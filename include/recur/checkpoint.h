/*
 * recur/checkpoint.h — checkpoints: named tensors and metadata saved to and
 * loaded from a versioned binary file, and helpers that save a graph's
 * parameters and restore them by name.
 *
 * A checkpoint is an in-memory object (recur_ckpt) holding named float32
 * tensors and metadata (integer, floating-point and string values: step
 * counts, seeds, data positions, optimizer hyper-parameters), both in the
 * order they were first set. It is saved atomically and loaded with every
 * byte validated:
 *
 *   recur_ckpt *ck = recur_ckpt_from_params(g);
 *   recur_ckpt_set_int(ck, "step", step);
 *   recur_ckpt_set_float(ck, "lr", 1e-3);
 *   if (recur_ckpt_save(ck, "model.ckpt") != RECUR_OK) puts(recur_ckpt_errmsg(ck));
 *   recur_ckpt_free(ck);
 *
 *   if (recur_ckpt_load("model.ckpt", &ck) != RECUR_OK)        // ck carries the reason
 *       fprintf(stderr, "%s\n", recur_ckpt_errmsg(ck));
 *   else if (recur_ckpt_restore_params(g, ck, 1) != RECUR_OK)  // strict: every parameter
 *       fprintf(stderr, "%s\n", recur_errmsg(g));
 *   recur_ckpt_free(ck);
 *
 * File format, version 1. Every integer is little-endian, floats are IEEE
 * 754 binary32 and binary64 stored as the little-endian bytes of their bit
 * patterns; nothing is aligned or padded, so the same content always gives
 * the same bytes.
 *
 *   header    magic    8 bytes  "RECURCKP"
 *             version  u32      1
 *             flags    u32      0 (no flag is defined; a set bit is an error)
 *             count    u64      number of tensors
 *   tensor    name_len u32      1..RECUR_CKPT_MAX_NAME
 *   (count    name     bytes    UTF-8 without NUL or other control characters,
 *    times)                     unique among the tensors
 *             ndim     u32      0..4 (0: a scalar)
 *             dims     u64 x ndim, each >= 1, product <= 2^40
 *             data     f32 x product of dims, row-major
 *   metadata  count    u64      number of entries
 *   entry     key_len  u32      1..RECUR_CKPT_MAX_NAME
 *   (count    key      bytes    as a tensor name, unique among the keys
 *    times)   type     u32      1: int, 2: float, 3: string (recur_meta_type)
 *             value    i64 | f64 | u32 length + UTF-8 bytes without NUL
 *   trailer   crc      u32      CRC-32 (IEEE 802.3, as zlib's crc32) of every
 *                               byte before it; it ends the file
 *
 * Saving is atomic: the file is written to "<path>.tmp.<pid>", flushed and
 * fsync'ed, renamed over `path`, and the directory is fsync'ed. On any
 * failure the file previously at `path` is untouched and the temporary file
 * is removed. A process killed while saving leaves its temporary file; the
 * next recur_ckpt_save or recur_ckpt_load of the same path removes the
 * "<path>.tmp.<pid>" files whose process no longer exists. Loading checks
 * every length and count against the bytes left in the file before
 * allocating, then every name, shape and value, then the checksum, then
 * that every tensor value is finite (a NaN or Inf weight would make every
 * result NaN; RECUR_CKPT_ALLOW_NONFINITE skips this check); a bad file fails
 * with RECUR_ERR_FORMAT (RECUR_ERR_IO when it cannot be read) and a message
 * naming the file, the tensor or entry, the byte offset and what is wrong,
 * e.g.
 *
 *   checkpoint x.ckpt: tensor 3 "lstm.weight_hh_l0": shape [512, 999999999999]
 *   exceeds the file (data at offset 1234 needs 2047999999997952 bytes, 56 remain)
 *
 * Errors of calls on a checkpoint are read with recur_ckpt_errmsg; errors
 * of the graph helpers are recorded on the graph (recur_errmsg).
 */
#ifndef RECUR_CHECKPOINT_H
#define RECUR_CHECKPOINT_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The file format version this build writes and reads. */
#define RECUR_CKPT_VERSION 1

/** The longest tensor name or metadata key, in bytes. */
#define RECUR_CKPT_MAX_NAME 4096

/** Flags of recur_ckpt_load_flags and recur_ckpt_restore_params (or them together). */
#define RECUR_CKPT_STRICT 1u          /**< restore: every parameter must have a tensor */
#define RECUR_CKPT_ALLOW_NONFINITE 2u /**< load, restore: accept NaN and infinite values (no finiteness check) */

/** An opaque checkpoint: named tensors and metadata. */
typedef struct recur_ckpt recur_ckpt;

/** Creates an empty checkpoint. NULL if out of memory. */
RECUR_API recur_ckpt *recur_ckpt_new(void);

/** Frees a checkpoint and everything it holds. NULL is allowed. */
RECUR_API void recur_ckpt_free(recur_ckpt *ck);

/** Status of the most recent failed call on ck, RECUR_OK if none. */
RECUR_API recur_status recur_ckpt_errcode(const recur_ckpt *ck);

/** Message of the most recent failed call on ck ("" if none). Valid until the next failing call. */
RECUR_API const char *recur_ckpt_errmsg(const recur_ckpt *ck);

/* --------------------------------------------------------------- tensors */

/** A read-only view of one tensor of a checkpoint; name is NULL for "no such tensor". */
typedef struct recur_ckpt_tensor {
    const char *name;
    recur_shape shape;
    const float *data; /**< recur_shape_numel(shape) floats, owned by the checkpoint */
} recur_ckpt_tensor;

/**
 * Sets tensor `name` to a copy of `data` (numel(shape) floats): adds it at
 * the end, or replaces the tensor of that name in its place (its shape may
 * change). Names are 1..RECUR_CKPT_MAX_NAME bytes of UTF-8 without control
 * characters; shapes have rank 0..4 and dimensions >= 1 (as graph shapes).
 * RECUR_ERR_ARG or RECUR_ERR_SHAPE on a bad argument (ck is unchanged).
 */
RECUR_API recur_status recur_ckpt_set_tensor(recur_ckpt *ck, const char *name, recur_shape shape, const float *data);

/**
 * Copies tensor `name` into `out` after checking that its shape is `shape`:
 * RECUR_ERR_ARG if there is no such tensor, RECUR_ERR_SHAPE (naming both
 * shapes) if the shapes differ; `out` is written only on success.
 */
RECUR_API recur_status recur_ckpt_get_tensor(recur_ckpt *ck, const char *name, recur_shape shape, float *out);

/** Number of tensors. */
RECUR_API int recur_ckpt_count(const recur_ckpt *ck);

/** Index (0..count-1) of the tensor called `name`, -1 if there is none. */
RECUR_API int recur_ckpt_find(const recur_ckpt *ck, const char *name);

/**
 * Tensor i (0..count-1, in the order first set). Out of range gives a view
 * with name NULL. The view is valid until ck is changed or freed.
 */
RECUR_API recur_ckpt_tensor recur_ckpt_at(const recur_ckpt *ck, int i);

/* -------------------------------------------------------------- metadata */

/** The type of a metadata value; the numbers are those of the file format. */
typedef enum recur_meta_type {
    RECUR_META_INT = 1,   /**< int64_t */
    RECUR_META_FLOAT = 2, /**< double */
    RECUR_META_STR = 3    /**< UTF-8 string without NUL */
} recur_meta_type;

/** A read-only view of one metadata entry; key is NULL for "no such entry". */
typedef struct recur_ckpt_meta {
    const char *key;
    recur_meta_type type;
    int64_t i;     /**< the value of an RECUR_META_INT entry */
    double f;      /**< the value of an RECUR_META_FLOAT entry */
    const char *s; /**< the value of an RECUR_META_STR entry, owned by the checkpoint */
} recur_ckpt_meta;

/**
 * Sets metadata `key` (named like a tensor) to a value: adds it at the end,
 * or replaces the entry of that key in its place (its type may change).
 * Strings must be valid UTF-8 without NUL, up to 2^32 - 1 bytes.
 * RECUR_ERR_ARG on a bad key or string (ck is unchanged).
 */
RECUR_API recur_status recur_ckpt_set_int(recur_ckpt *ck, const char *key, int64_t value);
RECUR_API recur_status recur_ckpt_set_float(recur_ckpt *ck, const char *key, double value);
RECUR_API recur_status recur_ckpt_set_str(recur_ckpt *ck, const char *key, const char *value);

/**
 * Reads metadata `key` into *out: RECUR_ERR_ARG if there is no such entry,
 * RECUR_ERR_FORMAT (naming the type found) if it holds another type.
 * recur_ckpt_get_float also accepts an integer entry and converts it.
 * A string stays owned by the checkpoint (valid until ck changes).
 */
RECUR_API recur_status recur_ckpt_get_int(recur_ckpt *ck, const char *key, int64_t *out);
RECUR_API recur_status recur_ckpt_get_float(recur_ckpt *ck, const char *key, double *out);
RECUR_API recur_status recur_ckpt_get_str(recur_ckpt *ck, const char *key, const char **out);

/** Number of metadata entries. */
RECUR_API int recur_ckpt_meta_count(const recur_ckpt *ck);

/** Index (0..meta_count-1) of the entry called `key`, -1 if there is none. */
RECUR_API int recur_ckpt_meta_find(const recur_ckpt *ck, const char *key);

/** Entry i in the order first set; out of range gives a view with key NULL. Valid until ck changes. */
RECUR_API recur_ckpt_meta recur_ckpt_meta_at(const recur_ckpt *ck, int i);

/* ------------------------------------------------------ saving, loading */

/**
 * Writes ck to `path` atomically (see the top of this header): on failure
 * (RECUR_ERR_IO, naming the file, the step and the system's reason) the
 * file previously at `path` is untouched and no temporary file is left.
 * The one exception is said in its message: the rename succeeded but the
 * directory could not be synced, so the new file is in place but might not
 * survive a crash of the machine. A symbolic link at `path` is replaced by
 * the new file, not followed.
 */
RECUR_API recur_status recur_ckpt_save(recur_ckpt *ck, const char *path);

/**
 * Serializes ck into a new buffer of *len bytes (the exact bytes
 * recur_ckpt_save writes), to be released with free().
 */
RECUR_API recur_status recur_ckpt_save_mem(recur_ckpt *ck, void **buf, size_t *len);

/**
 * Loads the checkpoint file at `path` into a new checkpoint *out. As with
 * sqlite3_open, *out is set in every case but out of memory: on failure it
 * is an empty checkpoint whose recur_ckpt_errmsg says what is wrong
 * (RECUR_ERR_IO: the file cannot be read; RECUR_ERR_FORMAT: it is not a
 * valid checkpoint, or one holding a NaN or an infinity: the message names
 * the tensor, the element and its offset). Free *out in either case.
 * Nothing the caller holds is changed. The file (which must be a regular
 * file) is read once, straight into the tensors' storage.
 */
RECUR_API recur_status recur_ckpt_load(const char *path, recur_ckpt **out);

/** recur_ckpt_load from the `len` bytes at `buf` (messages name the source "(memory)"). */
RECUR_API recur_status recur_ckpt_load_mem(const void *buf, size_t len, recur_ckpt **out);

/**
 * recur_ckpt_load with flags: RECUR_CKPT_ALLOW_NONFINITE accepts tensors
 * holding NaN or infinite values (to inspect a checkpoint whose training
 * diverged, say); 0 is recur_ckpt_load. RECUR_ERR_ARG for another flag.
 */
RECUR_API recur_status recur_ckpt_load_flags(const char *path, unsigned flags, recur_ckpt **out);

/** recur_ckpt_load_mem with flags, as recur_ckpt_load_flags. */
RECUR_API recur_status recur_ckpt_load_mem_flags(const void *buf, size_t len, unsigned flags, recur_ckpt **out);

/* --------------------------------------------------------- graph helpers */

/**
 * A new checkpoint holding a copy of every parameter of g under its name,
 * in creation order. NULL with the reason on g (recur_errmsg).
 */
RECUR_API recur_ckpt *recur_ckpt_from_params(recur_graph *g);

/** recur_ckpt_from_params then recur_ckpt_save; the reason of a failure is recorded on g. */
RECUR_API recur_status recur_ckpt_save_params(recur_graph *g, const char *path);

/**
 * Copies the tensors of ck into the parameters of g with the same names.
 * Every match is checked first — a shape mismatch is RECUR_ERR_SHAPE naming
 * the tensor and both shapes; a tensor holding a NaN or an infinity is
 * RECUR_ERR_FORMAT naming it and the element (unless flags has
 * RECUR_CKPT_ALLOW_NONFINITE); with RECUR_CKPT_STRICT (1, so the `strict`
 * of earlier versions keeps its meaning), a parameter without a tensor is
 * RECUR_ERR_ARG naming it — and only then is any parameter written, so a
 * failed restore changes nothing. Tensors that match no parameter (an
 * optimizer's state, say) are ignored. The reason of a failure is recorded
 * on g.
 */
RECUR_API recur_status recur_ckpt_restore_params(recur_graph *g, const recur_ckpt *ck, int flags);

#ifdef __cplusplus
}
#endif
#endif
