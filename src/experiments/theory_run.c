/* `ropelab theory` as a library call: options, running the selected experiments, summary.json. */
#include "theory_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[RL_THEORY_COUNT] = {"decay", "prop32", "prop31", "positional", "semantic"};
static const char *const papers[RL_THEORY_COUNT] = {"Fig. 2, Fig. 9", "Prop 3.2", "Prop 3.1", "Prop 5.2, Thm 5.3",
                                                    "Thm 6.1"};
static int (*const runners[RL_THEORY_COUNT])(th_ctx *) = {th_run_decay, th_run_prop32, th_run_prop31,
                                                          th_run_positional, th_run_semantic};

const char *rl_theory_name(int id) { return id >= 0 && id < RL_THEORY_COUNT ? names[id] : "?"; }

int rl_theory_lookup(const char *name) {
    for (int i = 0; i < RL_THEORY_COUNT; i++)
        if (strcmp(name, names[i]) == 0) return i;
    if (name[0] >= '1' && name[0] < '1' + RL_THEORY_COUNT && name[1] == '\0') return name[0] - '1';
    return -1;
}

void rl_theory_opts_default(rl_theory_opts *o) {
    memset(o, 0, sizeof *o);
    o->out_dir = "out/theory";
    o->dim = 256;
    o->theta = 10000;
    o->theta_long = 500000;
    o->samples = 100000;
    o->decay_samples = 100;
    o->max_distance = 5000;
    o->window = 10000;
    o->queries = 16;
    o->heads = 4096;
    o->lengths[0] = 1024;
    o->lengths[1] = 8192;
    o->n_lengths = 2;
    o->eps = 0.01;
    o->gamma_deg = 90;
    o->nstar_cap = INT32_MAX;
    o->seed = 1234;
}

/* Every option checked up front, so that a bad value fails before any work is done. The upper limits
 * keep any run within minutes (the defaults take seconds). */
int rl_theory_check(const rl_theory_opts *o) {
    if (!o->out_dir || !*o->out_dir) return rl_fail("theory: the output folder is empty");
    if (o->dim < 2 || o->dim % 2 || o->dim > 65536) return rl_fail("theory: dim %d must be even, in [2, 65536]", o->dim);
    if (!(o->theta > 1) || !(o->theta_long > 1))
        return rl_fail("theory: theta %g and theta_long %g must be > 1", o->theta, o->theta_long);
    if (o->samples < 2 || o->samples > (int64_t)1e8) return rl_fail("theory: samples %lld must be in [2, 1e8]", (long long)o->samples);
    if (o->decay_samples < 2 || o->decay_samples > (int64_t)1e5)
        return rl_fail("theory: decay samples %lld must be in [2, 1e5]", (long long)o->decay_samples);
    if (o->max_distance < 50 || o->max_distance > (int64_t)1e6)
        return rl_fail("theory: max distance %lld must be in [50, 1e6] (the decay verdict compares r in [0, 9] with "
                       "r in [0.8R, R])", (long long)o->max_distance);
    if (o->window < 2 || o->window > (int64_t)1e6) return rl_fail("theory: window %lld must be in [2, 1e6]", (long long)o->window);
    if (o->queries < 1 || o->queries > 10000) return rl_fail("theory: queries %lld must be in [1, 10000]", (long long)o->queries);
    if (o->heads < 1 || o->heads > (int64_t)1e6) return rl_fail("theory: heads %lld must be in [1, 1e6]", (long long)o->heads);
    if (o->n_lengths < 1 || o->n_lengths > 8) return rl_fail("theory: give 1 to 8 lengths (got %d)", o->n_lengths);
    for (int l = 0; l < o->n_lengths; l++)
        if (o->lengths[l] < 2 || o->lengths[l] > (1 << 20))
            return rl_fail("theory: length %lld must be in [2, 1048576]", (long long)o->lengths[l]);
    if (!(o->eps > 0 && o->eps < 0.5)) return rl_fail("theory: eps %g must be in (0, 0.5)", o->eps);
    if (!(o->gamma_deg > 0 && o->gamma_deg <= 180)) return rl_fail("theory: gamma %g must be in (0, 180] degrees", o->gamma_deg);
    if (o->nstar_cap < 2) return rl_fail("theory: nstar cap %lld must be >= 2", (long long)o->nstar_cap);
    if (o->threads < 0 || o->threads > 1024) return rl_fail("theory: threads %d must be in [0, 1024]", o->threads);
    if (o->only >> RL_THEORY_COUNT) return rl_fail("theory: unknown experiment selected (mask 0x%x)", o->only);
    return 0;
}

/* ---- the per-experiment context (theory_internal.h) ---------------------------------------- */

int th_open(th_ctx *x, rl_afile *f, const char *name) {
    char path[4096];
    if (rl_path(path, sizeof path, "%s/%s", x->o->out_dir, name) != 0) return -1;
    if (rl_afile_open(f, path) != 0) return -1;
    cJSON_AddItemToArray(x->files, cJSON_CreateString(name));
    return 0;
}

int th_commit(rl_afile *f) {
    if (ferror(f->fp)) {
        rl_fail("%s: write error", f->path);
        rl_afile_abort(f);
        return -1;
    }
    return rl_afile_commit(f);
}

int th_figure(th_ctx *x, const char *name, int width, int height, const char *body) {
    rl_figure_opts fo = {width, height};
    if (rl_figure(x->o->out_dir, name, body, &fo) != 0) return -1;
    const char *ext[3] = {"gp", "png", "svg"};
    for (int i = 0; i < 3; i++) {
        char fn[256];
        snprintf(fn, sizeof fn, "%s.%s", name, ext[i]);
        cJSON_AddItemToArray(x->files, cJSON_CreateString(fn));
    }
    return 0;
}

void th_stat(th_ctx *x, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(x->stats, key, v);
    else cJSON_AddStringToObject(x->stats, key, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

void th_stat_str(th_ctx *x, const char *key, const char *v) { cJSON_AddStringToObject(x->stats, key, v); }

/* ---- the run ------------------------------------------------------------------------------ */

static cJSON *settings_json(const rl_theory_opts *o) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "dim", o->dim);
    cJSON_AddNumberToObject(s, "theta", o->theta);
    cJSON_AddNumberToObject(s, "theta_long", o->theta_long);
    cJSON_AddNumberToObject(s, "samples", (double)o->samples);
    cJSON_AddNumberToObject(s, "decay_samples", (double)o->decay_samples);
    cJSON_AddNumberToObject(s, "max_distance", (double)o->max_distance);
    cJSON_AddNumberToObject(s, "window", (double)o->window);
    cJSON_AddNumberToObject(s, "queries", (double)o->queries);
    cJSON_AddNumberToObject(s, "heads", (double)o->heads);
    cJSON *l = cJSON_AddArrayToObject(s, "lengths");
    for (int i = 0; i < o->n_lengths; i++) cJSON_AddItemToArray(l, cJSON_CreateNumber((double)o->lengths[i]));
    cJSON_AddNumberToObject(s, "eps", o->eps);
    cJSON_AddNumberToObject(s, "gamma_deg", o->gamma_deg);
    cJSON_AddNumberToObject(s, "nstar_cap", (double)o->nstar_cap);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed); /* exact, whatever its size */
    cJSON_AddStringToObject(s, "seed", seed);
    cJSON_AddStringToObject(s, "logits", "q^T R^r k in float64, without the 1/sqrt(d) factor");
    return s;
}

int rl_theory_run(const rl_theory_opts *o, rl_theory_verdict *out) {
    if (out) memset(out, 0, RL_THEORY_COUNT * sizeof *out);
    if (rl_theory_check(o) != 0) return -1;
    if (rl_mkdirs(o->out_dir) != 0) return -1;
    int saved_threads = omp_get_max_threads();
    if (o->threads > 0) omp_set_num_threads(o->threads);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "tool", "ropelab theory");
    cJSON_AddItemToObject(root, "settings", settings_json(o));
    cJSON *exps = cJSON_AddArrayToObject(root, "experiments");
    int rc = 0;
    for (int id = 0; id < RL_THEORY_COUNT && rc == 0; id++) {
        if (o->only && !(o->only & (1u << id))) continue;
        th_ctx x;
        memset(&x, 0, sizeof x);
        x.o = o;
        x.stats = cJSON_CreateObject();
        x.files = cJSON_CreateArray();
        double t0 = rl_now();
        if (runners[id](&x) != 0) {
            rl_fail_prefix("theory %s", names[id]);
            cJSON_Delete(x.stats);
            cJSON_Delete(x.files);
            rc = -1;
            break;
        }
        double dt = rl_now() - t0;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", names[id]);
        cJSON_AddStringToObject(e, "paper", papers[id]);
        cJSON_AddStringToObject(e, "claim", x.claim);
        cJSON_AddItemToObject(e, "statistics", x.stats);
        cJSON_AddStringToObject(e, "verdict", x.supported ? "supported" : "not supported");
        cJSON_AddStringToObject(e, "rule", x.rule);
        cJSON_AddStringToObject(e, "summary", x.line);
        cJSON_AddItemToObject(e, "files", x.files);
        cJSON_AddNumberToObject(e, "seconds", dt);
        cJSON_AddItemToArray(exps, e);
        if (out) {
            out[id].ran = 1;
            out[id].supported = x.supported;
            out[id].seconds = dt;
            snprintf(out[id].line, sizeof out[id].line, "%s", x.line);
        }
        if (o->print) {
            printf("%-10s %-13s %s\n", names[id], x.supported ? "supported" : "NOT SUPPORTED", x.line);
            fflush(stdout);
        }
    }
    if (rc == 0) {
        char path[4096], *text = cJSON_Print(root);
        if (!text) rc = rl_fail("theory: out of memory formatting summary.json");
        else if (rl_path(path, sizeof path, "%s/summary.json", o->out_dir) != 0 ||
                 rl_write_atomic(path, text, strlen(text)) != 0)
            rc = -1;
        free(text);
    }
    cJSON_Delete(root);
    omp_set_num_threads(saved_threads);
    return rc;
}
