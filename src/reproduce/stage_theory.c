/* The theory stage: rl_theory_run with the scale's settings into its stage folder. */
#include "repro_internal.h"
#include "ropelab/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

void rp_theory_opts(const rl_repro_scale *s, rl_theory_opts *o) {
    rl_theory_opts_default(o);
    if (!s->reduced_theory) return;
    /* micro: every experiment and figure, at sizes that take about a second */
    o->dim = 64;
    o->samples = 4000;
    o->decay_samples = 20;
    o->max_distance = 2000; /* the all-ones curve needs this long to fall below the decay threshold */
    o->window = 1000;
    o->queries = 4;
    o->heads = 256;
    o->lengths[0] = 256;
    o->lengths[1] = 1024;
    o->n_lengths = 2;
}

char *rp_theory_config(const rp_ctx *x) {
    rl_theory_opts o;
    rp_theory_opts(x->scale, &o);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "stage", "theory");
    cJSON_AddNumberToObject(c, "dim", o.dim);
    cJSON_AddNumberToObject(c, "theta", o.theta);
    cJSON_AddNumberToObject(c, "theta_long", o.theta_long);
    cJSON_AddNumberToObject(c, "samples", (double)o.samples);
    cJSON_AddNumberToObject(c, "decay_samples", (double)o.decay_samples);
    cJSON_AddNumberToObject(c, "max_distance", (double)o.max_distance);
    cJSON_AddNumberToObject(c, "window", (double)o.window);
    cJSON_AddNumberToObject(c, "queries", (double)o.queries);
    cJSON_AddNumberToObject(c, "heads", (double)o.heads);
    cJSON *l = cJSON_AddArrayToObject(c, "lengths");
    for (int i = 0; i < o.n_lengths; i++) cJSON_AddItemToArray(l, cJSON_CreateNumber((double)o.lengths[i]));
    cJSON_AddNumberToObject(c, "eps", o.eps);
    cJSON_AddNumberToObject(c, "gamma_deg", o.gamma_deg);
    cJSON_AddNumberToObject(c, "nstar_cap", (double)o.nstar_cap);
    cJSON_AddNumberToObject(c, "seed", (double)o.seed);
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    return s;
}

int rp_theory_run(plan *p, plan_stage *s, const char *dir, void *user) {
    rp_ctx *x = user;
    rl_theory_opts o;
    rp_theory_opts(x->scale, &o);
    o.out_dir = dir;
    o.threads = omp_get_max_threads();
    o.print = 0;
    plan_tick(p, s, 0.05, "figures 2, 9; Props 3.1, 3.2, 5.2; Thms 5.3, 6.1");
    return rl_theory_run(&o, NULL);
}
