/* Helpers for the trainer tests (see train_helpers.h). */
#include "train_helpers.h"
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/data.h"
#include "ropelab/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rl_model *tt_tiny_model(int V, int T, uint64_t seed, double sd) {
    rl_model_config c;
    rl_model_config_default(&c);
    c.vocab_size = V;
    c.d_model = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.head_dim = 8;
    c.d_ff = 32;
    c.max_seq = T;
    c.bos_id = c.eos_id = 1;
    rl_model *m = rl_model_new(&c, 1);
    cr_assert_not_null(m, "%s", rl_error());
    ref_randomize(m, seed, sd);
    return m;
}

char *tt_make_data(const char *dir, const char *name, int vocab, uint64_t seed) {
    static const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "from",
                                  "home", "while", "birds", "sang", "in", "trees", "under", "blue", "sky", "of", "old",
                                  "ships"};
    char text[4200], out[4200];
    snprintf(text, sizeof text, "%s/%s.txt", dir, name);
    snprintf(out, sizeof out, "%s/%s", dir, name);
    FILE *f = fopen(text, "wb");
    cr_assert_not_null(f);
    rl_rng r;
    rl_rng_seed(&r, seed);
    for (int d = 0; d < 40; d++) {
        int prev = 0;
        for (int w = 0; w < 400; w++) {
            /* a Markov chain: mostly the next word in the list, sometimes a random one */
            int k = rl_rng_uniform(&r) < 0.7 ? (prev + 1) % 24 : (int)rl_rng_below(&r, 24);
            fprintf(f, w ? " %s" : "%s", words[k]);
            prev = k;
        }
        fputs("\n\f", f);
    }
    fclose(f);
    rl_prepare_opts o;
    rl_prepare_defaults(&o);
    const char *files[1] = {text};
    o.files = files;
    o.n_files = 1;
    o.vocab_size = vocab;
    o.out_dir = out;
    rl_prepare_stats st;
    cr_assert_eq(rl_data_prepare(&o, &st), 0, "%s", rl_error());
    return strdup(out);
}

int tt_tool(const char *env, const char *args, char **out) {
    const char *bin = getenv("ROPELAB_BIN");
    size_t n = strlen(args) + 8192;
    char *cmd = malloc(n);
    /* "; exit $?": the tool is not the subshell's last command, so a SIGKILL is reported (as
     * "Killed") inside the captured output rather than on the test runner's terminal */
    snprintf(cmd, n, "%s ROPELAB_QUIET=1 '%s' %s; exit $?", env ? env : "", bin && *bin ? bin : "./ropelab", args);
    int rc = rt_sh(cmd, out);
    free(cmd);
    return rc;
}

char *tt_slurp(const char *path, size_t *n) {
    char *d;
    size_t len;
    if (rl_read_file(path, &d, &len) != 0) return NULL;
    if (n) *n = len;
    return d;
}

int tt_same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = tt_slurp(a, &na), *y = tt_slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

char *tt_log_without_speed(const char *path) {
    char *s = tt_slurp(path, NULL);
    if (!s) return NULL;
    char *out = malloc(strlen(s) + 1), *o = out;
    /* columns: step,loss,lr,grad_norm,tokens_per_s,val_loss: drop the fifth */
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        int col = 0;
        for (char *p = line; *p; p++) {
            if (*p == ',') col++;
            if (col != 4 || *p == ',') *o++ = *p;
        }
        *o++ = '\n';
    }
    *o = '\0';
    free(s);
    return out;
}
