/*
 * recur/common.h — status codes, shapes and value handles shared by every
 * part of recur.
 *
 * Conventions (see DESIGN.md):
 *   - every public symbol starts with recur_, every macro with RECUR_;
 *   - a call that can fail returns a recur_status (RECUR_OK == 0) or an
 *     invalid handle, and the reason is readable afterwards through the
 *     error call of the object it was made on (recur_errmsg for a graph,
 *     recur_plan_errmsg for a compiled plan);
 *   - tensors are dense float32, row-major, with up to 4 dimensions.
 */
#ifndef RECUR_COMMON_H
#define RECUR_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Marks the library's public functions: the shared library is built with
 * hidden visibility, so only what the public headers declare with
 * RECUR_API is exported (all of it named recur_*).
 */
#if defined(__GNUC__)
#define RECUR_API __attribute__((visibility("default")))
#else
#define RECUR_API
#endif

/**
 * The version of the headers a program is compiled against; recur_version()
 * gives the version of the library it runs with.
 */
#define RECUR_VERSION_MAJOR 0
#define RECUR_VERSION_MINOR 1
#define RECUR_VERSION_PATCH 0
#define RECUR_VERSION_STRING "0.1.0"

/**
 * The version of the library the program runs with, "MAJOR.MINOR.PATCH"
 * (the RECUR_VERSION_STRING of the headers it was built from). It differs
 * from the program's own RECUR_VERSION_STRING when a program runs with
 * another build of the shared library than the one it was compiled for:
 *
 *   if (strcmp(recur_version(), RECUR_VERSION_STRING) != 0)
 *       fprintf(stderr, "built for recur %s, running with %s\n", RECUR_VERSION_STRING, recur_version());
 */
RECUR_API const char *recur_version(void);

/** The most dimensions a tensor can have. */
#define RECUR_MAX_DIMS 4

/** Status of a call. 0 is success; every other value names a kind of failure. */
typedef enum recur_status {
    RECUR_OK = 0,
    RECUR_ERR_SHAPE,      /**< shapes of the operands do not fit the op */
    RECUR_ERR_ARG,        /**< a bad argument: NULL, out of range, unknown name */
    RECUR_ERR_VALUE,      /**< a value handle that is invalid or from another graph */
    RECUR_ERR_NOMEM,      /**< an allocation failed */
    RECUR_ERR_STATE,      /**< the call is not allowed in the object's current state */
    RECUR_ERR_FEED,       /**< a missing or wrongly sized input at run time */
    RECUR_ERR_RUNTIME,    /**< a kernel found bad data (index out of range, NaN) */
    RECUR_ERR_NOGRAD,     /**< an op has no gradient rule for the requested input */
    RECUR_ERR_IO,         /**< a file could not be read or written */
    RECUR_ERR_FORMAT,     /**< a file or string is malformed or corrupt */
    RECUR_ERR_UNSUPPORTED /**< the feature is not available in this build */
} recur_status;

/** A short, static English name of a status code ("shape mismatch", ...). */
RECUR_API const char *recur_status_str(recur_status s);

/**
 * Caps the threads recur runs on at n, for the whole process: its pool of
 * worker threads (the caller and n - 1 workers) for large elementwise
 * kernels and large matrix products, and oneDNN's. n = 0 restores the
 * default: the OMP_NUM_THREADS of the environment if set, else the
 * processors this process may run on (sched_getaffinity). recur decides per
 * kernel how many of them pay: small kernels (a step of generation, the
 * per-step products of a small batch) run on the calling thread alone.
 * Results do not depend on n, bit for bit. Takes effect for the kernels
 * that start after it; plans compiled earlier stay valid. RECUR_ERR_ARG
 * for n < 0; more than 64 is taken as 64.
 */
RECUR_API recur_status recur_set_threads(int n);

/** The threads recur may use now (recur_set_threads' cap, or the default it describes); >= 1. */
RECUR_API int recur_threads(void);


/**
 * A tensor shape: ndim dimensions d[0..ndim-1], row-major. ndim == 0 is a
 * scalar (one element). Dimensions are >= 1.
 */
typedef struct recur_shape {
    int ndim;
    int64_t d[RECUR_MAX_DIMS];
} recur_shape;

/** Shape constructors: recur_shape0() is a scalar, recur_shape2(3, 4) a 3x4 matrix. */
RECUR_API recur_shape recur_shape0(void);
RECUR_API recur_shape recur_shape1(int64_t d0);
RECUR_API recur_shape recur_shape2(int64_t d0, int64_t d1);
RECUR_API recur_shape recur_shape3(int64_t d0, int64_t d1, int64_t d2);
RECUR_API recur_shape recur_shape4(int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/**
 * Number of elements of a shape (1 for a scalar). A product beyond
 * INT64_MAX gives INT64_MAX (never a wrapped value); a shape with a
 * negative dimension or a rank outside 0..RECUR_MAX_DIMS gives -1.
 */
RECUR_API int64_t recur_shape_numel(recur_shape s);

/** 1 when both shapes have the same rank and dimensions. */
RECUR_API int recur_shape_equal(recur_shape a, recur_shape b);

/**
 * Writes a shape as "[3, 4]" ("[]" for a scalar) into buf (always
 * NUL-terminated) and returns buf, so it can be used inside printf.
 */
RECUR_API char *recur_shape_str(recur_shape s, char *buf, size_t len);

/**
 * A value of a graph: the output of one node, named by its id. Values are
 * small and copied freely. id < 0 is the invalid value, returned by a
 * builder that failed (the graph's error message says why); passing an
 * invalid value to another builder makes it fail too, keeping the first
 * message, so a chain of calls can be checked once at its end.
 */
typedef struct recur_value {
    int32_t id;
} recur_value;

/** The invalid value. */
#define RECUR_NONE ((recur_value){-1})

/** 1 when v is a valid handle (it may still belong to another graph). */
static inline int recur_ok(recur_value v) { return v.id >= 0; }

#ifdef __cplusplus
}
#endif
#endif
