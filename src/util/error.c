/* Thread-local error message: the one place every failure is described. */
#include "ropelab/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_err[1024];

int rl_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return -1;
}

int rl_fail_prefix(const char *fmt, ...) {
    char prefix[512], old[sizeof g_err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_err, sizeof old);
    size_t k = strlen(prefix);
    if (k > sizeof g_err - 3) k = sizeof g_err - 3;
    memcpy(g_err, prefix, k);
    g_err[k] = ':';
    g_err[k + 1] = ' ';
    size_t room = sizeof g_err - k - 3, m = strlen(old);
    if (m > room) m = room;
    memcpy(g_err + k + 2, old, m);
    g_err[k + 2 + m] = '\0';
    return -1;
}

const char *rl_error(void) { return g_err; }

void rl_clear_error(void) { g_err[0] = '\0'; }
