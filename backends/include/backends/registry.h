/*
 * backends/include/backends/registry.h — the backends built into the
 * library, by name (internal; recur_compile in recur/exec.h picks one).
 */
#ifndef RECUR_BACKENDS_REGISTRY_H
#define RECUR_BACKENDS_REGISTRY_H

#include "plan/backend.h"

/* The backend called `name` (NULL: the default, recur_backend_default_name()), or NULL if it is not built in. */
const recur_backend *recur_backend_find(const char *name);

/* The name of the default backend: $RECUR_BACKEND if set and not empty, else "reference". */
const char *recur_backend_default_name(void);

#endif
