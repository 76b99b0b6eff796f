/*
 * cli/threads.c — the thread count of the recur tool, through the
 * library's recur_set_threads (see threads.h).
 */
#include "threads.h"

#include "recur.h"

void cli_set_threads(int64_t n) { recur_set_threads(n > 64 ? 64 : (int)n); }

int cli_threads(void) { return recur_threads(); }
