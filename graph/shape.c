/*
 * graph/shape.c — shapes and status names.
 */
#include <string.h>

#include "recur/common.h"

const char *recur_status_str(recur_status s)
{
    switch (s) {
    case RECUR_OK: return "ok";
    case RECUR_ERR_SHAPE: return "shape mismatch";
    case RECUR_ERR_ARG: return "bad argument";
    case RECUR_ERR_VALUE: return "invalid value";
    case RECUR_ERR_NOMEM: return "out of memory";
    case RECUR_ERR_STATE: return "invalid state";
    case RECUR_ERR_FEED: return "bad feed";
    case RECUR_ERR_RUNTIME: return "runtime error";
    case RECUR_ERR_NOGRAD: return "no gradient rule";
    case RECUR_ERR_IO: return "i/o error";
    case RECUR_ERR_FORMAT: return "bad format";
    case RECUR_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

recur_shape recur_shape0(void) { return (recur_shape){0, {0}}; }
recur_shape recur_shape1(int64_t d0) { return (recur_shape){1, {d0}}; }
recur_shape recur_shape2(int64_t d0, int64_t d1) { return (recur_shape){2, {d0, d1}}; }
recur_shape recur_shape3(int64_t d0, int64_t d1, int64_t d2) { return (recur_shape){3, {d0, d1, d2}}; }
recur_shape recur_shape4(int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    return (recur_shape){4, {d0, d1, d2, d3}};
}

/*
 * n = d_0 d_1 ... d_{ndim-1}, saturated: once the product would pass
 * INT64_MAX it stays INT64_MAX, so every "numel <= limit" check refuses a
 * shape whose true count does not fit (a wrapped product could be 1 or 0).
 */
int64_t recur_shape_numel(recur_shape s)
{
    if (s.ndim < 0 || s.ndim > RECUR_MAX_DIMS) return -1;
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] < 0) return -1;
    int64_t n = 1;
    for (int i = 0; i < s.ndim; i++) {
        if (s.d[i] == 0) return 0;
        n = n > INT64_MAX / s.d[i] ? INT64_MAX : n * s.d[i];
    }
    return n;
}

int recur_shape_equal(recur_shape a, recur_shape b)
{
    if (a.ndim != b.ndim) return 0;
    for (int i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i]) return 0;
    return 1;
}

char *recur_shape_str(recur_shape s, char *buf, size_t len)
{
    if (!buf || len == 0) return buf;
    size_t used = 0;
    buf[0] = 0;
    used += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < s.ndim && i < RECUR_MAX_DIMS && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %lld" : "%lld", (long long)s.d[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}
