/* The data stage: the corpus (or a prepared dataset) resolved and hashed, prepared into its stage
 * folder, and the unigram baseline every trained model must beat. */
#include "repro_internal.h"
#include "ropelab/data.h"
#include "ropelab/util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VAL_FRAC 0.1
#define DATA_SEED 1337

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Hash of a whole file's bytes, chained on h. */
static int hash_file(const char *path, uint64_t *h) {
    rl_map m;
    if (rl_map_file(path, &m) != 0) return -1;
    *h = rl_hash64(m.data, m.len, *h);
    rl_unmap(&m);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_file(rp_ctx *x, const char *path) {
    if (x->n_files == RP_MAX_FILES) return rl_fail("%s: more than %d text files", path, RP_MAX_FILES);
    x->files[x->n_files] = rl_strdup(path);
    if (!x->files[x->n_files]) return -1;
    x->n_files++;
    return 0;
}

int rp_data_resolve(rp_ctx *x) {
    const char *d = x->o.data && *x->o.data ? x->o.data : "data/corpus";
    char p[4200];
    x->data_prepared = 0;
    uint64_t h = 0x5eed;
    if (is_dir(d) && rl_path(p, sizeof p, "%s/%s", d, RL_DATA_JSON) == 0 && is_file(p)) {
        /* a prepared dataset: its three files identify it */
        x->data_prepared = 1;
        const char *parts[3] = {RL_DATA_TOKENIZER, RL_DATA_TRAIN, RL_DATA_VAL};
        for (int i = 0; i < 3; i++)
            if (rl_path(p, sizeof p, "%s/%s", d, parts[i]) != 0 || hash_file(p, &h) != 0)
                return rl_fail_prefix("--data %s (a prepared dataset, since it has %s)", d, RL_DATA_JSON);
        snprintf(x->data_dir, sizeof x->data_dir, "%s", d);
    } else if (is_dir(d)) {
        DIR *dir = opendir(d);
        if (!dir) return rl_fail("--data %s: cannot list the folder", d);
        for (struct dirent *e; (e = readdir(dir));) {
            size_t k = strlen(e->d_name);
            if (k < 5 || strcmp(e->d_name + k - 4, ".txt") != 0) continue;
            if (rl_path(p, sizeof p, "%s/%s", d, e->d_name) != 0 || !is_file(p)) continue;
            if (add_file(x, p) != 0) {
                closedir(dir);
                return -1;
            }
        }
        closedir(dir);
        if (x->n_files == 0)
            return rl_fail("--data %s: the folder holds neither a prepared dataset (%s) nor .txt files", d,
                           RL_DATA_JSON);
        qsort(x->files, (size_t)x->n_files, sizeof *x->files, cmp_str);
    } else if (is_file(d)) {
        if (add_file(x, d) != 0) return -1;
    } else if (!x->o.data || !*x->o.data) {
        return rl_fail("the default corpus data/corpus is missing: fetch it with `sh scripts/fetch_corpus.sh` (`make "
                       "demo` does), or give --data DIR (a prepared dataset or a folder of .txt files)");
    } else {
        return rl_fail("--data %s: no such file or folder", d);
    }
    if (!x->data_prepared && x->scale->needs_data)
        return rl_fail("scale %s needs --data DIR with a prepared dataset of a size to match it (a %d-token "
                       "vocabulary); the default corpus is far too small",
                       x->scale->name, x->scale->vocab);
    for (int i = 0; i < x->n_files; i++) {
        const char *base = strrchr(x->files[i], '/');
        base = base ? base + 1 : x->files[i];
        h = rl_hash64(base, strlen(base) + 1, h);
        if (hash_file(x->files[i], &h) != 0) return -1;
    }
    snprintf(x->data_id, sizeof x->data_id, "%016llx", (unsigned long long)h);
    return 0;
}

char *rp_data_config(const rp_ctx *x) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "stage", "data");
    cJSON_AddStringToObject(c, "content_hash", x->data_id);
    if (x->data_prepared) {
        cJSON_AddStringToObject(c, "prepared", "used in place");
    } else {
        cJSON *f = cJSON_AddArrayToObject(c, "files");
        for (int i = 0; i < x->n_files; i++) {
            const char *base = strrchr(x->files[i], '/');
            cJSON_AddItemToArray(f, cJSON_CreateString(base ? base + 1 : x->files[i]));
        }
        cJSON_AddNumberToObject(c, "vocab", x->scale->vocab);
        cJSON_AddNumberToObject(c, "val_frac", VAL_FRAC);
        cJSON_AddNumberToObject(c, "seed", DATA_SEED);
        cJSON_AddStringToObject(c, "doc_split", "formfeed");
    }
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    return s;
}

int rp_unigram_write(const char *data_dir, const char *out_path) {
    rl_dataset d;
    if (rl_dataset_open(&d, data_dir) != 0) return -1;
    int V = d.train.vocab_size;
    double *count = rl_calloc((size_t)V, sizeof *count, "unigram counts");
    if (!count) {
        rl_dataset_close(&d);
        return -1;
    }
    for (int64_t i = 0; i < d.train.n_tokens; i++) count[rl_shard_token(&d.train, i)] += 1;
    /* add-one smoothing, so that a token unseen in training has a finite loss */
    double denom = (double)d.train.n_tokens + V, sum = 0;
    int64_t n = 0;
    for (int64_t i = 1; i < d.val.n_tokens; i++, n++) sum -= log((count[rl_shard_token(&d.val, i)] + 1) / denom);
    free(count);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "what",
                            "validation loss (nats per token, tokens 1..n-1 of val.bin) of the unigram model fitted on "
                            "train.bin with add-one smoothing: the floor any model learning beyond token frequencies "
                            "must beat");
    cJSON_AddNumberToObject(j, "vocab_size", V);
    cJSON_AddNumberToObject(j, "train_tokens", (double)d.train.n_tokens);
    cJSON_AddNumberToObject(j, "val_tokens", (double)d.val.n_tokens);
    cJSON_AddNumberToObject(j, "loss", n > 0 ? sum / n : 0);
    cJSON_AddNumberToObject(j, "ppl", n > 0 ? exp(sum / n) : 1);
    rl_dataset_close(&d);
    return rp_write_json(out_path, j);
}

int rp_data_run(plan *p, plan_stage *s, const char *dir, void *user) {
    rp_ctx *x = user;
    if (!x->data_prepared) {
        rl_prepare_opts o;
        rl_prepare_defaults(&o);
        o.files = (const char *const *)x->files;
        o.n_files = x->n_files;
        o.vocab_size = x->scale->vocab;
        o.val_frac = VAL_FRAC;
        o.seed = DATA_SEED;
        o.split = RL_DOC_FORMFEED;
        o.out_dir = dir;
        o.progress = 0;
        rl_prepare_stats st;
        plan_tick(p, s, 0.1, "preparing the corpus");
        if (rl_data_prepare(&o, &st) != 0) return -1;
    }
    char path[4200];
    if (rl_path(path, sizeof path, "%s/%s", dir, RP_UNIGRAM) != 0) return -1;
    plan_tick(p, s, 0.9, "unigram baseline");
    return rp_unigram_write(x->data_prepared ? x->data_dir : dir, path);
}
