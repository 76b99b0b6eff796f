/*
 * backends/registry.c — the backends built into this library, by name.
 */
#include <string.h>

#include "backends/backend.h"
#include "recur/exec.h"

static const recur_backend *const backends[] = {
    &recur_backend_reference_impl,
};

const recur_backend *recur_backend_find(const char *name)
{
    if (!name) return &recur_backend_reference_impl;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

int recur_backend_available(const char *name) { return name && recur_backend_find(name) != NULL; }
