/* The train stage: one variant x seed trained from scratch by the trainer (rl_train_run) into
 * runs/<hash>/run, resumed from its last checkpoint when an earlier run was interrupted. */
#include "repro_internal.h"
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seed s of every variant: the same initial weights (the variants' parameters have the same shapes)
 * and the same batches. */
#define SEED_BASE 1337

int rp_train_config_of(const rp_ctx *x, int v, int s, rl_train_config *c) {
    const rl_repro_scale *sc = x->scale;
    rl_train_config_default(c);
    rl_model_config *m = &c->model;
    m->d_model = sc->d_model;
    m->n_layers = sc->n_layers;
    m->n_heads = sc->n_heads;
    m->n_kv_heads = sc->n_kv_heads;
    m->head_dim = sc->head_dim;
    m->d_ff = sc->d_ff;
    m->max_seq = sc->ctx;
    if (rl_model_config_set_pe(m, x->variants[v].pe) != 0)
        return rl_fail_prefix("variant %s (%s)", x->variants[v].name, x->variants[v].pe);
    snprintf(c->data, sizeof c->data, "%s", x->data_dir);
    c->steps = sc->steps;
    c->warmup = sc->warmup;
    c->batch = sc->batch;
    c->lr = sc->lr;
    c->min_lr = sc->min_lr;
    c->weight_decay = sc->weight_decay;
    c->clip = sc->clip;
    c->eval_every = 0;                   /* the eval stage measures; the trainer only checks the last step */
    c->eval_tokens = sc->eval_tokens;
    c->ckpt_every = sc->steps >= 8 ? sc->steps / 4 : sc->steps; /* what an interruption can lose */
    c->keep_ckpts = 1;
    c->seed = SEED_BASE + s;
    c->threads = x->threads_per_job;
    c->figures = 0;                      /* the report draws its own figures */
    return 0;
}

char *rp_train_config(const rp_ctx *x, int v, int s) {
    rl_train_config c;
    if (rp_train_config_of(x, v, s, &c) != 0) return NULL;
    char *t = rl_train_config_to_json(&c);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    if (!j) {
        rl_fail("train %s seed %d: the training config does not serialise (internal error)", x->variants[v].name, s);
        return NULL;
    }
    /* the data by content, not by path; figures do not change a number */
    cJSON_DeleteItemFromObjectCaseSensitive(j, "data");
    cJSON_DeleteItemFromObjectCaseSensitive(j, "figures");
    cJSON_AddStringToObject(j, "stage", "train");
    cJSON_AddStringToObject(j, "variant", x->variants[v].name);
    cJSON_AddNumberToObject(j, "seed_index", s);
    cJSON_AddStringToObject(j, "data_id", x->data_id);
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    return out;
}

typedef struct {
    plan *p;
    plan_stage *s;
} tick_ctx;

static void on_step(void *ctx, const rl_train_progress *pr) {
    tick_ctx *t = ctx;
    char note[96];
    snprintf(note, sizeof note, "step %lld/%lld loss %.3f", (long long)pr->step, (long long)pr->steps, pr->s.loss);
    plan_tick(t->p, t->s, (double)pr->step / (double)pr->steps, note);
}

int rp_train_run(plan *p, plan_stage *s, const char *dir, void *user) {
    rp_ctx *x = user;
    rl_train_config c;
    char run[4200], cfg[4300];
    if (rp_train_config_of(x, s->tag[0], s->tag[1], &c) != 0) return -1;
    if (rl_path(run, sizeof run, "%s/%s", dir, RP_TRAIN_RUN) != 0) return -1;
    if (rl_path(cfg, sizeof cfg, "%s/train_config.json", run) != 0) return -1;
    tick_ctx t = {p, s};
    /* a run folder that holds a run was interrupted: continue it from its newest checkpoint */
    rl_train_opts o = {.resume = rl_file_exists(cfg), .quiet = 1, .on_step = on_step, .ctx = &t};
    rl_train_result res;
    if (rl_train_run(&c, run, &o, &res) != 0) return -1;
    return 0;
}
