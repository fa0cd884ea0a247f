/* Training configuration: the training keys' table, defaults, JSON in and out, validation. */
#include "internal.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_I32, S_I64, S_DBL, S_BOOL, S_STR } storage;
typedef struct {
    rl_train_key k;
    storage st;
    size_t off;
} key_def;

#define K(name, type, st, help, res) {{#name, type, help, res}, st, offsetof(rl_train_config, name)}
static const key_def defs[] = {
    K(data, RL_TKEY_STR, S_STR, "prepared dataset folder (`ropelab data prepare`); required", 1),
    K(steps, RL_TKEY_INT, S_I64, "optimizer steps (default 2000)", 1),
    K(batch, RL_TKEY_INT, S_I32, "windows of max_seq tokens per micro-batch (default 16)", 0),
    K(grad_accum, RL_TKEY_INT, S_I32, "micro-batches accumulated per step (default 1)", 0),
    K(lr, RL_TKEY_NUM, S_DBL, "peak learning rate (default 1e-3)", 0),
    K(min_lr, RL_TKEY_NUM, S_DBL, "final learning rate of the cosine decay, <= lr (default 1e-4)", 0),
    K(warmup, RL_TKEY_INT, S_I64, "linear warm-up steps, <= steps (default 100)", 0),
    K(weight_decay, RL_TKEY_NUM, S_DBL, "AdamW decoupled weight decay on matrices and embeddings (default 0.1)", 0),
    K(beta1, RL_TKEY_NUM, S_DBL, "AdamW beta1 in [0, 1) (default 0.9)", 0),
    K(beta2, RL_TKEY_NUM, S_DBL, "AdamW beta2 in [0, 1) (default 0.95)", 0),
    K(eps, RL_TKEY_NUM, S_DBL, "AdamW epsilon > 0 (default 1e-8)", 0),
    K(clip, RL_TKEY_NUM, S_DBL, "clip the global gradient norm to this; 0 = off (default 1)", 0),
    K(eval_every, RL_TKEY_INT, S_I64, "validate every N steps and after the last; 0 = after the last only (default 200)", 1),
    K(eval_tokens, RL_TKEY_INT, S_I64, "validation tokens read per evaluation; 0 = the whole split (default 65536)", 1),
    K(ckpt_every, RL_TKEY_INT, S_I64, "checkpoint every N steps and after the last; 0 = after the last only (default 500)", 1),
    K(keep_ckpts, RL_TKEY_INT, S_I32, "complete checkpoints kept, the newest (default 2)", 1),
    K(seed, RL_TKEY_INT, S_I64, "seed of the initialisation and of the batch sampler, in [0, 2^53] (default 1337)", 0),
    K(threads, RL_TKEY_INT, S_I32, "OpenMP threads; 0 = OpenMP's default (bit-identical results need the same count)", 1),
    K(figures, RL_TKEY_BOOL, S_BOOL, "refresh OUT/loss.png and .svg at evaluation points (default true)", 1),
};
#undef K
#define N_DEFS ((int)(sizeof defs / sizeof defs[0]))

const rl_train_key *rl_train_keys(int *n) {
    static rl_train_key keys[sizeof defs / sizeof defs[0]];
    for (int i = 0; i < N_DEFS; i++) keys[i] = defs[i].k;
    *n = N_DEFS;
    return keys;
}

void rl_train_config_default(rl_train_config *c) {
    memset(c, 0, sizeof *c);
    rl_model_config_default(&c->model);
    c->model.vocab_size = 0; /* from the data */
    c->model.bos_id = c->model.eos_id = -2;
    c->steps = 2000;
    c->batch = 16;
    c->grad_accum = 1;
    c->lr = 1e-3;
    c->min_lr = 1e-4;
    c->warmup = 100;
    c->weight_decay = 0.1;
    c->beta1 = 0.9;
    c->beta2 = 0.95;
    c->eps = 1e-8;
    c->clip = 1.0;
    c->eval_every = 200;
    c->eval_tokens = 65536;
    c->ckpt_every = 500;
    c->keep_ckpts = 2;
    c->seed = 1337;
    c->threads = 0;
    c->figures = 1;
}

/* ---- validation -------------------------------------------------------------------------------- */

/* The model config with the "from the data" placeholders replaced by valid values. */
static rl_model_config placeholder_model(const rl_model_config *m) {
    rl_model_config t = *m;
    if (t.vocab_size == 0) t.vocab_size = 4096;
    if (t.bos_id == -2) t.bos_id = -1;
    if (t.eos_id == -2) t.eos_id = -1;
    return t;
}

int rl_train_config_validate(const rl_train_config *c) {
    const double seed_max = 9007199254740992.0; /* 2^53: larger seeds are not exact JSON numbers */
    if (c->steps < 1) return rl_fail("key steps: %lld must be at least 1", (long long)c->steps);
    if (c->batch < 1) return rl_fail("key batch: %d must be at least 1", c->batch);
    if (c->grad_accum < 1) return rl_fail("key grad_accum: %d must be at least 1", c->grad_accum);
    if (!(c->lr > 0 && isfinite(c->lr))) return rl_fail("key lr: %g must be a positive number", c->lr);
    if (!(c->min_lr >= 0 && c->min_lr <= c->lr))
        return rl_fail("key min_lr: %g must be in [0, lr = %g]", c->min_lr, c->lr);
    if (c->warmup < 0 || c->warmup > c->steps)
        return rl_fail("key warmup: %lld must be in [0, steps = %lld]", (long long)c->warmup, (long long)c->steps);
    if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return rl_fail("key weight_decay: %g must be a number >= 0", c->weight_decay);
    if (!(c->beta1 >= 0 && c->beta1 < 1)) return rl_fail("key beta1: %g must be in [0, 1)", c->beta1);
    if (!(c->beta2 >= 0 && c->beta2 < 1)) return rl_fail("key beta2: %g must be in [0, 1)", c->beta2);
    if (!(c->eps > 0 && isfinite(c->eps))) return rl_fail("key eps: %g must be a positive number", c->eps);
    if (!(c->clip >= 0 && isfinite(c->clip))) return rl_fail("key clip: %g must be a number >= 0 (0 = off)", c->clip);
    if (c->eval_every < 0) return rl_fail("key eval_every: %lld must be >= 0", (long long)c->eval_every);
    if (c->eval_tokens < 0) return rl_fail("key eval_tokens: %lld must be >= 0 (0 = all)", (long long)c->eval_tokens);
    if (c->ckpt_every < 0) return rl_fail("key ckpt_every: %lld must be >= 0", (long long)c->ckpt_every);
    if (c->keep_ckpts < 1) return rl_fail("key keep_ckpts: %d must be at least 1", c->keep_ckpts);
    if (c->seed < 0 || (double)c->seed > seed_max) return rl_fail("key seed: %lld must be in [0, 2^53]", (long long)c->seed);
    if (c->threads < 0 || c->threads > 4096) return rl_fail("key threads: %d must be in [0, 4096]", c->threads);
    if (c->model.vocab_size < 0) return rl_fail("key vocab_size: %d must be positive", c->model.vocab_size);
    if ((int64_t)c->batch * c->model.max_seq > 1 << 30)
        return rl_fail("key batch: batch * max_seq = %lld tokens per micro-batch is too many (at most 2^30)",
                       (long long)c->batch * c->model.max_seq);
    rl_model_config t = placeholder_model(&c->model);
    if (rl_model_config_validate(&t) != 0) return -1;
    if (rl_model_config_check_trainable(&t) != 0) return -1;
    return 0;
}

/* ---- JSON -------------------------------------------------------------------------------------- */

static const key_def *find_def(const char *key) {
    for (int i = 0; i < N_DEFS; i++)
        if (strcmp(defs[i].k.key, key) == 0) return &defs[i];
    return NULL;
}

/* 1 when `key` is a model key: a key of the model config's JSON, or "arch". */
static int is_model_key(const cJSON *model_keys, const char *key) {
    return strcmp(key, "arch") == 0 || cJSON_GetObjectItemCaseSensitive(model_keys, key) != NULL;
}

static cJSON *model_key_set(void) {
    rl_model_config d;
    rl_model_config_default(&d);
    char *s = rl_model_config_to_json(&d);
    cJSON *o = s ? cJSON_Parse(s) : NULL;
    free(s);
    if (!o) rl_fail("out of memory");
    return o;
}

static int set_key(rl_train_config *c, const key_def *d, const cJSON *v, const char *src) {
    void *p = (char *)c + d->off;
    switch (d->st) {
    case S_STR:
        if (!cJSON_IsString(v)) return rl_fail("%s: key %s: expected a string", src, d->k.key);
        if (strlen(v->valuestring) >= sizeof c->data) return rl_fail("%s: key %s: too long", src, d->k.key);
        strcpy((char *)p, v->valuestring);
        return 0;
    case S_BOOL:
        if (!cJSON_IsBool(v)) return rl_fail("%s: key %s: expected true or false", src, d->k.key);
        *(int *)p = cJSON_IsTrue(v);
        return 0;
    case S_DBL:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return rl_fail("%s: key %s: expected a finite number", src, d->k.key);
        *(double *)p = v->valuedouble;
        return 0;
    case S_I32:
    case S_I64: {
        double x = v->valuedouble, lim = d->st == S_I32 ? 2147483647.0 : 9.2e18;
        if (!cJSON_IsNumber(v) || x != floor(x) || fabs(x) > lim)
            return rl_fail("%s: key %s: expected an integer%s", src, d->k.key, d->st == S_I32 ? " in the int32 range" : "");
        if (d->st == S_I32)
            *(int *)p = (int)x;
        else
            *(int64_t *)p = (int64_t)x;
        return 0;
    }
    }
    return -1;
}

int rl_train_config_from_json(rl_train_config *c, const char *json, const char *source) {
    const char *src = source ? source : "config";
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return rl_fail("%s: not valid JSON (near byte offset %ld)", src, at && at >= json ? (long)(at - json) : -1L);
    }
    int rc = -1;
    cJSON *mkeys = NULL, *mobj = NULL;
    char *mtext = NULL;
    rl_train_config t = *c;
    if (!cJSON_IsObject(root)) {
        rl_fail("%s: expected a JSON object", src);
        goto done;
    }
    if (!(mkeys = model_key_set()) || !(mobj = cJSON_CreateObject())) goto done;
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        const key_def *d = find_def(v->string);
        if (d) {
            if (set_key(&t, d, v, src) != 0) goto done;
        } else if (is_model_key(mkeys, v->string)) {
            cJSON_AddItemToObject(mobj, v->string, cJSON_Duplicate(v, 1));
        } else {
            rl_fail("%s: key %s is unknown (training keys: docs/train.md; model keys: docs/model.md)", src, v->string);
            goto done;
        }
    }
    if (cJSON_GetArraySize(mobj) > 0) {
        /* the model parser validates its result, so stand-ins replace the "from the data" values */
        rl_model_config m = placeholder_model(&t.model);
        if (!(mtext = cJSON_PrintUnformatted(mobj))) {
            rl_fail("out of memory");
            goto done;
        }
        if (rl_model_config_from_json(&m, mtext, src) != 0) goto done;
        int arch = cJSON_GetObjectItemCaseSensitive(mobj, "arch") != NULL;
        if (!cJSON_GetObjectItemCaseSensitive(mobj, "vocab_size") && (arch || t.model.vocab_size == 0)) m.vocab_size = 0;
        if (!cJSON_GetObjectItemCaseSensitive(mobj, "bos_id") && (arch || t.model.bos_id == -2)) m.bos_id = -2;
        if (!cJSON_GetObjectItemCaseSensitive(mobj, "eos_id") && (arch || t.model.eos_id == -2)) m.eos_id = -2;
        t.model = m;
    }
    if (rl_train_config_validate(&t) != 0) {
        rl_fail_prefix("%s", src);
        goto done;
    }
    *c = t;
    rc = 0;
done:
    free(mtext);
    cJSON_Delete(mobj);
    cJSON_Delete(mkeys);
    cJSON_Delete(root);
    return rc;
}

int rl_train_config_load(rl_train_config *c, const char *path) {
    char *data;
    size_t len;
    if (rl_read_file(path, &data, &len) != 0) return -1;
    int rc = rl_train_config_from_json(c, data, path);
    free(data);
    return rc;
}

char *rl_train_config_to_json(const rl_train_config *c) {
    char *ms = rl_model_config_to_json(&c->model);
    cJSON *o = ms ? cJSON_Parse(ms) : NULL;
    free(ms);
    if (!o) {
        rl_fail("train config: out of memory writing JSON");
        return NULL;
    }
    /* "from the data" placeholders are left out, so the text parses back to the same config */
    if (c->model.vocab_size == 0) cJSON_DeleteItemFromObjectCaseSensitive(o, "vocab_size");
    if (c->model.bos_id == -2) cJSON_DeleteItemFromObjectCaseSensitive(o, "bos_id");
    if (c->model.eos_id == -2) cJSON_DeleteItemFromObjectCaseSensitive(o, "eos_id");
    for (int i = 0; i < N_DEFS; i++) {
        const void *p = (const char *)c + defs[i].off;
        const char *k = defs[i].k.key;
        switch (defs[i].st) {
        case S_STR: cJSON_AddStringToObject(o, k, (const char *)p); break;
        case S_BOOL: cJSON_AddBoolToObject(o, k, *(const int *)p); break;
        case S_DBL: cJSON_AddNumberToObject(o, k, *(const double *)p); break;
        case S_I32: cJSON_AddNumberToObject(o, k, *(const int *)p); break;
        case S_I64: cJSON_AddNumberToObject(o, k, (double)*(const int64_t *)p); break;
        }
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) rl_fail("train config: out of memory writing JSON");
    return s;
}

/* ---- comparing the config of a run with a resumed one ------------------------------------------- */

int train_config_same_run(const char *run_json, const char *now_json, const char *src) {
    cJSON *a = cJSON_Parse(run_json), *b = cJSON_Parse(now_json);
    int rc = 0;
    if (!a || !b) {
        rc = rl_fail("%s: the configuration is not valid JSON", src);
        goto done;
    }
    cJSON *x;
    cJSON_ArrayForEach(x, a) {
        const key_def *d = find_def(x->string);
        if (d && d->k.resumable) continue;
        cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
        if (y && cJSON_Compare(x, y, 1)) continue;
        char *vx = cJSON_PrintUnformatted(x), *vy = y ? cJSON_PrintUnformatted(y) : NULL;
        rc = rl_fail("%s: key %s: the run was started with %s, now %s; a resumed run must keep every key except "
                     "data, steps, threads, eval_every, eval_tokens, ckpt_every, keep_ckpts and figures",
                     src, x->string, vx ? vx : "?", vy ? vy : "(absent)");
        free(vx);
        free(vy);
        break;
    }
    if (rc == 0) /* a key the run did not have */
        cJSON_ArrayForEach(x, b) {
            const key_def *d = find_def(x->string);
            if ((d && d->k.resumable) || cJSON_GetObjectItemCaseSensitive(a, x->string)) continue;
            rc = rl_fail("%s: key %s: absent from the run's configuration", src, x->string);
            break;
        }
done:
    cJSON_Delete(a);
    cJSON_Delete(b);
    return rc;
}
