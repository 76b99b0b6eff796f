/*
 * backends/registry.c — the backends built into this library, by name, and
 * the public calls that compile for a backend named in their options.
 */
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

static const recur_backend *const backends[] = {
    &recur_backend_reference_impl,
    &recur_backend_onednn_impl,
};

/*
 * The RECUR_BACKEND environment variable if set and not empty, else the
 * fastest backend built in: oneDNN (the reference backend is the tests'
 * oracle, which they name).
 */
static const char *default_name(void)
{
    const char *env = getenv("RECUR_BACKEND");
    return env && env[0] ? env : "onednn";
}

/* The backend called `name` (NULL: the default), or NULL if it is not built in. */
static const recur_backend *find(const char *name)
{
    if (!name) name = default_name();
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

int recur_backend_available(const char *name) { return name && find(name) != NULL; }

/* The backend opts name (or the default), or NULL with the reason on g. */
static const recur_backend *backend_for(recur_graph *g, const recur_compile_opts *opts, const char *who)
{
    const char *name = opts ? opts->backend : NULL;
    const recur_backend *be = find(name);
    if (!be && g)
        recur_set_error(g, RECUR_ERR_UNSUPPORTED, "%s: backend \"%s\"%s is not built into this library", who,
                        name ? name : default_name(), name ? "" : " (from RECUR_BACKEND)");
    return be;
}

recur_plan *recur_compile_fed(recur_graph *g, int n_outputs, const recur_value *outputs, int n_fed,
                              const recur_value *fed, const recur_compile_opts *opts)
{
    const recur_backend *be = backend_for(g, opts, "compile");
    return be ? recur_plan_compile(g, n_outputs, outputs, n_fed, fed, opts, be) : NULL;
}

recur_plan *recur_compile(recur_graph *g, int n_outputs, const recur_value *outputs, const recur_compile_opts *opts)
{
    return recur_compile_fed(g, n_outputs, outputs, 0, NULL, opts);
}

recur_stepper *recur_stepper_new(recur_graph *g, recur_loop l, int n_outputs, const recur_value *outputs,
                                 const recur_compile_opts *opts)
{
    const recur_backend *be = backend_for(g, opts, "stepper");
    return be ? recur_stepper_compile(g, l, n_outputs, outputs, opts, be) : NULL;
}
