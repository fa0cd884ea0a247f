/* The analysis stages: the analyser (rl_analyze) on a trained run's final checkpoint over the first
 * held-out tokens of the data, and on each pretrained --model over the same held-out text (decoded,
 * then tokenized by the model's own tokenizer). */
#include "repro_internal.h"
#include "ropelab/analysis.h"
#include "ropelab/data.h"
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <dirent.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The analyser's settings for every model of the run (its defaults; figures off for trained models:
 * the report draws the usage heatmaps itself). */
static void analysis_opts(rl_analysis_opts *o, int figures) {
    rl_analysis_opts_default(o);
    o->figures = figures;
    o->progress = 0;
    o->threads = omp_get_max_threads();
}

static void add_settings(cJSON *c, const rp_ctx *x) {
    rl_analysis_opts o;
    analysis_opts(&o, 0);
    cJSON_AddNumberToObject(c, "tokens", (double)x->scale->analysis_tokens);
    cJSON_AddStringToObject(c, "data_id", x->data_id);
    cJSON_AddNumberToObject(c, "threshold", o.threshold);
    cJSON_AddNumberToObject(c, "n_bands", o.n_bands);
    cJSON_AddNumberToObject(c, "edge_fraction", o.edge_fraction);
    cJSON_AddNumberToObject(c, "threads", x->threads_per_job);
}

static char *print_free(cJSON *c) {
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    return s;
}

/* The held-out tokens the analyses read: val.bin tokens 1 .. n (token 0 is the first document's BOS,
 * which the analyser puts back itself). *ids: [*n], malloc'ed. */
static int val_ids(const rl_dataset *d, int64_t want, int32_t **ids, int64_t *n) {
    *n = d->val.n_tokens - 1 < want ? d->val.n_tokens - 1 : want;
    if (*n < 2) return rl_fail("%s: too few validation tokens (%lld) to analyse", d->val.path, (long long)d->val.n_tokens);
    *ids = rl_malloc((size_t)*n * sizeof **ids, "analysis tokens");
    if (!*ids) return -1;
    rl_shard_read(&d->val, 1, *n, *ids);
    return 0;
}

static int analyze_into(rl_model *m, const rl_tokenizer *tok, const rl_analysis_text *t, const char *name, int figures,
                        const char *dir) {
    rl_analysis_opts o;
    analysis_opts(&o, figures);
    o.model_name = name;
    return rl_analyze(m, tok, t, 1, &o, dir, NULL);
}

/* ---- trained runs -------------------------------------------------------------------------------- */

char *rp_analysis_config(const rp_ctx *x, int train_stage) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "stage", "analysis");
    cJSON_AddStringToObject(c, "run", x->plan.st[train_stage].hash);
    add_settings(c, x);
    return print_free(c);
}

int rp_analysis_run(plan *p, plan_stage *s, const char *dir, void *user) {
    rp_ctx *x = user;
    char ckpt[4300], name[160];
    if (plan_dir(p, s->tag[2], ckpt, sizeof ckpt - 32) != 0) return -1;
    strcat(ckpt, "/" RP_TRAIN_RUN "/checkpoint");
    snprintf(name, sizeof name, "%s/%s/checkpoint", p->st[s->tag[2]].rel, RP_TRAIN_RUN);
    rl_dataset d;
    if (rl_dataset_open(&d, x->data_dir) != 0) return -1;
    int32_t *ids = NULL;
    int64_t n = 0;
    rl_loaded ld;
    int rc = val_ids(&d, x->scale->analysis_tokens, &ids, &n);
    if (rc == 0) rc = rl_load_model(ckpt, NULL, &ld);
    if (rc == 0) {
        plan_tick(p, s, 0.1, "analysing");
        rl_analysis_text t = {.name = RL_DATA_VAL, .ids = ids, .n_ids = n};
        rc = analyze_into(ld.model, NULL, &t, name, 0, dir);
        rl_loaded_free(&ld);
    }
    free(ids);
    rl_dataset_close(&d);
    return rc;
}

/* ---- pretrained models ------------------------------------------------------------------------- */

/* Content hash of a file, or of every regular file directly inside a folder (sorted names). Reads
 * the whole model once per run (FNV-1a, about a second per GB): paths do not name results. */
static int hash_path(const char *path, uint64_t *h) {
    struct stat st;
    if (stat(path, &st) != 0) return rl_fail("%s: no such file or folder", path);
    if (!S_ISDIR(st.st_mode)) {
        rl_map m;
        if (rl_map_file(path, &m) != 0) return -1;
        *h = rl_hash64(m.data, m.len, *h);
        rl_unmap(&m);
        return 0;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) return rl_fail("%s: cannot list the folder", path);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char p[4400];
        struct stat fs;
        if (rc == 0 && names[i]->d_name[0] != '.' && rl_path(p, sizeof p, "%s/%s", path, names[i]->d_name) == 0 &&
            stat(p, &fs) == 0 && S_ISREG(fs.st_mode)) {
            *h = rl_hash64(names[i]->d_name, strlen(names[i]->d_name) + 1, *h);
            rc = hash_path(p, h);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

char *rp_pretrained_config(const rp_ctx *x, int m) {
    uint64_t h = 0x9e37;
    if (hash_path(x->o.models[m], &h) != 0) return NULL;
    const char *tok = x->o.tokenizers ? x->o.tokenizers[m] : NULL;
    uint64_t ht = 0x9e37;
    if (tok && hash_path(tok, &ht) != 0) return NULL;
    char hex[17], hext[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    snprintf(hext, sizeof hext, "%016llx", (unsigned long long)ht);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "stage", "pretrained");
    cJSON_AddStringToObject(c, "model_hash", hex);
    if (tok) cJSON_AddStringToObject(c, "tokenizer_hash", hext);
    cJSON_AddStringToObject(c, "text", "the analysis tokens of the validation split, decoded");
    add_settings(c, x);
    return print_free(c);
}

int rp_pretrained_run(plan *p, plan_stage *s, const char *dir, void *user) {
    rp_ctx *x = user;
    int m = s->tag[0];
    const char *tokp = x->o.tokenizers ? x->o.tokenizers[m] : NULL;
    rl_dataset d;
    if (rl_dataset_open(&d, x->data_dir) != 0) return -1;
    int32_t *ids = NULL;
    int64_t n = 0;
    char *text = NULL;
    size_t len = 0;
    int rc = val_ids(&d, x->scale->analysis_tokens, &ids, &n);
    if (rc == 0) rc = rl_tok_decode(d.tok, ids, n, 0, &text, &len);
    free(ids);
    rl_dataset_close(&d);
    rl_loaded ld;
    if (rc == 0 && (rc = rl_load_model(x->o.models[m], tokp, &ld)) == 0) {
        if (!ld.tok) {
            rc = rl_fail("%s: the model has no tokenizer of its own: give --tokenizer FILE after it", x->o.models[m]);
        } else {
            plan_tick(p, s, 0.1, "analysing");
            rl_analysis_text t = {.name = "validation text", .text = text, .len = len};
            rc = analyze_into(ld.model, ld.tok, &t, x->o.models[m], 1, dir);
        }
        rl_loaded_free(&ld);
    }
    free(text);
    return rc;
}
