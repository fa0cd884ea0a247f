/* The eval stage: one trained run evaluated (rl_eval_run) at the scale's multiples of its training
 * context, with the plain softmax it was trained with and adaptive temperature at inference, into
 * evals/<hash>/eval.json (the trainer's evaluation report). */
#include "repro_internal.h"
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The inference-time override besides the model's own plain softmax (collect.c reads both rows). */
static const char *const overrides[RP_NSOFTMAX - 1] = {"adaptive"};

char *rp_eval_config(const rp_ctx *x, int train_stage) {
    const rl_repro_scale *sc = x->scale;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "stage", "eval");
    cJSON_AddStringToObject(c, "run", x->plan.st[train_stage].hash);
    cJSON *a = cJSON_AddArrayToObject(c, "contexts");
    for (int m = 0; m < sc->n_mults; m++) cJSON_AddItemToArray(a, cJSON_CreateNumber(sc->mults[m] * sc->ctx));
    cJSON *k = cJSON_AddArrayToObject(c, "softmax_overrides");
    for (int i = 0; i < x->n_softmax - 1; i++) cJSON_AddItemToArray(k, cJSON_CreateString(overrides[i]));
    cJSON_AddNumberToObject(c, "max_tokens", (double)sc->eval_tokens);
    cJSON_AddStringToObject(c, "data_id", x->data_id);
    cJSON_AddNumberToObject(c, "threads", x->threads_per_job);
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    return s;
}

int rp_eval_run(plan *p, plan_stage *s, const char *dir, void *user) {
    rp_ctx *x = user;
    const rl_repro_scale *sc = x->scale;
    char run[4300];
    if (plan_dir(p, s->tag[2], run, sizeof run - 8) != 0) return -1;
    strcat(run, "/" RP_TRAIN_RUN);
    int ctx[RP_MAX_MULTS];
    for (int m = 0; m < sc->n_mults; m++) ctx[m] = sc->mults[m] * sc->ctx;
    rl_eval_opts o = {.contexts = ctx,
                      .n_contexts = sc->n_mults,
                      .softmax = overrides,
                      .n_softmax = x->n_softmax - 1,
                      .max_tokens = sc->eval_tokens,
                      .threads = omp_get_max_threads(),
                      .quiet = 1};
    plan_tick(p, s, 0.1, "evaluating");
    rl_eval_report r;
    if (rl_eval_run(run, x->data_dir, &o, &r) != 0) return -1;
    int rc = rl_eval_report_write(&r, dir);
    rl_eval_report_free(&r);
    return rc;
}
