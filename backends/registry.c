/*
 * backends/registry.c — the backends built into this library, by name.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/onednn/onednn.h"
#include "recur/exec.h"

static const recur_backend *const backends[] = {
    &recur_backend_reference_impl,
    &recur_backend_onednn_impl,
};

/* The RECUR_BACKEND environment variable if set and not empty, else "reference". */
const char *recur_backend_default_name(void)
{
    const char *env = getenv("RECUR_BACKEND");
    return env && env[0] ? env : "reference";
}

const recur_backend *recur_backend_find(const char *name)
{
    if (!name) name = recur_backend_default_name();
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

int recur_backend_available(const char *name) { return name && recur_backend_find(name) != NULL; }
