/* Shared test helpers (see helpers.h). */
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *rt_root(void) {
    const char *r = getenv("ROPELAB_ROOT");
    return r && *r ? r : ".";
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *rt_models_dir(void) {
    static char buf[4096];
    const char *env = getenv("ROPELAB_TEST_MODELS");
    if (env && *env) return is_dir(env) ? env : NULL;
    snprintf(buf, sizeof buf, "%s/../shared/models", rt_root());
    return is_dir(buf) ? buf : NULL;
}

int rt_models_required(void) {
    const char *e = getenv("ROPELAB_REQUIRE_MODELS");
    return e && strcmp(e, "1") == 0;
}

void rt_note_skip(const char *test) {
    fprintf(stderr, "[SKIP] %s: needs ../shared/models (set ROPELAB_TEST_MODELS to its path)\n", test);
}

char *rt_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/ropelab-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    cr_assert_not_null(d, "mkdtemp failed");
    return strdup(d);
}

void rt_rmtree(const char *path) {
    if (!path || strncmp(path, "/tmp/", 5) != 0) return; /* never anything outside /tmp */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

int rt_sh(const char *cmd, char **out) {
    char *full = NULL;
    size_t cap = strlen(cmd) + 16;
    full = malloc(cap);
    snprintf(full, cap, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    free(full);
    cr_assert_not_null(p, "popen failed");
    size_t n = 0, sz = 4096;
    char *buf = malloc(sz);
    size_t k;
    while ((k = fread(buf + n, 1, sz - n - 1, p)) > 0) {
        n += k;
        if (sz - n < 1024) {
            sz *= 2;
            buf = realloc(buf, sz);
        }
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int rt_run_tool(const char *args, char **out) {
    const char *bin = getenv("ROPELAB_BIN");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "ROPELAB_QUIET=1 '%s' %s", bin && *bin ? bin : "./ropelab", args);
    return rt_sh(cmd, out);
}

double rt_max_rel_diff(const float *a, const float *b, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), s = fabs((double)a[i]);
        if (d > diff) diff = d;
        if (s > scale) scale = s;
    }
    return scale > 0 ? diff / scale : 0;
}
