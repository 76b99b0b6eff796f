/*
 * checkpoint/checkpoint_write.c — serializing a checkpoint (the format is in
 * include/recur/checkpoint.h) and saving it atomically:
 *
 *   write "<path>.tmp.<pid>", fflush, fsync the file, rename it over path,
 *   fsync the directory.
 *
 * rename() replaces the directory entry in one step, so a reader (or a
 * crash) sees either the old file or the complete new one, never a part.
 * A save killed before its rename leaves its temporary file; the next save
 * or load of the path removes those of processes that no longer exist.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_impl.h"

/* Writes to a FILE, or into a buffer sized beforehand; keeps the running CRC. */
typedef struct ckpt_writer {
    FILE *f;
    unsigned char *mem;
    uint64_t cap;  /* the size of mem */
    uint64_t pos;
    uint32_t crc;
    int err; /* errno of the first failed write, 0 if none */
} ckpt_writer;

static void w_bytes(ckpt_writer *w, const void *p, size_t n)
{
    if (w->err || n == 0) return;
    w->crc = recur_crc32(w->crc, p, n);
    if (w->f) {
        errno = 0;
        if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
    } else if (n <= w->cap - w->pos) {
        memcpy(w->mem + w->pos, p, n);
    } else {
        w->err = EOVERFLOW; /* serialized_size disagrees with serialize: a bug, but no overrun */
    }
    w->pos += n;
}

static void w_u32(ckpt_writer *w, uint32_t v)
{
    unsigned char b[4];
    recur_put_u32(b, v);
    w_bytes(w, b, 4);
}

static void w_u64(ckpt_writer *w, uint64_t v)
{
    unsigned char b[8];
    recur_put_u64(b, v);
    w_bytes(w, b, 8);
}

/* A name or string: u32 length, then its bytes. */
static void w_str(ckpt_writer *w, const char *s)
{
    size_t len = strlen(s);
    w_u32(w, (uint32_t)len);
    w_bytes(w, s, len);
}

/* n floats as little-endian binary32: as they are on a little-endian host, byte-swapped in chunks otherwise. */
static void w_floats(ckpt_writer *w, const float *x, size_t n)
{
    if (recur_host_le()) {
        w_bytes(w, x, n * sizeof(float));
        return;
    }
    float chunk[1024];
    for (size_t i = 0; i < n; i += 1024) {
        size_t k = n - i < 1024 ? n - i : 1024;
        memcpy(chunk, x + i, k * sizeof(float));
        recur_swap32(chunk, k);
        w_bytes(w, chunk, k * sizeof(float));
    }
}

/* The whole file: header, tensors, metadata, then the CRC of all of it. */
static void serialize(const recur_ckpt *ck, ckpt_writer *w)
{
    w_bytes(w, RECUR_CKPT_MAGIC, RECUR_CKPT_MAGIC_LEN);
    w_u32(w, RECUR_CKPT_VERSION);
    w_u32(w, 0);
    w_u64(w, (uint64_t)ck->tensors.n);
    for (int i = 0; i < ck->tensors.n; i++) {
        const ckpt_entry *e = &ck->tensors.e[i];
        w_str(w, e->name);
        w_u32(w, (uint32_t)e->shape.ndim);
        for (int k = 0; k < e->shape.ndim; k++) w_u64(w, (uint64_t)e->shape.d[k]);
        w_floats(w, e->data, (size_t)recur_shape_numel(e->shape));
    }
    w_u64(w, (uint64_t)ck->meta.n);
    for (int i = 0; i < ck->meta.n; i++) {
        const ckpt_entry *e = &ck->meta.e[i];
        w_str(w, e->name);
        w_u32(w, (uint32_t)e->type);
        if (e->type == RECUR_META_INT) {
            w_u64(w, (uint64_t)e->i);
        } else if (e->type == RECUR_META_FLOAT) {
            uint64_t bits;
            memcpy(&bits, &e->f, sizeof bits);
            w_u64(w, bits);
        } else {
            w_str(w, e->s);
        }
    }
    w_u32(w, w->crc);
}

/* The size in bytes of the serialization. */
static uint64_t serialized_size(const recur_ckpt *ck)
{
    uint64_t n = RECUR_CKPT_MAGIC_LEN + 4 + 4 + 8 + 8 + 4;
    for (int i = 0; i < ck->tensors.n; i++) {
        const ckpt_entry *e = &ck->tensors.e[i];
        n += 4 + strlen(e->name) + 4 + 8 * (uint64_t)e->shape.ndim + 4 * (uint64_t)recur_shape_numel(e->shape);
    }
    for (int i = 0; i < ck->meta.n; i++) {
        const ckpt_entry *e = &ck->meta.e[i];
        n += 4 + strlen(e->name) + 4 + (e->type == RECUR_META_STR ? 4 + strlen(e->s) : 8);
    }
    return n;
}

recur_status recur_ckpt_save_mem(recur_ckpt *ck, void **buf, size_t *len)
{
    if (!ck) return RECUR_ERR_ARG;
    if (!buf || !len) return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_save_mem: buf or len is NULL");
    *buf = NULL;
    *len = 0;
    uint64_t size = serialized_size(ck);
    ckpt_writer w = {.mem = size <= SIZE_MAX ? malloc((size_t)size) : NULL, .cap = size};
    if (!w.mem)
        return recur_error_set(&ck->error, RECUR_ERR_NOMEM, "ckpt_save_mem: out of memory for %llu bytes",
                               (unsigned long long)size);
    serialize(ck, &w);
    if (w.err || w.pos != size) {
        free(w.mem);
        return recur_error_set(&ck->error, RECUR_ERR_STATE, "ckpt_save_mem: internal error: the size was misjudged");
    }
    *buf = w.mem;
    *len = (size_t)size;
    return RECUR_OK;
}

/*
 * fsync of the directory holding `path`, so that the rename itself is on
 * disk. Filesystems that cannot sync a directory answer EINVAL; that is
 * not an error. Returns 0 or an errno.
 */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY), err = 0;
    if (fd < 0) err = errno;
    else if (fsync(fd) != 0 && errno != EINVAL) err = errno;
    if (fd >= 0) close(fd);
    free(dir);
    return err;
}

/* The pid of a temporary file's suffix (all decimal digits, 1..INT_MAX), or 0. */
static pid_t suffix_pid(const char *s)
{
    long long v = 0;
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        v = v * 10 + (*s - '0');
        if (v > INT_MAX) return 0;
    }
    return (pid_t)v;
}

void recur_ckpt_remove_stale(const char *path)
{
    if (!path || !*path) return;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    size_t blen = strlen(base);
    DIR *d = dir && blen ? opendir(dir) : NULL;
    free(dir);
    if (!d) return;
    pid_t self = getpid();
    for (struct dirent *e; (e = readdir(d));) {
        const char *name = e->d_name;
        if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0) continue;
        pid_t pid = suffix_pid(name + blen + 5);
        if (pid <= 0 || pid == self || kill(pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        struct stat sb;
        if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) unlinkat(dirfd(d), name, 0);
    }
    closedir(d);
}

recur_status recur_ckpt_save(recur_ckpt *ck, const char *path)
{
    if (!ck) return RECUR_ERR_ARG;
    if (!path || !*path) return recur_error_set(&ck->error, RECUR_ERR_ARG, "ckpt_save: the path is %s", path ? "empty" : "NULL");
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return recur_error_set(&ck->error, RECUR_ERR_NOMEM, "checkpoint %s: out of memory", path);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    recur_ckpt_remove_stale(path);

    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        free(tmp);
        return recur_error_set(&ck->error, RECUR_ERR_IO, "checkpoint %s: cannot create the temporary file %s.tmp.%ld: %s",
                               path, path, (long)getpid(), strerror(e));
    }
    ckpt_writer w = {.f = f};
    serialize(ck, &w);
    const char *step = "write";
    if (!w.err && fflush(f) != 0) w.err = errno, step = "flush";
    if (!w.err && fsync(fileno(f)) != 0) w.err = errno, step = "fsync";
    if (fclose(f) != 0 && !w.err) w.err = errno, step = "close";
    if (!w.err && rename(tmp, path) != 0) w.err = errno, step = "rename";
    if (w.err) {
        unlink(tmp);
        recur_error_set(&ck->error, RECUR_ERR_IO, "checkpoint %s: cannot %s %s (%llu bytes): %s; the previous file is unchanged",
                        path, step, strcmp(step, "rename") == 0 ? "the temporary file over it" : "the temporary file",
                        (unsigned long long)w.pos, strerror(w.err));
        free(tmp);
        return RECUR_ERR_IO;
    }
    free(tmp);
    int err = sync_dir(path);
    if (err)
        return recur_error_set(&ck->error, RECUR_ERR_IO,
                               "checkpoint %s: the new file is in place, but syncing its directory failed: %s (the "
                               "rename may not survive a crash)",
                               path, strerror(err));
    return RECUR_OK;
}
