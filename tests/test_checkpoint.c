/*
 * tests/test_checkpoint.c — checkpoints: the file format against bytes
 * encoded here by hand (with an independent bitwise CRC-32), bitwise round
 * trips of tensors and metadata, parameter save/restore between graphs,
 * restore errors that change nothing, corrupt files (every truncation,
 * every flipped bit, and a named set of damaged fields, some committed in
 * tests/data/corrupt/), and atomic saves that fail without harming the
 * previous file.
 *
 * RECUR_CKPT_WRITE_CORRUPT=<dir> makes the corrupt-file test write the
 * committed files into <dir> (how tests/data/corrupt/ was made).
 */
#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];

/* --------------------------------------------------------- byte buffers */

typedef struct buf {
    unsigned char *b;
    size_t n, cap;
} buf;

static void b_put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = 2 * (o->n + n) + 64;
        o->b = realloc(o->b, o->cap);
        assert_non_null(o->b);
    }
    if (n) memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void b_u32(buf *o, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    b_put(o, b, 4);
}

static void b_u64(buf *o, uint64_t v)
{
    b_u32(o, (uint32_t)v);
    b_u32(o, (uint32_t)(v >> 32));
}

static void b_str(buf *o, const char *s)
{
    b_u32(o, (uint32_t)strlen(s));
    b_put(o, s, strlen(s));
}

static void set_u32(buf *o, size_t at, uint32_t v)
{
    for (int k = 0; k < 4; k++) o->b[at + (size_t)k] = (unsigned char)(v >> (8 * k));
}

static void set_u64(buf *o, size_t at, uint64_t v)
{
    for (int k = 0; k < 8; k++) o->b[at + (size_t)k] = (unsigned char)(v >> (8 * k));
}

static buf b_copy(const buf *a)
{
    buf o = {0};
    b_put(&o, a->b, a->n);
    return o;
}

/* The oracle CRC-32: the bitwise division by the reflected polynomial 0xEDB88320, preset and inverted. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return ~c;
}

static void fix_crc(buf *o) { set_u32(o, o->n - 4, crc_bitwise(o->b, o->n - 4)); }

static buf read_file(const char *path)
{
    buf o = {0};
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    unsigned char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) b_put(&o, chunk, k);
    fclose(f);
    return o;
}

static void write_file(const char *path, const buf *o)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(o->b, 1, o->n, f), o->n);
    assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------ the base checkpoint */

/* Four tensors with special float values (given as bit patterns) and five metadata entries. */
enum { NT = 4, NM = 5 };

typedef struct tdesc {
    const char *name;
    recur_shape shape;
    uint32_t bits[8];
} tdesc;

static const tdesc base_t[NT] = {
    /* 1.5, -2, -0, the smallest denormal, +inf, a NaN with a payload */
    {"embed.weight", {2, {3, 2}}, {0x3fc00000u, 0xc0000000u, 0x80000000u, 0x00000001u, 0x7f800000u, 0x7fc00123u}},
    {"lstm.bias_l0", {3, {2, 1, 2}}, {0x3e800000u, 0xbf800000u, 0x42f60000u, 0x33d6bf95u}},
    {"scale", {0, {0}}, {0x40490fdbu}},
    {"d\xc3\xa9" "codeur.\xce\xb2", {4, {1, 2, 1, 2}}, {0xff800000u, 0x3f800001u, 0x00800000u, 0x7f7fffffu}},
};

typedef struct mdesc {
    const char *key;
    recur_meta_type type;
    int64_t i;
    double f;
    const char *s;
} mdesc;

static const mdesc base_m[NM] = {
    {"step", RECUR_META_INT, 1234567890123, 0, NULL},
    {"seed", RECUR_META_INT, -7, 0, NULL},
    {"lr", RECUR_META_FLOAT, 0, 1e-3, NULL},
    {"corpus", RECUR_META_STR, 0, 0, "sherlock.txt"},
    {"note", RECUR_META_STR, 0, 0, ""},
};

/* Byte offsets of every field of the base file, as the format in recur/checkpoint.h lays them out. */
typedef struct layout {
    size_t magic, version, flags, count;
    size_t name_len[NT], name[NT], ndim[NT], dims[NT], data[NT];
    size_t meta_count, key_len[NM], key[NM], type[NM], value[NM];
    size_t crc, end;
} layout;

/* The base file encoded by hand from the format's description (the oracle for the writer). */
static buf encode_base(layout *L)
{
    buf o = {0};
    L->magic = o.n;
    b_put(&o, "RECURCKP", 8);
    L->version = o.n;
    b_u32(&o, 1);
    L->flags = o.n;
    b_u32(&o, 0);
    L->count = o.n;
    b_u64(&o, NT);
    for (int t = 0; t < NT; t++) {
        L->name_len[t] = o.n;
        L->name[t] = o.n + 4;
        b_str(&o, base_t[t].name);
        L->ndim[t] = o.n;
        b_u32(&o, (uint32_t)base_t[t].shape.ndim);
        L->dims[t] = o.n;
        for (int k = 0; k < base_t[t].shape.ndim; k++) b_u64(&o, (uint64_t)base_t[t].shape.d[k]);
        L->data[t] = o.n;
        for (int64_t k = 0; k < recur_shape_numel(base_t[t].shape); k++) b_u32(&o, base_t[t].bits[k]);
    }
    L->meta_count = o.n;
    b_u64(&o, NM);
    for (int m = 0; m < NM; m++) {
        L->key_len[m] = o.n;
        L->key[m] = o.n + 4;
        b_str(&o, base_m[m].key);
        L->type[m] = o.n;
        b_u32(&o, (uint32_t)base_m[m].type);
        L->value[m] = o.n;
        if (base_m[m].type == RECUR_META_INT) {
            b_u64(&o, (uint64_t)base_m[m].i);
        } else if (base_m[m].type == RECUR_META_FLOAT) {
            uint64_t bits;
            memcpy(&bits, &base_m[m].f, 8);
            b_u64(&o, bits);
        } else {
            b_str(&o, base_m[m].s);
        }
    }
    L->crc = o.n;
    b_u32(&o, crc_bitwise(o.b, o.n));
    L->end = o.n;
    return o;
}

/* The base content built through the API. */
static recur_ckpt *make_base(void)
{
    recur_ckpt *ck = recur_ckpt_new();
    assert_non_null(ck);
    for (int t = 0; t < NT; t++) {
        float x[8];
        memcpy(x, base_t[t].bits, sizeof x);
        assert_int_equal(recur_ckpt_set_tensor(ck, base_t[t].name, base_t[t].shape, x), RECUR_OK);
    }
    for (int m = 0; m < NM; m++) {
        recur_status st = base_m[m].type == RECUR_META_INT     ? recur_ckpt_set_int(ck, base_m[m].key, base_m[m].i)
                          : base_m[m].type == RECUR_META_FLOAT ? recur_ckpt_set_float(ck, base_m[m].key, base_m[m].f)
                                                               : recur_ckpt_set_str(ck, base_m[m].key, base_m[m].s);
        assert_int_equal(st, RECUR_OK);
    }
    return ck;
}

/* Asserts that ck holds exactly the base content, bit for bit and in order. */
static void assert_base(const recur_ckpt *ck)
{
    assert_int_equal(recur_ckpt_count(ck), NT);
    for (int t = 0; t < NT; t++) {
        recur_ckpt_tensor v = recur_ckpt_at(ck, t);
        assert_non_null(v.name);
        assert_string_equal(v.name, base_t[t].name);
        assert_true(recur_shape_equal(v.shape, base_t[t].shape));
        assert_memory_equal(v.data, base_t[t].bits, 4 * (size_t)recur_shape_numel(v.shape));
        assert_int_equal(recur_ckpt_find(ck, base_t[t].name), t);
    }
    assert_int_equal(recur_ckpt_meta_count(ck), NM);
    for (int m = 0; m < NM; m++) {
        recur_ckpt_meta e = recur_ckpt_meta_at(ck, m);
        assert_non_null(e.key);
        assert_string_equal(e.key, base_m[m].key);
        assert_int_equal(e.type, base_m[m].type);
        if (e.type == RECUR_META_INT) assert_true(e.i == base_m[m].i);
        if (e.type == RECUR_META_FLOAT) assert_memory_equal(&e.f, &base_m[m].f, sizeof e.f);
        if (e.type == RECUR_META_STR) assert_string_equal(e.s, base_m[m].s);
    }
}

static void assert_contains(const char *msg, const char *fragment)
{
    if (!strstr(msg, fragment)) fail_msg("message \"%s\" lacks \"%s\"", msg, fragment);
}

static const char *tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
    return out;
}

/* Number of entries of tmpdir whose name contains ".tmp." (left-over temporary files). */
static int count_temp_files(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------ the format */

static void test_crc_oracle(void **state)
{
    (void)state;
    /* The published check value of CRC-32/ISO-HDLC. */
    assert_int_equal(crc_bitwise((const unsigned char *)"123456789", 9), 0xcbf43926u);
}

/* The writer produces the hand-encoded bytes, and the reader reads them back exactly. */
static void test_format_matches_hand_encoding(void **state)
{
    (void)state;
    layout L;
    buf want = encode_base(&L);
    recur_ckpt *ck = make_base();
    void *bytes;
    size_t len;
    assert_int_equal(recur_ckpt_save_mem(ck, &bytes, &len), RECUR_OK);
    assert_int_equal(len, want.n);
    assert_memory_equal(bytes, want.b, len);
    free(bytes);
    recur_ckpt_free(ck);

    assert_int_equal(recur_ckpt_load_mem_flags(want.b, want.n, RECUR_CKPT_ALLOW_NONFINITE, &ck), RECUR_OK);
    assert_base(ck);
    assert_string_equal(recur_ckpt_errmsg(ck), "");
    recur_ckpt_free(ck);
    free(want.b);
}

/* The committed version-1 file still loads to the same content and is what this build writes. */
static void test_committed_base_file(void **state)
{
    (void)state;
    layout L;
    buf want = encode_base(&L), got = read_file(tu_data_path("corrupt/base.ckpt"));
    assert_int_equal(got.n, want.n);
    assert_memory_equal(got.b, want.b, got.n);
    recur_ckpt *ck;
    assert_int_equal(recur_ckpt_load_flags(tu_data_path("corrupt/base.ckpt"), RECUR_CKPT_ALLOW_NONFINITE, &ck), RECUR_OK);
    assert_base(ck);
    recur_ckpt_free(ck);
    free(want.b);
    free(got.b);
}

/* ------------------------------------------------------------ round trips */

static void test_round_trip_file(void **state)
{
    (void)state;
    char path[128];
    recur_ckpt *ck = make_base();
    /* A larger tensor too, so the data is more than a few bytes. */
    enum { R = 37, C = 53 };
    static float big[R * C];
    tu_fill_uniform(big, R * C, -3, 3, 7);
    assert_int_equal(recur_ckpt_set_tensor(ck, "big", recur_shape2(R, C), big), RECUR_OK);
    assert_int_equal(recur_ckpt_save(ck, tmp_path(path, sizeof path, "round.ckpt")), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(count_temp_files(), 0);

    assert_int_equal(recur_ckpt_load_flags(path, RECUR_CKPT_ALLOW_NONFINITE, &ck), RECUR_OK);
    assert_int_equal(recur_ckpt_count(ck), NT + 1);
    recur_ckpt_tensor v = recur_ckpt_at(ck, NT);
    assert_string_equal(v.name, "big");
    assert_true(recur_shape_equal(v.shape, recur_shape2(R, C)));
    assert_memory_equal(v.data, big, sizeof big);
    /* Typed getters. */
    static float back[R * C];
    assert_int_equal(recur_ckpt_get_tensor(ck, "big", recur_shape2(R, C), back), RECUR_OK);
    assert_memory_equal(back, big, sizeof big);
    int64_t i;
    double f;
    const char *s;
    assert_int_equal(recur_ckpt_get_int(ck, "step", &i), RECUR_OK);
    assert_true(i == 1234567890123);
    assert_int_equal(recur_ckpt_get_int(ck, "seed", &i), RECUR_OK);
    assert_true(i == -7);
    assert_int_equal(recur_ckpt_get_float(ck, "lr", &f), RECUR_OK);
    assert_true(f == 1e-3);
    assert_int_equal(recur_ckpt_get_float(ck, "step", &f), RECUR_OK); /* an int read as a float */
    assert_true(f == 1234567890123.0);
    assert_int_equal(recur_ckpt_get_str(ck, "corpus", &s), RECUR_OK);
    assert_string_equal(s, "sherlock.txt");
    /* Absent and mistyped entries, and a tensor read with the wrong shape. */
    assert_int_equal(recur_ckpt_get_int(ck, "epoch", &i), RECUR_ERR_ARG);
    assert_contains(recur_ckpt_errmsg(ck), "\"epoch\"");
    assert_int_equal(recur_ckpt_get_int(ck, "corpus", &i), RECUR_ERR_FORMAT);
    assert_contains(recur_ckpt_errmsg(ck), "metadata \"corpus\" is a string, not an int");
    assert_int_equal(recur_ckpt_get_str(ck, "lr", &s), RECUR_ERR_FORMAT);
    assert_contains(recur_ckpt_errmsg(ck), "is a float, not a string");
    back[0] = 42;
    assert_int_equal(recur_ckpt_get_tensor(ck, "big", recur_shape2(C, R), back), RECUR_ERR_SHAPE);
    assert_contains(recur_ckpt_errmsg(ck), "tensor \"big\" has shape [37, 53], expected [53, 37]");
    assert_true(back[0] == 42);
    assert_int_equal(recur_ckpt_get_tensor(ck, "small", recur_shape1(1), back), RECUR_ERR_ARG);
    assert_contains(recur_ckpt_errmsg(ck), "no tensor is named \"small\"");
    /* Out-of-range views. */
    assert_null(recur_ckpt_at(ck, -1).name);
    assert_null(recur_ckpt_at(ck, NT + 1).name);
    assert_null(recur_ckpt_meta_at(ck, NM).key);
    assert_int_equal(recur_ckpt_find(ck, "nope"), -1);
    recur_ckpt_free(ck);
}

/* Setting an existing name replaces it in place (shape and type may change); an empty checkpoint round-trips. */
static void test_set_replaces_in_place(void **state)
{
    (void)state;
    recur_ckpt *ck = make_base();
    const float y[3] = {7, 8, 9};
    assert_int_equal(recur_ckpt_set_tensor(ck, "lstm.bias_l0", recur_shape1(3), y), RECUR_OK);
    assert_int_equal(recur_ckpt_set_str(ck, "step", "done"), RECUR_OK);
    assert_int_equal(recur_ckpt_count(ck), NT);
    assert_int_equal(recur_ckpt_meta_count(ck), NM);
    void *bytes;
    size_t len;
    assert_int_equal(recur_ckpt_save_mem(ck, &bytes, &len), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load_mem_flags(bytes, len, RECUR_CKPT_ALLOW_NONFINITE, &ck), RECUR_OK);
    free(bytes);
    recur_ckpt_tensor v = recur_ckpt_at(ck, 1);
    assert_string_equal(v.name, "lstm.bias_l0");
    assert_true(recur_shape_equal(v.shape, recur_shape1(3)));
    assert_memory_equal(v.data, y, sizeof y);
    recur_ckpt_meta m = recur_ckpt_meta_at(ck, 0);
    assert_string_equal(m.key, "step");
    assert_int_equal(m.type, RECUR_META_STR);
    assert_string_equal(m.s, "done");
    recur_ckpt_free(ck);

    /* Empty: header, two zero counts and the CRC. */
    ck = recur_ckpt_new();
    assert_int_equal(recur_ckpt_save_mem(ck, &bytes, &len), RECUR_OK);
    assert_int_equal(len, 8 + 4 + 4 + 8 + 8 + 4);
    assert_int_equal(crc_bitwise(bytes, len - 4), (uint32_t)((unsigned char *)bytes)[len - 4] |
                                                       (uint32_t)((unsigned char *)bytes)[len - 3] << 8 |
                                                       (uint32_t)((unsigned char *)bytes)[len - 2] << 16 |
                                                       (uint32_t)((unsigned char *)bytes)[len - 1] << 24);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load_mem(bytes, len, &ck), RECUR_OK);
    assert_int_equal(recur_ckpt_count(ck), 0);
    assert_int_equal(recur_ckpt_meta_count(ck), 0);
    recur_ckpt_free(ck);
    free(bytes);
}

/* Bad names, shapes and values are refused and leave the checkpoint as it was. */
static void test_set_rejects_bad_arguments(void **state)
{
    (void)state;
    recur_ckpt *ck = make_base();
    const float x[4] = {0};
    char longname[RECUR_CKPT_MAX_NAME + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct {
        const char *name;
        recur_shape shape;
        recur_status code;
        const char *fragment;
    } cases[] = {
        {"", recur_shape1(1), RECUR_ERR_ARG, "the name is empty"},
        {NULL, recur_shape1(1), RECUR_ERR_ARG, "the name is NULL"},
        {"tab\there", recur_shape1(1), RECUR_ERR_ARG, "contains a control character at byte 3"},
        {"bad\xc0\xafutf8", recur_shape1(1), RECUR_ERR_ARG, "is not valid UTF-8 at byte 3"},
        {"surrogate\xed\xa0\x80", recur_shape1(1), RECUR_ERR_ARG, "is not valid UTF-8"},
        {longname, recur_shape1(1), RECUR_ERR_ARG, "longer than the limit of 4096 bytes"},
        {"w", recur_shape2(2, 0), RECUR_ERR_SHAPE, "tensor \"w\": invalid shape [2, 0]"},
        {"w", {5, {1, 1, 1, 1}}, RECUR_ERR_SHAPE, "invalid shape"},
        {"w", recur_shape2((int64_t)1 << 30, (int64_t)1 << 30), RECUR_ERR_SHAPE, "at most 2^40 elements"},
        /* 2^30 * 2^40 overflowed int64 in the check itself (undefined behaviour; UBSan flags it) */
        {"w", recur_shape2((int64_t)1 << 30, (int64_t)1 << 40), RECUR_ERR_SHAPE, "at most 2^40 elements"},
        {"w", recur_shape4(65536, 65536, 65536, 65536), RECUR_ERR_SHAPE, "at most 2^40 elements"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(recur_ckpt_set_tensor(ck, cases[c].name, cases[c].shape, x), cases[c].code);
        assert_contains(recur_ckpt_errmsg(ck), cases[c].fragment);
        assert_int_equal(recur_ckpt_errcode(ck), cases[c].code);
    }
    assert_int_equal(recur_ckpt_set_tensor(ck, "w", recur_shape1(4), NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_ckpt_set_int(ck, "a\nb", 1), RECUR_ERR_ARG);
    assert_int_equal(recur_ckpt_set_str(ck, "s", "\xff"), RECUR_ERR_ARG);
    assert_contains(recur_ckpt_errmsg(ck), "metadata \"s\": the value is not valid UTF-8 at byte 0");
    assert_int_equal(recur_ckpt_set_str(ck, "s", NULL), RECUR_ERR_ARG);
    assert_base(ck);
    /* Control characters are fine inside string values; U+1F600 is fine in a name. */
    assert_int_equal(recur_ckpt_set_str(ck, "cmd", "line one\nline two"), RECUR_OK);
    assert_int_equal(recur_ckpt_set_tensor(ck, "smile.\xf0\x9f\x98\x80", recur_shape0(), x), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_set_int(NULL, "x", 1), RECUR_ERR_ARG);
    assert_string_equal(recur_ckpt_errmsg(NULL), "no checkpoint (NULL)");
}

/* Many tensors: the name index finds every one, and a file of thousands loads quickly. */
static void test_many_tensors(void **state)
{
    (void)state;
    enum { N = 5000 };
    recur_ckpt *ck = recur_ckpt_new();
    char name[32];
    for (int i = 0; i < N; i++) {
        float x = (float)i;
        snprintf(name, sizeof name, "t%d", i);
        assert_int_equal(recur_ckpt_set_tensor(ck, name, recur_shape0(), &x), RECUR_OK);
        snprintf(name, sizeof name, "m%d", i);
        assert_int_equal(recur_ckpt_set_int(ck, name, -i), RECUR_OK);
    }
    void *bytes;
    size_t len;
    assert_int_equal(recur_ckpt_save_mem(ck, &bytes, &len), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load_mem(bytes, len, &ck), RECUR_OK);
    free(bytes);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "t%d", i);
        int k = recur_ckpt_find(ck, name);
        assert_int_equal(k, i);
        assert_true(recur_ckpt_at(ck, k).data[0] == (float)i);
        snprintf(name, sizeof name, "m%d", i);
        assert_int_equal(recur_ckpt_meta_find(ck, name), i);
    }
    recur_ckpt_free(ck);
}

/* ------------------------------------------------------- graph parameters */

/* A 2-layer LSTM and a dense head; `seed` draws the weights, `head` sizes the head. */
static recur_graph *build_model(uint64_t seed, int64_t head)
{
    recur_graph *g = recur_graph_new(seed);
    recur_value xs = recur_input(g, "xs", recur_shape3(5, 2, 3));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = 3, .hidden = 4, .layers = 2};
    recur_rnn r;
    TU_ST(g, recur_rnn_new(g, "lstm", &o, xs, RECUR_NONE, RECUR_NONE, &r));
    recur_value y = recur_dense(g, "head", r.outputs, head, 1);
    TU_OK(g, y);
    TU_OK(g, recur_param(g, "temperature", recur_shape0(), recur_init_uniform(0.5f, 2)));
    return g;
}

/* Every parameter's values, back to back (caller frees); *n floats. */
static float *snapshot(recur_graph *g, size_t *n)
{
    recur_value p[64];
    int np = recur_params(g, p, 64);
    assert_true(np > 0 && np <= 64);
    *n = 0;
    for (int i = 0; i < np; i++) *n += (size_t)recur_shape_numel(recur_value_shape(g, p[i]));
    float *s = malloc(sizeof(float) * *n), *at = s;
    assert_non_null(s);
    for (int i = 0; i < np; i++) {
        size_t k = (size_t)recur_shape_numel(recur_value_shape(g, p[i]));
        memcpy(at, recur_param_data(g, p[i]), sizeof(float) * k);
        at += k;
    }
    return s;
}

static void test_params_save_restore(void **state)
{
    (void)state;
    char path[128];
    recur_graph *a = build_model(1, 6), *b = build_model(2, 6);
    size_t na, nb;
    float *sa = snapshot(a, &na), *sb = snapshot(b, &nb);
    assert_int_equal(na, nb);
    assert_true(memcmp(sa, sb, sizeof(float) * na) != 0); /* different seeds, different weights */
    free(sb);

    TU_ST(a, recur_ckpt_save_params(a, tmp_path(path, sizeof path, "params.ckpt")));
    recur_ckpt *ck;
    assert_int_equal(recur_ckpt_load(path, &ck), RECUR_OK);
    /* Every parameter is there by name: 2 layers x 4 LSTM tensors, the head's 2, the temperature. */
    assert_int_equal(recur_ckpt_count(ck), 11);
    assert_true(recur_ckpt_find(ck, "lstm.weight_hh_l1") >= 0);
    assert_true(recur_shape_equal(recur_ckpt_at(ck, recur_ckpt_find(ck, "head.weight")).shape, recur_shape2(6, 4)));
    TU_ST(b, recur_ckpt_restore_params(b, ck, 1));
    sb = snapshot(b, &nb);
    assert_memory_equal(sa, sb, sizeof(float) * na);
    free(sb);
    recur_ckpt_free(ck);

    /* from_params gives the same tensors, and extra tensors are ignored by a strict restore. */
    ck = recur_ckpt_from_params(a);
    assert_non_null(ck);
    const float m[1] = {3};
    assert_int_equal(recur_ckpt_set_tensor(ck, "adam.step", recur_shape1(1), m), RECUR_OK);
    recur_graph *c = build_model(3, 6);
    TU_ST(c, recur_ckpt_restore_params(c, ck, 1));
    float *sc = snapshot(c, &nb);
    assert_memory_equal(sa, sc, sizeof(float) * na);
    free(sc);
    recur_ckpt_free(ck);
    recur_graph_free(c);
    free(sa);
    recur_graph_free(a);
    recur_graph_free(b);
}

/* A shape mismatch (in the last parameters) names the tensor and both shapes and writes nothing. */
static void test_restore_shape_mismatch_changes_nothing(void **state)
{
    (void)state;
    recur_graph *a = build_model(1, 6), *c = build_model(4, 5);
    recur_ckpt *ck = recur_ckpt_from_params(a);
    assert_non_null(ck);
    size_t n0, n1;
    float *before = snapshot(c, &n0);
    assert_int_equal(recur_ckpt_restore_params(c, ck, 1), RECUR_ERR_SHAPE);
    assert_contains(recur_errmsg(c), "tensor \"head.weight\" has shape [6, 4] in the checkpoint, but the parameter has "
                                     "shape [5, 4]");
    float *after = snapshot(c, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, sizeof(float) * n0);
    free(after);
    /* Non-strict restores check shapes too. */
    assert_int_equal(recur_ckpt_restore_params(c, ck, 0), RECUR_ERR_SHAPE);
    after = snapshot(c, &n1);
    assert_memory_equal(before, after, sizeof(float) * n0);
    free(after);
    free(before);
    recur_ckpt_free(ck);
    recur_graph_free(a);
    recur_graph_free(c);
}

/* A missing parameter fails a strict restore (naming it) and is skipped by a non-strict one. */
static void test_restore_missing_parameter(void **state)
{
    (void)state;
    recur_graph *a = build_model(1, 6), *b = build_model(2, 6);
    recur_ckpt *full = recur_ckpt_from_params(a), *part = recur_ckpt_new();
    assert_non_null(full);
    /* Everything but the temperature. */
    for (int i = 0; i < recur_ckpt_count(full); i++) {
        recur_ckpt_tensor t = recur_ckpt_at(full, i);
        if (strcmp(t.name, "temperature") != 0)
            assert_int_equal(recur_ckpt_set_tensor(part, t.name, t.shape, t.data), RECUR_OK);
    }
    size_t n;
    float *before = snapshot(b, &n);
    assert_int_equal(recur_ckpt_restore_params(b, part, 1), RECUR_ERR_ARG);
    assert_contains(recur_errmsg(b), "parameter \"temperature\" [] has no tensor in the checkpoint");
    float *after = snapshot(b, &n);
    assert_memory_equal(before, after, sizeof(float) * n);
    free(after);

    TU_ST(b, recur_ckpt_restore_params(b, part, 0));
    float *want = snapshot(a, &n);
    after = snapshot(b, &n);
    /* The temperature is the last parameter: all but it now equal a's, and it kept b's own value. */
    assert_memory_equal(after, want, sizeof(float) * (n - 1));
    assert_true(after[n - 1] == before[n - 1] && after[n - 1] != want[n - 1]);
    free(want);
    free(after);
    free(before);
    recur_ckpt_free(full);
    recur_ckpt_free(part);
    recur_graph_free(a);
    recur_graph_free(b);
}

/* ------------------------------------------------------ corrupt variants */

typedef enum edit_kind {
    SET_U32,  /* the u32 at the offset := value */
    SET_U64,  /* the u64 at the offset := value */
    SET_BYTE, /* the byte at the offset := value */
    XOR_BYTE, /* the byte at the offset ^= value */
    CUT,      /* the file ends at the offset */
    APPEND,   /* value bytes of junk after the end */
    COPY      /* value bytes from `src` copied to the offset */
} edit_kind;

#define AT(field) offsetof(layout, field)

typedef struct variant {
    const char *name;
    edit_kind kind;
    size_t field, delta; /* the edit is at the offset layout.field + delta */
    uint64_t value;
    size_t src;          /* COPY: layout field of the source */
    int fix_crc;         /* recompute the checksum, so that the structural check must catch it */
    int at_edit;         /* the message must say "offset <the edit's offset>" */
    int committed;       /* also kept as tests/data/corrupt/<name>.ckpt */
    recur_status code;
    const char *fragment;
} variant;

static const variant variants[] = {
    {"empty", CUT, AT(magic), 0, 0, 0, 0, 0, 0, RECUR_ERR_FORMAT, "the file is empty (0 bytes)"},
    {"short_header", CUT, AT(version), 2, 0, 0, 0, 0, 0, RECUR_ERR_FORMAT,
     "truncated: the version at offset 8 needs 4 bytes, 2 remain"},
    {"bad_magic", SET_BYTE, AT(magic), 7, 'X', 0, 1, 0, 1, RECUR_ERR_FORMAT,
     "not a recur checkpoint: it starts with bytes 52 45 43 55 52 43 4b 58, not the magic \"RECURCKP\""},
    {"future_version", SET_U32, AT(version), 0, 2, 0, 1, 1, 1, RECUR_ERR_FORMAT,
     "version 2 (offset 8) is newer than this build of recur reads (1)"},
    {"version_zero", SET_U32, AT(version), 0, 0, 0, 1, 1, 0, RECUR_ERR_FORMAT, "version 0"},
    {"unknown_flags", SET_U32, AT(flags), 0, 4, 0, 1, 1, 0, RECUR_ERR_FORMAT, "unknown flags 0x00000004"},
    {"huge_tensor_count", SET_U64, AT(count), 0, (uint64_t)1 << 60, 0, 1, 1, 1, RECUR_ERR_FORMAT,
     "tensor count 1152921504606846976 (offset 16) exceeds the file: a tensor takes at least 13 bytes"},
    {"count_too_small", SET_U64, AT(count), 0, 3, 0, 1, 0, 0, RECUR_ERR_FORMAT, "metadata count"},
    {"count_too_large", SET_U64, AT(count), 0, 5, 0, 1, 0, 0, RECUR_ERR_FORMAT, "tensor 4: the name"},
    {"zero_name_length", SET_U32, AT(name_len[1]), 0, 0, 0, 1, 1, 0, RECUR_ERR_FORMAT, "tensor 1: empty name (length 0"},
    {"huge_name_length", SET_U32, AT(name_len[0]), 0, 0xfffffff0u, 0, 1, 1, 0, RECUR_ERR_FORMAT,
     "tensor 0: name length 4294967280 at offset 24 exceeds the limit of 4096 bytes"},
    {"name_past_end", SET_U32, AT(name_len[3]), 0, 4000, 0, 1, 0, 1, RECUR_ERR_FORMAT,
     "tensor 3: truncated: the name at offset"},
    {"name_cut", CUT, AT(name[2]), 2, 0, 0, 0, 0, 0, RECUR_ERR_FORMAT, "tensor 2: truncated: the name at offset"},
    {"name_bad_utf8", SET_BYTE, AT(name[0]), 3, 0xc0, 0, 1, 1, 0, RECUR_ERR_FORMAT, "is not valid UTF-8 (byte 3"},
    {"name_cut_utf8", SET_BYTE, AT(name[3]), 11, 'x', 0, 1, 0, 0, RECUR_ERR_FORMAT, "is not valid UTF-8"},
    {"name_with_nul", SET_BYTE, AT(name[2]), 1, 0, 0, 1, 1, 0, RECUR_ERR_FORMAT, "contains a NUL byte"},
    {"name_with_newline", SET_BYTE, AT(name[0]), 0, '\n', 0, 1, 1, 0, RECUR_ERR_FORMAT, "contains a control character"},
    {"duplicate_name", COPY, AT(name[1]), 0, 12, AT(name[0]), 1, 0, 1, RECUR_ERR_FORMAT,
     "tensor 1 \"embed.weight\": duplicate name (tensor 0 has it too)"},
    {"rank_five", SET_U32, AT(ndim[1]), 0, 5, 0, 1, 1, 0, RECUR_ERR_FORMAT,
     "tensor 1 \"lstm.bias_l0\": rank 5 (offset"},
    {"zero_dim", SET_U64, AT(dims[0]), 8, 0, 0, 1, 1, 0, RECUR_ERR_FORMAT,
     "tensor 0 \"embed.weight\": dimension 1 is 0"},
    {"huge_dims", SET_U64, AT(dims[0]), 8, 999999999999u, 0, 1, 0, 1, RECUR_ERR_FORMAT,
     "tensor 0 \"embed.weight\": shape [3, 999999999999] exceeds the file (data at offset 60 needs 11999999999988 bytes"},
    {"overflow_dims", SET_U64, AT(dims[1]), 8, (uint64_t)1 << 63, 0, 1, 0, 0, RECUR_ERR_FORMAT,
     "shape [2, 9223372036854775808, 2] exceeds the file (data at offset 128 needs more than 2^64 bytes"},
    {"truncated_data", CUT, AT(data[1]), 6, 0, 0, 0, 0, 1, RECUR_ERR_FORMAT,
     "tensor 1 \"lstm.bias_l0\": shape [2, 1, 2] exceeds the file (data at offset 128 needs 16 bytes, 6 remain)"},
    {"flipped_data", XOR_BYTE, AT(data[0]), 5, 0x10, 0, 0, 0, 1, RECUR_ERR_FORMAT, "checksum mismatch"},
    {"flipped_checksum", XOR_BYTE, AT(crc), 2, 0x01, 0, 0, 0, 0, RECUR_ERR_FORMAT, "checksum mismatch"},
    {"missing_checksum", CUT, AT(crc), 0, 0, 0, 0, 0, 0, RECUR_ERR_FORMAT, "truncated: the checksum at offset"},
    {"huge_meta_count", SET_U64, AT(meta_count), 0, UINT64_MAX, 0, 1, 1, 0, RECUR_ERR_FORMAT,
     "metadata count 18446744073709551615"},
    {"unknown_meta_type", SET_U32, AT(type[2]), 0, 9, 0, 1, 1, 0, RECUR_ERR_FORMAT, "metadata 2 \"lr\": unknown type 9"},
    {"meta_empty_key", SET_U32, AT(key_len[0]), 0, 0, 0, 1, 1, 0, RECUR_ERR_FORMAT, "metadata 0: empty key"},
    {"meta_string_nul", SET_BYTE, AT(value[3]), 6, 0, 0, 1, 0, 0, RECUR_ERR_FORMAT,
     "metadata 3 \"corpus\": the string value at offset"},
    {"meta_string_past_end", SET_U32, AT(value[3]), 0, 1000, 0, 1, 0, 0, RECUR_ERR_FORMAT,
     "metadata 3 \"corpus\": truncated: the string value"},
    {"duplicate_key", COPY, AT(key[1]), 0, 4, AT(key[0]), 1, 0, 0, RECUR_ERR_FORMAT,
     "metadata 1 \"step\": duplicate key (metadata 0 has it too)"},
    {"trailing_garbage", APPEND, AT(end), 0, 5, 0, 0, 0, 1, RECUR_ERR_FORMAT,
     "5 unexpected bytes after the metadata at offset"},
};

enum { N_VARIANTS = sizeof variants / sizeof variants[0] };

static size_t edit_offset(const variant *v, const layout *L)
{
    return *(const size_t *)((const char *)L + v->field) + v->delta;
}

static buf make_variant(const variant *v, const buf *base, const layout *L)
{
    buf o = b_copy(base);
    size_t at = edit_offset(v, L);
    switch (v->kind) {
    case SET_U32: set_u32(&o, at, (uint32_t)v->value); break;
    case SET_U64: set_u64(&o, at, v->value); break;
    case SET_BYTE: o.b[at] = (unsigned char)v->value; break;
    case XOR_BYTE: o.b[at] ^= (unsigned char)v->value; break;
    case CUT: o.n = at; break;
    case APPEND:
        for (uint64_t k = 0; k < v->value; k++) b_put(&o, "J", 1);
        break;
    case COPY: memmove(o.b + at, o.b + *(const size_t *)((const char *)L + v->src), (size_t)v->value); break;
    }
    if (v->fix_crc) fix_crc(&o);
    return o;
}

/* Loads bytes that must be rejected: the code, the message's source and fragment, and an empty result. */
static void expect_rejected(const void *bytes, size_t len, recur_status code, const char *fragment, const char *what)
{
    recur_ckpt *ck = (recur_ckpt *)(uintptr_t)1;
    recur_status st = recur_ckpt_load_mem(bytes, len, &ck);
    assert_non_null(ck);
    if (st != code) fail_msg("%s: status %d (%s), want %d", what, st, recur_ckpt_errmsg(ck), code);
    assert_int_equal(recur_ckpt_errcode(ck), code);
    assert_contains(recur_ckpt_errmsg(ck), "checkpoint (memory): ");
    if (fragment) assert_contains(recur_ckpt_errmsg(ck), fragment);
    assert_int_equal(recur_ckpt_count(ck), 0);
    assert_int_equal(recur_ckpt_meta_count(ck), 0);
    recur_ckpt_free(ck);
}

static void test_corrupt_variants(void **state)
{
    (void)state;
    layout L;
    buf base = encode_base(&L);
    const char *outdir = getenv("RECUR_CKPT_WRITE_CORRUPT");
    char path[512], offset[64];
    if (outdir) {
        snprintf(path, sizeof path, "%s/base.ckpt", outdir);
        write_file(path, &base);
    }
    for (int i = 0; i < N_VARIANTS; i++) {
        const variant *v = &variants[i];
        buf o = make_variant(v, &base, &L);
        expect_rejected(o.b, o.n, v->code, v->fragment, v->name);
        if (v->at_edit) {
            recur_ckpt *ck;
            recur_ckpt_load_mem(o.b, o.n, &ck);
            snprintf(offset, sizeof offset, "offset %zu", edit_offset(v, &L));
            assert_contains(recur_ckpt_errmsg(ck), offset);
            recur_ckpt_free(ck);
        }
        if (outdir && v->committed) {
            snprintf(path, sizeof path, "%s/%s.ckpt", outdir, v->name);
            write_file(path, &o);
        }
        free(o.b);
    }
    free(base.b);
}

/* The committed corrupt files are the generated ones, and loading them from disk names the file. */
static void test_committed_corrupt_files(void **state)
{
    (void)state;
    layout L;
    buf base = encode_base(&L);
    char rel[128];
    int seen = 0;
    for (int i = 0; i < N_VARIANTS; i++) {
        const variant *v = &variants[i];
        if (!v->committed) continue;
        seen++;
        snprintf(rel, sizeof rel, "corrupt/%s.ckpt", v->name);
        const char *path = tu_data_path(rel);
        buf want = make_variant(v, &base, &L), got = read_file(path);
        assert_int_equal(got.n, want.n);
        assert_memory_equal(got.b, want.b, got.n);
        recur_ckpt *ck;
        assert_int_equal(recur_ckpt_load(path, &ck), v->code);
        char prefix[600];
        snprintf(prefix, sizeof prefix, "checkpoint %s: ", path);
        assert_contains(recur_ckpt_errmsg(ck), prefix);
        assert_contains(recur_ckpt_errmsg(ck), v->fragment);
        assert_int_equal(recur_ckpt_count(ck), 0);
        recur_ckpt_free(ck);
        free(want.b);
        free(got.b);
    }
    assert_true(seen >= 8);
    free(base.b);
}

/* Every proper prefix of a valid file and every single flipped bit are rejected. */
static void test_every_truncation_and_bit_flip(void **state)
{
    (void)state;
    layout L;
    buf base = encode_base(&L);
    char what[64];
    for (size_t n = 0; n < base.n; n++) {
        snprintf(what, sizeof what, "prefix of %zu bytes", n);
        expect_rejected(base.b, n, RECUR_ERR_FORMAT, NULL, what);
    }
    /* At the boundary of each field, the message says the file is cut short there. */
    const size_t bounds[] = {L.version, L.flags, L.count, L.name_len[2], L.ndim[2], L.dims[3], L.meta_count, L.type[4], L.crc};
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
        char fragment[64];
        snprintf(fragment, sizeof fragment, "truncated: ");
        expect_rejected(base.b, bounds[k], RECUR_ERR_FORMAT, fragment, "boundary");
        snprintf(fragment, sizeof fragment, "at offset %zu needs", bounds[k]);
        expect_rejected(base.b, bounds[k], RECUR_ERR_FORMAT, fragment, "boundary");
    }
    buf o = b_copy(&base);
    for (size_t i = 0; i < base.n; i++)
        for (int bit = 0; bit < 8; bit++) {
            o.b[i] ^= (unsigned char)(1u << bit);
            snprintf(what, sizeof what, "bit %d of byte %zu flipped", bit, i);
            expect_rejected(o.b, o.n, RECUR_ERR_FORMAT, NULL, what);
            o.b[i] ^= (unsigned char)(1u << bit);
        }
    free(o.b);
    free(base.b);
}

/* A load that fails leaves nothing to restore: the graph keeps its parameters. */
static void test_failed_load_changes_no_parameters(void **state)
{
    (void)state;
    recur_graph *a = build_model(1, 6), *b = build_model(2, 6);
    recur_ckpt *ck = recur_ckpt_from_params(a);
    void *bytes;
    size_t len, n0, n1;
    assert_int_equal(recur_ckpt_save_mem(ck, &bytes, &len), RECUR_OK);
    recur_ckpt_free(ck);
    float *before = snapshot(b, &n0);
    unsigned char *p = bytes;
    /* Damage the middle of the file (inside some tensor's data) and the end. */
    for (size_t at = len / 2; at < len; at += len / 7 + 1) {
        p[at] ^= 0x40;
        assert_int_equal(recur_ckpt_load_mem(bytes, len, &ck), RECUR_ERR_FORMAT);
        assert_int_equal(recur_ckpt_restore_params(b, ck, 1), RECUR_ERR_ARG);
        TU_ST(b, recur_ckpt_restore_params(b, ck, 0));
        recur_ckpt_free(ck);
        p[at] ^= 0x40;
    }
    float *after = snapshot(b, &n1);
    assert_memory_equal(before, after, sizeof(float) * n0);
    free(before);
    free(after);
    free(bytes);
    recur_graph_free(a);
    recur_graph_free(b);
}

/* ------------------------------------------------------ files and saving */

static void test_load_io_errors(void **state)
{
    (void)state;
    char path[128];
    recur_ckpt *ck;
    assert_int_equal(recur_ckpt_load(tmp_path(path, sizeof path, "absent.ckpt"), &ck), RECUR_ERR_IO);
    assert_contains(recur_ckpt_errmsg(ck), path);
    assert_contains(recur_ckpt_errmsg(ck), "cannot open: No such file or directory");
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load(tmpdir, &ck), RECUR_ERR_IO);
    assert_contains(recur_ckpt_errmsg(ck), "not a regular file");
    recur_ckpt_free(ck);
    /* A FIFO without a writer is refused at once (opening it must not wait). */
    char fifo[128];
    assert_int_equal(mkfifo(tmp_path(fifo, sizeof fifo, "fifo.ckpt"), 0600), 0);
    assert_int_equal(recur_ckpt_load(fifo, &ck), RECUR_ERR_IO);
    assert_contains(recur_ckpt_errmsg(ck), "not a regular file");
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load(NULL, &ck), RECUR_ERR_ARG);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load(path, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_ckpt_load_mem(NULL, 0, &ck), RECUR_ERR_FORMAT); /* no bytes: an empty file */
    recur_ckpt_free(ck);
}

/* Written, overwritten, loaded: the second content, and the file is exactly its serialization. */
static void test_overwrite(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "over.ckpt");
    recur_ckpt *first = make_base(), *second = recur_ckpt_new();
    const float x[2] = {-1, 1};
    assert_int_equal(recur_ckpt_set_tensor(second, "only", recur_shape1(2), x), RECUR_OK);
    assert_int_equal(recur_ckpt_set_int(second, "step", 2), RECUR_OK);
    assert_int_equal(recur_ckpt_save(first, path), RECUR_OK);
    assert_int_equal(recur_ckpt_save(second, path), RECUR_OK);
    void *bytes;
    size_t len;
    assert_int_equal(recur_ckpt_save_mem(second, &bytes, &len), RECUR_OK);
    buf got = read_file(path);
    assert_int_equal(got.n, len);
    assert_memory_equal(got.b, bytes, len);
    recur_ckpt *ck;
    assert_int_equal(recur_ckpt_load(path, &ck), RECUR_OK);
    assert_int_equal(recur_ckpt_count(ck), 1);
    assert_memory_equal(recur_ckpt_at(ck, 0).data, x, sizeof x);
    assert_int_equal(recur_ckpt_meta_count(ck), 1);
    assert_int_equal(count_temp_files(), 0);
    recur_ckpt_free(ck);
    recur_ckpt_free(first);
    recur_ckpt_free(second);
    free(bytes);
    free(got.b);
}

/* A directory where the file should go: the rename fails, the directory and its file are intact, no temp file. */
static void test_save_over_directory_fails_cleanly(void **state)
{
    (void)state;
    char dir[128], inner[160];
    tmp_path(dir, sizeof dir, "isdir.ckpt");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(inner, sizeof inner, "%s/keep", dir);
    buf keep = {0};
    b_put(&keep, "keep me", 7);
    write_file(inner, &keep);
    recur_ckpt *ck = make_base();
    assert_int_equal(recur_ckpt_save(ck, dir), RECUR_ERR_IO);
    assert_contains(recur_ckpt_errmsg(ck), dir);
    assert_contains(recur_ckpt_errmsg(ck), "cannot rename the temporary file over it");
    assert_contains(recur_ckpt_errmsg(ck), "the previous file is unchanged");
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    buf got = read_file(inner);
    assert_int_equal(got.n, 7);
    assert_memory_equal(got.b, "keep me", 7);
    assert_int_equal(count_temp_files(), 0);
    /* A directory that does not exist: nothing to create the file in. */
    char missing[160];
    tmp_path(missing, sizeof missing, "no/such/dir/x.ckpt");
    assert_int_equal(recur_ckpt_save(ck, missing), RECUR_ERR_IO);
    assert_contains(recur_ckpt_errmsg(ck), "cannot create the temporary file");
    assert_contains(recur_ckpt_errmsg(ck), "No such file or directory");
    assert_int_equal(recur_ckpt_save(ck, ""), RECUR_ERR_ARG);
    recur_ckpt_free(ck);
    free(keep.b);
    free(got.b);
}

/*
 * A write that fails halfway (the file-size limit, which holds for root
 * too, makes write() fail with EFBIG): the previous checkpoint is intact
 * and the temporary file is gone.
 */
static void test_failed_write_keeps_previous(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "keep.ckpt");
    recur_ckpt *old = make_base(), *big = recur_ckpt_new();
    assert_int_equal(recur_ckpt_save(old, path), RECUR_OK);
    buf before = read_file(path);
    enum { N = 1 << 16 };
    float *x = calloc(N, sizeof(float));
    assert_non_null(x);
    assert_int_equal(recur_ckpt_set_tensor(big, "big", recur_shape1(N), x), RECUR_OK);

    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    void (*handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    recur_status st = recur_ckpt_save(big, path);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, handler);

    assert_int_equal(st, RECUR_ERR_IO);
    assert_contains(recur_ckpt_errmsg(big), "File too large");
    assert_contains(recur_ckpt_errmsg(big), "the previous file is unchanged");
    buf after = read_file(path);
    assert_int_equal(after.n, before.n);
    assert_memory_equal(after.b, before.b, before.n);
    assert_int_equal(count_temp_files(), 0);
    recur_ckpt *ck;
    assert_int_equal(recur_ckpt_load_flags(path, RECUR_CKPT_ALLOW_NONFINITE, &ck), RECUR_OK);
    assert_base(ck);
    recur_ckpt_free(ck);
    recur_ckpt_free(old);
    recur_ckpt_free(big);
    free(x);
    free(before.b);
    free(after.b);
}

/* ---------------------------------------------------- issue 15 hardening */

/*
 * Valid checksums but a NaN or Inf value: the load succeeded and `recur
 * generate` printed spaces. Loading now fails naming the tensor, the
 * element and its offset, and leaves the checkpoint empty;
 * RECUR_CKPT_ALLOW_NONFINITE loads it as it is.
 */
static void test_nonfinite_refused_on_load(void **state)
{
    (void)state;
    recur_ckpt *ck = recur_ckpt_new();
    assert_non_null(ck);
    const float a[1] = {1}, w[6] = {0, 1, 2, 3, NAN, 5}, m[2] = {0, -INFINITY};
    assert_int_equal(recur_ckpt_set_tensor(ck, "a", recur_shape1(1), a), RECUR_OK);
    assert_int_equal(recur_ckpt_set_tensor(ck, "w", recur_shape2(2, 3), w), RECUR_OK);
    assert_int_equal(recur_ckpt_set_tensor(ck, "adam.m/w", recur_shape1(2), m), RECUR_OK);
    assert_int_equal(recur_ckpt_set_int(ck, "step", 7), RECUR_OK);
    void *bytes;
    size_t len;
    assert_int_equal(recur_ckpt_save_mem(ck, &bytes, &len), RECUR_OK);
    char path[128];
    assert_int_equal(recur_ckpt_save(ck, tmp_path(path, sizeof path, "nan.ckpt")), RECUR_OK);
    recur_ckpt_free(ck);

    /* header 24 bytes; "a": 4 + 1 + 4 + 8 + 4 = 21; "w": its data at 45 + 4 + 1 + 4 + 16 = 70, element 4 at 86 */
    assert_int_equal(recur_ckpt_load_mem(bytes, len, &ck), RECUR_ERR_FORMAT);
    assert_contains(recur_ckpt_errmsg(ck), "checkpoint (memory): tensor 1 \"w\": element 4 (offset 86) is nan");
    assert_contains(recur_ckpt_errmsg(ck), "RECUR_CKPT_ALLOW_NONFINITE");
    assert_int_equal(recur_ckpt_count(ck), 0);
    assert_int_equal(recur_ckpt_meta_count(ck), 0);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load(path, &ck), RECUR_ERR_FORMAT);
    assert_contains(recur_ckpt_errmsg(ck), "nan.ckpt: tensor 1 \"w\": element 4");
    recur_ckpt_free(ck);

    /* Allowed: everything loads bit for bit. */
    assert_int_equal(recur_ckpt_load_flags(path, RECUR_CKPT_ALLOW_NONFINITE, &ck), RECUR_OK);
    assert_int_equal(recur_ckpt_count(ck), 3);
    assert_true(isnan(recur_ckpt_at(ck, 1).data[4]));
    assert_true(isinf(recur_ckpt_at(ck, 2).data[1]));
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load_mem_flags(bytes, len, RECUR_CKPT_ALLOW_NONFINITE, &ck), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load_mem_flags(bytes, len, 4, &ck), RECUR_ERR_ARG);
    assert_contains(recur_ckpt_errmsg(ck), "unknown load flags 0x4");
    recur_ckpt_free(ck);
    free(bytes);

    /* Only the optimizer's state is bad (NaN in Adam's m made a resumed run save all-NaN weights): named too. */
    ck = recur_ckpt_new();
    assert_int_equal(recur_ckpt_set_tensor(ck, "w", recur_shape2(2, 3), (const float[]){0, 1, 2, 3, 4, 5}), RECUR_OK);
    assert_int_equal(recur_ckpt_set_tensor(ck, "adam.m/w", recur_shape1(2), m), RECUR_OK);
    assert_int_equal(recur_ckpt_save(ck, path), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(recur_ckpt_load(path, &ck), RECUR_ERR_FORMAT);
    assert_contains(recur_ckpt_errmsg(ck), "tensor 1 \"adam.m/w\": element 1");
    assert_contains(recur_ckpt_errmsg(ck), "is -inf");
    recur_ckpt_free(ck);
}

/* A checkpoint made in memory (or loaded with the check skipped) is checked again when restored. */
static void test_nonfinite_refused_on_restore(void **state)
{
    (void)state;
    recur_graph *a = build_model(1, 6), *c = build_model(3, 6);
    recur_ckpt *ck = recur_ckpt_from_params(a);
    assert_non_null(ck);
    float hw[24];
    memcpy(hw, recur_ckpt_at(ck, recur_ckpt_find(ck, "head.weight")).data, sizeof hw);
    hw[17] = INFINITY;
    assert_int_equal(recur_ckpt_set_tensor(ck, "head.weight", recur_shape2(6, 4), hw), RECUR_OK);
    size_t n0, n1;
    float *before = snapshot(c, &n0);
    assert_int_equal(recur_ckpt_restore_params(c, ck, RECUR_CKPT_STRICT), RECUR_ERR_FORMAT);
    assert_contains(recur_errmsg(c), "tensor \"head.weight\" [6, 4] holds inf at element 17");
    assert_contains(recur_errmsg(c), "RECUR_CKPT_ALLOW_NONFINITE");
    float *after = snapshot(c, &n1);
    assert_memory_equal(before, after, sizeof(float) * n0); /* nothing written */
    free(after);
    assert_int_equal(recur_ckpt_restore_params(c, ck, 0), RECUR_ERR_FORMAT);
    /* Skipping the check restores the values as they are. */
    TU_ST(c, recur_ckpt_restore_params(c, ck, RECUR_CKPT_STRICT | RECUR_CKPT_ALLOW_NONFINITE));
    recur_value p[64];
    int np = recur_params(c, p, 64), k = 0;
    while (k < np && strcmp(recur_value_name(c, p[k]), "head.weight") != 0) k++;
    assert_true(k < np);
    assert_memory_equal(recur_param_data(c, p[k]), hw, sizeof hw);
    assert_int_equal(recur_ckpt_restore_params(c, ck, 4), RECUR_ERR_ARG);
    assert_contains(recur_errmsg(c), "unknown flags 0x4");
    free(before);
    recur_ckpt_free(ck);
    recur_graph_free(a);
    recur_graph_free(c);
}

/* A child process that has exited: its pid names no live process. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

static int exists(const char *name)
{
    char path[256];
    return access(tmp_path(path, sizeof path, name), F_OK) == 0;
}

static void touch(const char *name)
{
    char path[256];
    buf b = {0};
    b_put(&b, "partial", 7);
    write_file(tmp_path(path, sizeof path, name), &b);
    free(b.b);
}

/*
 * kill -9 during a save left "<path>.tmp.<pid>" files that nothing removed.
 * The next save or load removes those of dead processes, and only those.
 */
static void test_stale_temporaries_removed(void **state)
{
    (void)state;
    char dead[64], dead2[64], alive[64], other[64], path[128];
    pid_t d = dead_pid(), d2 = dead_pid();
    snprintf(dead, sizeof dead, "s.ckpt.tmp.%ld", (long)d);
    snprintf(dead2, sizeof dead2, "s.ckpt.tmp.%ld", (long)d2);
    snprintf(alive, sizeof alive, "s.ckpt.tmp.%ld", (long)getppid());
    snprintf(other, sizeof other, "other.ckpt.tmp.%ld", (long)d);
    touch(dead);
    touch(alive);
    touch(other);
    touch("s.ckpt.tmp.12x");
    touch("s.ckpt.tmp.");
    touch("s.ckpt.tmp.99999999999999999999");
    char dir[128];
    assert_int_equal(mkdir(tmp_path(dir, sizeof dir, dead2), 0755), 0); /* not a regular file: kept */

    recur_ckpt *ck = recur_ckpt_new();
    assert_int_equal(recur_ckpt_set_tensor(ck, "w", recur_shape1(2), (const float[]){1, 2}), RECUR_OK);
    assert_int_equal(recur_ckpt_save(ck, tmp_path(path, sizeof path, "s.ckpt")), RECUR_OK);
    assert_false(exists(dead));
    assert_true(exists(alive));
    assert_true(exists(other));
    assert_true(exists("s.ckpt.tmp.12x"));
    assert_true(exists("s.ckpt.tmp."));
    assert_true(exists("s.ckpt.tmp.99999999999999999999"));
    assert_true(exists(dead2));
    recur_ckpt_free(ck);

    /* A load tidies too, and reads the checkpoint as usual. */
    touch(dead);
    assert_int_equal(recur_ckpt_load(path, &ck), RECUR_OK);
    assert_false(exists(dead));
    assert_true(exists(alive));
    assert_int_equal(recur_ckpt_count(ck), 1);
    recur_ckpt_free(ck);
    /* Relative paths work alike (the directory is "."). */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    touch(dead);
    assert_int_equal(recur_ckpt_load("s.ckpt", &ck), RECUR_OK);
    recur_ckpt_free(ck);
    assert_int_equal(chdir(cwd), 0);
    assert_false(exists(dead));
    /* Leave nothing that other tests count as a left-over temporary file. */
    char p[256];
    const char *names[] = {alive, other, "s.ckpt.tmp.12x", "s.ckpt.tmp.", "s.ckpt.tmp.99999999999999999999"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) assert_int_equal(unlink(tmp_path(p, sizeof p, names[i])), 0);
    assert_int_equal(rmdir(tmp_path(p, sizeof p, dead2)), 0);
}

/* ------------------------------------------------------------------ main */

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        char sub[512];
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/recur_ckpt_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    remove_tree(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_oracle),
        cmocka_unit_test(test_format_matches_hand_encoding),
        cmocka_unit_test(test_committed_base_file),
        cmocka_unit_test(test_round_trip_file),
        cmocka_unit_test(test_set_replaces_in_place),
        cmocka_unit_test(test_set_rejects_bad_arguments),
        cmocka_unit_test(test_many_tensors),
        cmocka_unit_test(test_params_save_restore),
        cmocka_unit_test(test_restore_shape_mismatch_changes_nothing),
        cmocka_unit_test(test_restore_missing_parameter),
        cmocka_unit_test(test_corrupt_variants),
        cmocka_unit_test(test_committed_corrupt_files),
        cmocka_unit_test(test_every_truncation_and_bit_flip),
        cmocka_unit_test(test_failed_load_changes_no_parameters),
        cmocka_unit_test(test_load_io_errors),
        cmocka_unit_test(test_overwrite),
        cmocka_unit_test(test_save_over_directory_fails_cleanly),
        cmocka_unit_test(test_failed_write_keeps_previous),
        cmocka_unit_test(test_nonfinite_refused_on_load),
        cmocka_unit_test(test_nonfinite_refused_on_restore),
        cmocka_unit_test(test_stale_temporaries_removed),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
