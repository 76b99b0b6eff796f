/*
 * graph/version.c — the library's version at run time (recur/common.h).
 */
#include "recur/common.h"

const char *recur_version(void)
{
    return RECUR_VERSION_STRING;
}
