/* Shared test helpers: where the real models are, temp folders, running the `ropelab` tool. */
#ifndef ROPELAB_TEST_HELPERS_H
#define ROPELAB_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <stddef.h>

/* The folder of real pretrained models: $ROPELAB_TEST_MODELS, else ../shared/models relative
 * to the project root. NULL when absent. */
const char *rt_models_dir(void);

/* Use at the top of a test that needs the real models: skips with a visible message when they
 * are absent, or fails when ROPELAB_REQUIRE_MODELS=1 (CI sets it, so nothing is skipped there). */
#define RT_REQUIRE_MODELS()                                                                              \
    do {                                                                                                 \
        if (!rt_models_dir()) {                                                                          \
            if (rt_models_required()) cr_assert_fail("real test models required (ROPELAB_REQUIRE_MODELS=1) but " \
                                              "../shared/models is absent");                             \
            rt_note_skip(__func__);                                                                      \
            cr_skip_test("SKIPPED: ../shared/models (or $ROPELAB_TEST_MODELS) is absent");              \
        }                                                                                                \
    } while (0)
int rt_models_required(void);
void rt_note_skip(const char *test);

/* Creates a fresh temp folder (removed by rt_rmtree). Returns a static-lifetime path copy. */
char *rt_tmpdir(void);
void rt_rmtree(const char *path);

/* Runs `$ROPELAB_BIN ARGS` (ARGS is a shell-quoted string) with output captured.
 * Returns the exit status; *out (may be NULL) receives stdout+stderr (free it). */
int rt_run_tool(const char *args, char **out);
/* Runs any shell command, same contract. */
int rt_sh(const char *cmd, char **out);

/* max |a - b| / max |a| over n floats (0 when a is all zero): how far apart two gradients are,
 * relative to the first one's scale. */
double rt_max_rel_diff(const float *a, const float *b, size_t n);

/* Path of the project root ($ROPELAB_ROOT, set by make; else "."). */
const char *rt_root(void);

#endif
