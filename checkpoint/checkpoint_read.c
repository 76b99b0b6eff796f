/*
 * checkpoint/checkpoint_read.c — loading and validating a checkpoint (the format
 * is in include/recur/checkpoint.h).
 *
 * One parser reads from a file or from memory. Every length and count is
 * checked against the bytes left before anything is allocated, so a corrupt
 * or hostile file costs at most a small multiple of its own size; the
 * structure is checked first (its errors say more than a bad checksum
 * would), then the CRC, then (unless RECUR_CKPT_ALLOW_NONFINITE) that
 * every tensor value is finite: a NaN or Inf weight would load and make
 * every later result NaN. A message names the source, the tensor or entry
 * being read, the byte offset and what is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_impl.h"

/* The smallest tensor (1-byte name, rank 0, one float) and metadata entry (1-byte key, an int). */
enum { MIN_TENSOR_BYTES = 4 + 1 + 4 + 4, MIN_ENTRY_BYTES = 4 + 1 + 4 + 8 };

typedef struct ckpt_reader {
    recur_ckpt *ck;
    const char *src;              /* the path, or "(memory)" */
    FILE *f;                      /* the file, or NULL to read mem */
    const unsigned char *mem;
    uint64_t pos, len;
    uint32_t crc;                 /* of the bytes read so far */
    char ctx[320];                /* what is being read ("tensor 3 \"W\""), "" for the header and trailer */
    unsigned flags;               /* RECUR_CKPT_ALLOW_NONFINITE or 0 */
    int bad_tensor;               /* the first tensor holding a NaN or Inf, -1 if none (found as read, reported
                                   * after the checksum, which explains a corrupt file better) */
    int64_t bad_elem;             /* its first such element */
    uint64_t bad_offset;          /* the element's byte offset */
    float bad_value;
} ckpt_reader;

static recur_status bad(ckpt_reader *r, recur_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static recur_status bad(ckpt_reader *r, recur_status code, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return recur_error_set(&r->ck->error, code, "checkpoint %s: %s%s%s", r->src, r->ctx, r->ctx[0] ? ": " : "", msg);
}

static uint64_t left(const ckpt_reader *r) { return r->len - r->pos; }

/* Checks that `what` (n bytes at the current offset) lies inside the file. */
static recur_status need(ckpt_reader *r, uint64_t n, const char *what)
{
    if (n <= left(r)) return RECUR_OK;
    return bad(r, RECUR_ERR_FORMAT, "truncated: %s at offset %" PRIu64 " needs %" PRIu64 " bytes, %" PRIu64 " remain",
               what, r->pos, n, left(r));
}

/* Reads n bytes of `what` into dst (after checking they are there) and extends the CRC. */
static recur_status rd(ckpt_reader *r, void *dst, uint64_t n, const char *what)
{
    recur_status st = need(r, n, what);
    if (st != RECUR_OK || n == 0) return st;
    if (r->f) {
        errno = 0;
        if (fread(dst, 1, (size_t)n, r->f) != (size_t)n) {
            if (ferror(r->f))
                return bad(r, RECUR_ERR_IO, "cannot read %s at offset %" PRIu64 ": %s", what, r->pos,
                           strerror(errno ? errno : EIO));
            return bad(r, RECUR_ERR_IO, "the file ended while reading %s at offset %" PRIu64 " (it changed while being read)",
                       what, r->pos);
        }
    } else {
        memcpy(dst, r->mem + r->pos, (size_t)n);
    }
    r->crc = recur_crc32(r->crc, dst, (size_t)n);
    r->pos += n;
    return RECUR_OK;
}

static recur_status rd_u32(ckpt_reader *r, uint32_t *v, const char *what)
{
    unsigned char b[4];
    recur_status st = rd(r, b, 4, what);
    if (st == RECUR_OK) *v = recur_get_u32(b);
    return st;
}

static recur_status rd_u64(ckpt_reader *r, uint64_t *v, const char *what)
{
    unsigned char b[8];
    recur_status st = rd(r, b, 8, what);
    if (st == RECUR_OK) *v = recur_get_u64(b);
    return st;
}

/*
 * A u32 length and that many bytes of text (a name or key when is_name,
 * else a string value), checked and returned NUL-terminated in *out (the
 * caller frees it).
 */
static recur_status rd_text(ckpt_reader *r, int is_name, const char *what, char **out)
{
    *out = NULL;
    uint64_t at = r->pos;
    uint32_t len;
    char lenwhat[48];
    snprintf(lenwhat, sizeof lenwhat, "the %s length", what);
    recur_status st = rd_u32(r, &len, lenwhat);
    if (st != RECUR_OK) return st;
    if (is_name && len == 0) return bad(r, RECUR_ERR_FORMAT, "empty %s (length 0 at offset %" PRIu64 ")", what, at);
    if (is_name && len > RECUR_CKPT_MAX_NAME)
        return bad(r, RECUR_ERR_FORMAT, "%s length %" PRIu32 " at offset %" PRIu64 " exceeds the limit of %d bytes", what,
                   len, at, RECUR_CKPT_MAX_NAME);
    char thewhat[48];
    snprintf(thewhat, sizeof thewhat, "the %s", what);
    if ((st = need(r, len, thewhat)) != RECUR_OK) return st;
    char *s = malloc((size_t)len + 1);
    if (!s) return bad(r, RECUR_ERR_NOMEM, "out of memory for a %s of %" PRIu32 " bytes", what, len);
    uint64_t start = r->pos;
    if ((st = rd(r, s, len, thewhat)) != RECUR_OK) {
        free(s);
        return st;
    }
    s[len] = 0;
    size_t bad_at;
    const char *why = recur_ckpt_check_text(s, len, is_name, &bad_at);
    if (why) {
        free(s);
        return bad(r, RECUR_ERR_FORMAT, "the %s at offset %" PRIu64 " %s (byte %zu, offset %" PRIu64 ")", what, start,
                   why, bad_at, start + bad_at);
    }
    *out = s;
    return RECUR_OK;
}

/* Sets the context of messages to `kind index "name"`, the name cut to 200 bytes. */
static void set_ctx(ckpt_reader *r, const char *kind, uint64_t index, const char *name)
{
    if (!name) {
        snprintf(r->ctx, sizeof r->ctx, "%s %" PRIu64, kind, index);
        return;
    }
    size_t len = strlen(name), cut = len > 200 ? 200 : len;
    while (cut < len && cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80) cut--; /* keep whole UTF-8 sequences */
    snprintf(r->ctx, sizeof r->ctx, "%s %" PRIu64 " \"%.*s%s\"", kind, index, (int)cut, name, cut < len ? "..." : "");
}

/* "[512, 999999999999]" from raw dimensions, which may exceed int64_t. */
static void dims_str(const uint64_t *d, uint32_t ndim, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (uint32_t k = 0; k < ndim && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, k ? ", %" PRIu64 : "%" PRIu64, d[k]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

static recur_status read_header(ckpt_reader *r, uint64_t *count)
{
    if (r->len == 0) return bad(r, RECUR_ERR_FORMAT, "the file is empty (0 bytes); not a recur checkpoint");
    unsigned char magic[RECUR_CKPT_MAGIC_LEN];
    recur_status st = rd(r, magic, RECUR_CKPT_MAGIC_LEN, "the magic \"" RECUR_CKPT_MAGIC "\"");
    if (st != RECUR_OK) return st;
    if (memcmp(magic, RECUR_CKPT_MAGIC, RECUR_CKPT_MAGIC_LEN) != 0) {
        char hex[3 * RECUR_CKPT_MAGIC_LEN + 1];
        for (int k = 0; k < RECUR_CKPT_MAGIC_LEN; k++) snprintf(hex + 3 * k, 4, "%02x ", magic[k]);
        hex[3 * RECUR_CKPT_MAGIC_LEN - 1] = 0;
        return bad(r, RECUR_ERR_FORMAT, "not a recur checkpoint: it starts with bytes %s, not the magic \"%s\"", hex,
                   RECUR_CKPT_MAGIC);
    }
    uint32_t version, flags;
    if ((st = rd_u32(r, &version, "the version")) != RECUR_OK) return st;
    if (version > RECUR_CKPT_VERSION)
        return bad(r, RECUR_ERR_FORMAT, "version %" PRIu32 " (offset 8) is newer than this build of recur reads (%d)",
                   version, RECUR_CKPT_VERSION);
    if (version == 0) return bad(r, RECUR_ERR_FORMAT, "version 0 (offset 8) is not a checkpoint version");
    if ((st = rd_u32(r, &flags, "the flags")) != RECUR_OK) return st;
    if (flags != 0)
        return bad(r, RECUR_ERR_FORMAT, "unknown flags 0x%08" PRIx32 " (offset 12); version %d defines none", flags,
                   RECUR_CKPT_VERSION);
    uint64_t at = r->pos;
    if ((st = rd_u64(r, count, "the tensor count")) != RECUR_OK) return st;
    /* After the tensors come at least a metadata count (8 bytes) and the checksum (4). */
    uint64_t room = left(r) > 12 ? left(r) - 12 : 0;
    if (*count > room / MIN_TENSOR_BYTES)
        return bad(r, RECUR_ERR_FORMAT,
                   "tensor count %" PRIu64 " (offset %" PRIu64 ") exceeds the file: a tensor takes at least %d bytes "
                   "and %" PRIu64 " remain for them",
                   *count, at, MIN_TENSOR_BYTES, room);
    return RECUR_OK;
}

static recur_status read_tensor(ckpt_reader *r, uint64_t index)
{
    ckpt_entry e = {0};
    set_ctx(r, "tensor", index, NULL);
    recur_status st = rd_text(r, 1, "name", &e.name);
    if (st != RECUR_OK) return st;
    set_ctx(r, "tensor", index, e.name);
    int other = recur_ckpt_table_find(&r->ck->tensors, e.name);
    uint64_t at = r->pos;
    uint32_t ndim;
    uint64_t d[RECUR_MAX_DIMS];
    char shp[128];
    if (other >= 0) st = bad(r, RECUR_ERR_FORMAT, "duplicate name (tensor %d has it too)", other);
    if (st == RECUR_OK) st = rd_u32(r, &ndim, "the rank");
    if (st == RECUR_OK && ndim > RECUR_MAX_DIMS)
        st = bad(r, RECUR_ERR_FORMAT, "rank %" PRIu32 " (offset %" PRIu64 ") exceeds the maximum of %d", ndim, at,
                 RECUR_MAX_DIMS);
    for (uint32_t k = 0; st == RECUR_OK && k < ndim; k++) {
        at = r->pos;
        st = rd_u64(r, &d[k], "a dimension");
        if (st == RECUR_OK && d[k] == 0)
            st = bad(r, RECUR_ERR_FORMAT, "dimension %" PRIu32 " is 0 (offset %" PRIu64 "); dimensions are >= 1", k, at);
    }
    if (st != RECUR_OK) {
        free(e.name);
        return st;
    }
    /* bytes = 4 * product of dims, saturated at UINT64_MAX, then checked against the bytes left. */
    uint64_t numel = 1, bytes;
    int overflow = 0;
    for (uint32_t k = 0; k < ndim; k++) {
        if (numel > UINT64_MAX / d[k]) overflow = 1;
        numel = overflow ? UINT64_MAX : numel * d[k];
    }
    overflow |= numel > UINT64_MAX / 4;
    bytes = overflow ? UINT64_MAX : 4 * numel;
    dims_str(d, ndim, shp, sizeof shp);
    if (bytes > left(r)) {
        char need_str[48];
        if (overflow) snprintf(need_str, sizeof need_str, "more than 2^64");
        else snprintf(need_str, sizeof need_str, "%" PRIu64, bytes);
        st = bad(r, RECUR_ERR_FORMAT,
                 "shape %s exceeds the file (data at offset %" PRIu64 " needs %s bytes, %" PRIu64 " remain)", shp,
                 r->pos, need_str, left(r));
    } else if (numel > (uint64_t)RECUR_CKPT_MAX_NUMEL) {
        st = bad(r, RECUR_ERR_FORMAT, "shape %s has more than 2^40 elements", shp);
    }
    if (st == RECUR_OK && !(e.data = malloc((size_t)bytes)))
        st = bad(r, RECUR_ERR_NOMEM, "out of memory for shape %s (%" PRIu64 " bytes)", shp, bytes);
    if (st == RECUR_OK) st = rd(r, e.data, bytes, "the data");
    if (st == RECUR_OK && recur_ckpt_table_reserve(&r->ck->tensors) != RECUR_OK)
        st = bad(r, RECUR_ERR_NOMEM, "out of memory");
    if (st != RECUR_OK) {
        free(e.name);
        free(e.data);
        return st;
    }
    if (!recur_host_le()) recur_swap32(e.data, (size_t)numel);
    if (r->bad_tensor < 0 && !(r->flags & RECUR_CKPT_ALLOW_NONFINITE)) {
        int64_t k = recur_ckpt_first_nonfinite(e.data, (int64_t)numel);
        if (k >= 0) {
            r->bad_tensor = r->ck->tensors.n;
            r->bad_elem = k;
            r->bad_offset = r->pos - bytes + 4 * (uint64_t)k;
            r->bad_value = e.data[k];
        }
    }
    e.shape.ndim = (int)ndim;
    for (uint32_t k = 0; k < ndim; k++) e.shape.d[k] = (int64_t)d[k];
    recur_ckpt_table_push(&r->ck->tensors, e);
    return RECUR_OK;
}

static recur_status read_entry(ckpt_reader *r, uint64_t index)
{
    ckpt_entry e = {0};
    set_ctx(r, "metadata", index, NULL);
    recur_status st = rd_text(r, 1, "key", &e.name);
    if (st != RECUR_OK) return st;
    set_ctx(r, "metadata", index, e.name);
    int other = recur_ckpt_table_find(&r->ck->meta, e.name);
    uint64_t at = r->pos, bits = 0;
    uint32_t type = 0;
    if (other >= 0) st = bad(r, RECUR_ERR_FORMAT, "duplicate key (metadata %d has it too)", other);
    if (st == RECUR_OK) st = rd_u32(r, &type, "the type");
    if (st == RECUR_OK) {
        switch (type) {
        case RECUR_META_INT:
        case RECUR_META_FLOAT: st = rd_u64(r, &bits, "the value"); break;
        case RECUR_META_STR: st = rd_text(r, 0, "string value", &e.s); break;
        default:
            st = bad(r, RECUR_ERR_FORMAT,
                     "unknown type %" PRIu32 " (offset %" PRIu64 "); the types are 1 (int), 2 (float), 3 (string)", type,
                     at);
        }
    }
    if (st == RECUR_OK && recur_ckpt_table_reserve(&r->ck->meta) != RECUR_OK) st = bad(r, RECUR_ERR_NOMEM, "out of memory");
    if (st != RECUR_OK) {
        free(e.name);
        free(e.s);
        return st;
    }
    e.type = (recur_meta_type)type;
    if (type == RECUR_META_INT) e.i = (int64_t)bits; /* two's complement, as every C11 platform recur runs on */
    if (type == RECUR_META_FLOAT) memcpy(&e.f, &bits, sizeof e.f);
    recur_ckpt_table_push(&r->ck->meta, e);
    return RECUR_OK;
}

static recur_status read_all(ckpt_reader *r)
{
    uint64_t count = 0;
    recur_status st = read_header(r, &count);
    for (uint64_t i = 0; st == RECUR_OK && i < count; i++) st = read_tensor(r, i);
    if (st != RECUR_OK) return st;
    r->ctx[0] = 0;
    uint64_t at = r->pos;
    if ((st = rd_u64(r, &count, "the metadata count")) != RECUR_OK) return st;
    uint64_t room = left(r) > 4 ? left(r) - 4 : 0;
    if (count > room / MIN_ENTRY_BYTES)
        return bad(r, RECUR_ERR_FORMAT,
                   "metadata count %" PRIu64 " (offset %" PRIu64 ") exceeds the file: an entry takes at least %d bytes "
                   "and %" PRIu64 " remain for them",
                   count, at, MIN_ENTRY_BYTES, room);
    for (uint64_t i = 0; st == RECUR_OK && i < count; i++) st = read_entry(r, i);
    if (st != RECUR_OK) return st;
    r->ctx[0] = 0;
    if (left(r) > 4)
        return bad(r, RECUR_ERR_FORMAT,
                   "%" PRIu64 " unexpected bytes after the metadata at offset %" PRIu64
                   " (the 4-byte checksum must end the file)",
                   left(r) - 4, r->pos);
    uint32_t computed = r->crc, stored;
    at = r->pos;
    if ((st = rd_u32(r, &stored, "the checksum")) != RECUR_OK) return st;
    if (stored != computed)
        return bad(r, RECUR_ERR_FORMAT,
                   "checksum mismatch: the file stores 0x%08" PRIx32 " at offset %" PRIu64 " but its first %" PRIu64
                   " bytes give 0x%08" PRIx32 "; the file is corrupt",
                   stored, at, at, computed);
    if (r->bad_tensor >= 0) {
        const ckpt_entry *e = &r->ck->tensors.e[r->bad_tensor];
        set_ctx(r, "tensor", (uint64_t)r->bad_tensor, e->name);
        return bad(r, RECUR_ERR_FORMAT,
                   "element %" PRId64 " (offset %" PRIu64 ") is %g: the values of a checkpoint must be finite (load "
                   "with RECUR_CKPT_ALLOW_NONFINITE to accept it)",
                   r->bad_elem, r->bad_offset, (double)r->bad_value);
    }
    return RECUR_OK;
}

/* Parses into a new checkpoint *out; on failure it is left empty with the reason. */
static recur_status load(ckpt_reader *r, recur_ckpt **out)
{
    recur_status st = read_all(r);
    if (st != RECUR_OK) recur_ckpt_clear(r->ck);
    *out = r->ck;
    return st;
}

recur_status recur_ckpt_load_mem(const void *buf, size_t len, recur_ckpt **out)
{
    return recur_ckpt_load_mem_flags(buf, len, 0, out);
}

recur_status recur_ckpt_load(const char *path, recur_ckpt **out) { return recur_ckpt_load_flags(path, 0, out); }

/* Only the flags loading knows; any other bit is an error. */
static recur_status check_load_flags(ckpt_reader *r, unsigned flags)
{
    if (flags & ~RECUR_CKPT_ALLOW_NONFINITE)
        return bad(r, RECUR_ERR_ARG, "unknown load flags 0x%x (loading knows RECUR_CKPT_ALLOW_NONFINITE only)", flags);
    r->flags = flags;
    return RECUR_OK;
}

recur_status recur_ckpt_load_mem_flags(const void *buf, size_t len, unsigned flags, recur_ckpt **out)
{
    if (!out) return RECUR_ERR_ARG;
    ckpt_reader r = {.ck = recur_ckpt_new(), .src = "(memory)", .mem = buf, .len = len, .bad_tensor = -1};
    if (!(*out = r.ck)) return RECUR_ERR_NOMEM;
    if (!buf && len > 0) return bad(&r, RECUR_ERR_ARG, "the buffer is NULL");
    if (check_load_flags(&r, flags) != RECUR_OK) return RECUR_ERR_ARG;
    return load(&r, out);
}

recur_status recur_ckpt_load_flags(const char *path, unsigned flags, recur_ckpt **out)
{
    if (!out) return RECUR_ERR_ARG;
    ckpt_reader r = {.ck = recur_ckpt_new(), .src = path ? path : "(NULL)", .bad_tensor = -1};
    if (!(*out = r.ck)) return RECUR_ERR_NOMEM;
    if (!path) return bad(&r, RECUR_ERR_ARG, "the path is NULL");
    if (check_load_flags(&r, flags) != RECUR_OK) return RECUR_ERR_ARG;
    recur_ckpt_remove_stale(path);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below like any non-regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return bad(&r, RECUR_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    recur_status st = RECUR_OK;
    if (fstat(fd, &sb) != 0) st = bad(&r, RECUR_ERR_IO, "cannot stat: %s", strerror(errno));
    else if (!S_ISREG(sb.st_mode)) st = bad(&r, RECUR_ERR_IO, "not a regular file");
    else if (!(r.f = fdopen(fd, "rb"))) st = bad(&r, RECUR_ERR_IO, "cannot open: %s", strerror(errno));
    if (st != RECUR_OK) {
        close(fd);
        return st;
    }
    r.len = (uint64_t)sb.st_size;
    st = load(&r, out);
    fclose(r.f);
    return st;
}
