/*
 * cli/info.c — `recur info CHECKPOINT`: a checkpoint's metadata,
 * its tensors with their shapes, and the number of parameters.
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "recur/optim.h"

recur_ckpt *cli_load_checkpoint(const char *cmd, const char *path) { return cli_load_checkpoint_flags(cmd, path, 0); }

recur_ckpt *cli_load_checkpoint_flags(const char *cmd, const char *path, unsigned flags)
{
    recur_ckpt *ck = NULL;
    if (recur_ckpt_load_flags(path, flags, &ck) == RECUR_OK) return ck;
    if (ck)
        cli_error(cmd, "%s", recur_ckpt_errmsg(ck));
    else
        cli_error(cmd, "%s: out of memory", path);
    recur_ckpt_free(ck);
    return NULL;
}

void cli_print_escaped(FILE *f, const char *s, size_t max)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    if (n > max) fputs("...", f);
}

/*
 * An optimizer's state tensor is named "<kind>.<state>/<parameter>" with
 * <kind> one of the optimizers (recur/optim.h); everything else counts as
 * a parameter.
 */
static int is_optim_state(const char *name)
{
    const char *dot = strchr(name, '.'), *slash = strchr(name, '/');
    if (!dot || !slash || slash < dot) return 0;
    char kind[16];
    size_t len = (size_t)(dot - name);
    if (len >= sizeof kind) return 0;
    memcpy(kind, name, len);
    kind[len] = '\0';
    recur_optim_kind k;
    return recur_optim_kind_parse(kind, &k) == RECUR_OK;
}

/*
 * The format version the file at `path` says it has: the u32
 * little-endian after the 8 bytes of magic (recur/checkpoint.h); the
 * loader has read it already, so -1 only if the file changed since.
 */
static long file_version(const char *path)
{
    unsigned char h[12];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(h, 1, sizeof h, f) : 0;
    if (f) fclose(f);
    if (n < sizeof h) return -1;
    return (long)((uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24);
}

static void print_meta(recur_ckpt *ck)
{
    int n = recur_ckpt_meta_count(ck);
    printf("metadata (%d entr%s):\n", n, n == 1 ? "y" : "ies");
    for (int i = 0; i < n; i++) {
        recur_ckpt_meta m = recur_ckpt_meta_at(ck, i);
        printf("  %-24s ", m.key);
        if (m.type == RECUR_META_INT) {
            printf("%lld\n", (long long)m.i);
        } else if (m.type == RECUR_META_FLOAT) {
            printf("%.9g\n", m.f);
        } else {
            putchar('"');
            cli_print_escaped(stdout, m.s, 200);
            putchar('"');
            putchar('\n');
        }
    }
}

/* The tensors with their shapes and sizes, and how many NaN and infinite values a tensor holds if any. */
static void print_tensors(recur_ckpt *ck)
{
    int n = recur_ckpt_count(ck), n_param = 0, n_state = 0;
    int64_t params = 0, state = 0;
    printf("tensors (%d):\n", n);
    for (int i = 0; i < n; i++) {
        recur_ckpt_tensor t = recur_ckpt_at(ck, i);
        char shp[96];
        int64_t numel = recur_shape_numel(t.shape), nan = 0, inf = 0;
        for (int64_t k = 0; k < numel; k++) {
            nan += isnan(t.data[k]) != 0;
            inf += isinf(t.data[k]) != 0; /* glibc: -1 for -inf */
        }
        printf("  %-40s %-16s %12lld", t.name, recur_shape_str(t.shape, shp, sizeof shp), (long long)numel);
        if (nan || inf) printf("  (%lld NaN, %lld infinite)", (long long)nan, (long long)inf);
        putchar('\n');
        if (is_optim_state(t.name)) {
            n_state++;
            state += numel;
        } else {
            n_param++;
            params += numel;
        }
    }
    printf("parameters: %lld in %d tensor%s\n", (long long)params, n_param, n_param == 1 ? "" : "s");
    if (n_state)
        printf("optimizer state: %lld values in %d tensor%s\n", (long long)state, n_state, n_state == 1 ? "" : "s");
}

int cli_info(int argc, char **argv)
{
    int allow_nonfinite = 0;
    cli_opt opts[] = {
        {"allow-nonfinite", 0, CLI_FLAG, &allow_nonfinite, 0, 0, "",
         "read a checkpoint holding NaN or infinite values (a diverged run's) and count them", 0},
    };
    cli_cmd cmd = {
        .name = "info",
        .usage = "recur info CHECKPOINT [options]",
        .opts = opts,
        .n_opts = (int)(sizeof opts / sizeof opts[0]),
        .summary = "Prints a checkpoint's format version (and this recur's versions), its metadata, its tensors\n"
                   "with their shapes and element counts, and the number of parameters (the optimizer's state\n"
                   "tensors are counted apart). A damaged or truncated file is reported with what is wrong and\n"
                   "where, and exit code 1; so is a checkpoint holding NaN or infinite values, unless\n"
                   "--allow-nonfinite.",
        .max_pos = 1,
        .min_pos = 1,
    };
    const char *pos[1];
    int n_pos, r = cli_parse(&cmd, argc, argv, pos, &n_pos);
    if (r == CLI_HELP_SHOWN) return CLI_EXIT_OK;
    if (r != CLI_PARSED) return r;
    recur_ckpt *ck = cli_load_checkpoint_flags("info", pos[0], allow_nonfinite ? RECUR_CKPT_ALLOW_NONFINITE : 0);
    if (!ck) return CLI_EXIT_FAIL;
    struct stat sb;
    if (stat(pos[0], &sb) == 0)
        printf("checkpoint %s (%lld bytes, format version %ld)\n", pos[0], (long long)sb.st_size, file_version(pos[0]));
    printf("read by recur %s (library %s, checkpoint format version %d)\n", RECUR_VERSION_STRING, recur_version(),
           RECUR_CKPT_VERSION);
    print_meta(ck);
    print_tensors(ck);
    recur_ckpt_free(ck);
    return CLI_EXIT_OK;
}
