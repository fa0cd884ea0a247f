/* Checkpoint folders: build complete, fsync, rename, switch the `checkpoint` link; load; clean up. */
#include "internal.h"
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the test hook ---------------------------------------------------------------------------- */

void train_kill_point(const char *point, int64_t step) {
    const char *e = getenv("ROPELAB_TEST_KILL_AT");
    if (!e || !*e) return;
    size_t n = strlen(point);
    if (strncmp(e, point, n) != 0 || (e[n] != '\0' && e[n] != '@')) return;
    if (e[n] == '@') {
        int64_t at;
        if (rl_parse_int64(e + n + 1, &at) != 0 || at != step) return;
    }
    raise(SIGKILL);
}

/* ---- identity of the data --------------------------------------------------------------------- */

static int hash_file(const char *path, uint64_t *h) {
    rl_map m;
    if (rl_map_file(path, &m) != 0) return -1;
    *h = rl_hash64(m.data, m.len, 0);
    rl_unmap(&m);
    return 0;
}

int data_id_compute(data_id *id, const rl_dataset *d, const char *data_dir) {
    char p[4200];
    id->vocab_size = rl_tok_vocab_size(d->tok);
    id->train_tokens = d->train.n_tokens;
    id->train_hash = rl_hash64(d->train.map.data, d->train.map.len, 0);
    if (rl_path(p, sizeof p, "%s/%s", data_dir, RL_DATA_TOKENIZER) != 0) return -1;
    return hash_file(p, &id->tokenizer_hash);
}

/* ---- small file-system helpers ---------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0 && errno != ENOENT) rl_fail("%s: cannot remove: %s", path, strerror(errno));
    return rc != 0 && errno != ENOENT;
}

/* rm -rf path (no error when it does not exist). */
static int rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : rl_fail("%s: cannot remove: %s", path, strerror(errno));
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return rl_fail("%s: cannot open folder: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 || errno == EINVAL ? 0 : rl_fail("%s: fsync failed: %s", dir, strerror(errno));
}

/* "ckpt-0001234" -> 1234; -1 for any other name (".partial" folders included). */
static int64_t ckpt_step_of(const char *name) {
    if (strncmp(name, "ckpt-", 5) != 0 || strlen(name) < 12) return -1;
    for (const char *p = name + 5; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    int64_t s;
    return rl_parse_int64(name + 5, &s) == 0 ? s : -1;
}

/* ---- writing ---------------------------------------------------------------------------------- */

static char *hex64(char *buf, uint64_t h) {
    snprintf(buf, 17, "%016" PRIx64, h);
    return buf;
}

static int write_json(const char *path, cJSON *o) {
    char *s = o ? cJSON_Print(o) : NULL;
    if (!s) return rl_fail("%s: out of memory", path);
    int rc = rl_write_atomic(path, s, strlen(s));
    free(s);
    return rc;
}

/* The model files (rl_hf_save): config.json and model.safetensors, float32 with Hugging Face's
 * names, whose __metadata__ holds format "pt" and ropelab_config, plus the training config, the
 * encoding string and the step. */
static int save_model(const char *dir, const rl_model *m, const rl_train_config *c, int64_t step) {
    rl_meta_list meta = {0};
    char *tc = rl_train_config_to_json(c), pe[RL_MAX_LAYERS * 160], st[32];
    rl_model_config_pe_string(&m->cfg, pe, sizeof pe);
    snprintf(st, sizeof st, "%lld", (long long)step);
    int rc = -1;
    if (tc && rl_meta_add_str(&meta, "ropelab_train_config", tc) == 0 && rl_meta_add_str(&meta, "ropelab_pe", pe) == 0 &&
        rl_meta_add_str(&meta, "ropelab_step", st) == 0)
        rc = rl_hf_save(dir, m, &meta, RL_DT_F32);
    free(tc);
    rl_meta_list_free(&meta);
    return rc;
}

static int save_optimizer(const char *path, const rl_model *m, const rl_train_config *c, int64_t step) {
    int n = m->n_tensors;
    rl_write_tensor *t = rl_calloc((size_t)2 * n, sizeof *t, "optimizer tensors");
    char (*names)[96] = rl_calloc((size_t)2 * n, sizeof *names, "optimizer tensor names");
    rl_meta_list meta = {0};
    int rc = -1;
    if (!t || !names) goto done;
    for (int i = 0; i < n; i++) {
        const rl_param_info *e = &m->table[i];
        for (int k = 0; k < 2; k++) {
            rl_write_tensor *w = &t[2 * i + k];
            snprintf(names[2 * i + k], sizeof names[0], "%s.%s", k ? "exp_avg_sq" : "exp_avg", e->name);
            w->name = names[2 * i + k];
            w->dtype = RL_DT_F32;
            w->ndim = e->ndim;
            w->shape[0] = e->shape[0];
            w->shape[1] = e->shape[1];
            w->data = (k ? m->adam_v : m->adam_m) + e->offset;
        }
    }
    char num[64];
    if (rl_meta_add_str(&meta, "format", "ropelab-adamw") != 0) goto done;
    snprintf(num, sizeof num, "%lld", (long long)m->adam_t);
    if (rl_meta_add_str(&meta, "adam_t", num) != 0) goto done;
    snprintf(num, sizeof num, "%lld", (long long)step);
    if (rl_meta_add_str(&meta, "step", num) != 0) goto done;
    snprintf(num, sizeof num, "%.17g", c->beta1);
    if (rl_meta_add_str(&meta, "beta1", num) != 0) goto done;
    snprintf(num, sizeof num, "%.17g", c->beta2);
    if (rl_meta_add_str(&meta, "beta2", num) != 0) goto done;
    rc = rl_safetensors_write(path, t, 2 * n, &meta);
done:
    rl_meta_list_free(&meta);
    free(names);
    free(t);
    return rc;
}

static cJSON *state_json(const rl_train_config *c, const ckpt_state *s, const run_log *log) {
    cJSON *o = cJSON_CreateObject();
    char h[17];
    cJSON_AddStringToObject(o, "format", "ropelab-trainer-state");
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddNumberToObject(o, "step", (double)s->step);
    cJSON_AddNumberToObject(o, "steps", (double)c->steps);
    cJSON_AddNumberToObject(o, "micro_batches", (double)s->micro_batches);
    cJSON_AddNumberToObject(o, "adam_t", (double)s->adam_t);
    cJSON_AddNumberToObject(o, "threads", s->threads);
    cJSON_AddNumberToObject(o, "tokens_trained",
                            (double)s->step * c->grad_accum * (double)c->batch * (double)c->model.max_seq);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "folder", c->data);
    cJSON_AddNumberToObject(d, "vocab_size", s->data.vocab_size);
    cJSON_AddNumberToObject(d, "train_tokens", (double)s->data.train_tokens);
    cJSON_AddStringToObject(d, "train_hash", hex64(h, s->data.train_hash));
    cJSON_AddStringToObject(d, "tokenizer_hash", hex64(h, s->data.tokenizer_hash));
    char *tc = rl_train_config_to_json(c);
    cJSON *cj = tc ? cJSON_Parse(tc) : NULL;
    free(tc);
    if (cj) cJSON_AddItemToObject(o, "config", cj);
    cJSON *lj = runlog_to_json(log);
    if (lj) cJSON_AddItemToObject(o, "log", lj);
    if (!cj || !lj) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Prunes complete checkpoints beyond the newest `keep` (never the linked one). */
static int prune(const char *out_dir, int keep, int64_t linked) {
    DIR *dp = opendir(out_dir);
    if (!dp) return rl_fail("%s: cannot list: %s", out_dir, strerror(errno));
    int64_t *steps = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        int64_t s = ckpt_step_of(e->d_name);
        if (s < 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *v = realloc(steps, (size_t)cap * sizeof *v);
            if (!v) break;
            steps = v;
        }
        steps[n++] = s;
    }
    closedir(dp);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int newer = 0; /* checkpoints newer than this one */
        for (int j = 0; j < n; j++) newer += steps[j] > steps[i];
        if (newer >= keep && steps[i] != linked) {
            /* renamed to .partial first, so that a kill half-way through the removal leaves a
             * folder the next resume removes, never a ckpt-NNNNNNN that looks complete */
            char p[4200], q[4300];
            snprintf(p, sizeof p, "%s/ckpt-%07lld", out_dir, (long long)steps[i]);
            snprintf(q, sizeof q, "%s.partial", p);
            if (rm_tree(q) != 0) rc = -1;
            else if (rename(p, q) != 0) rc = rl_fail("%s: cannot rename for removal: %s", p, strerror(errno));
            else if (rm_tree(q) != 0) rc = -1;
        }
    }
    free(steps);
    return rc;
}

int ckpt_save(const char *out_dir, const rl_model *m, const rl_train_config *c, const ckpt_state *s,
              const run_log *log, const char *tokenizer_path, char *written, size_t written_n) {
    char name[32], final[4200], part[4300], p[4400], link_tmp[4200], link_path[4200];
    const int64_t step = s->step;
    snprintf(name, sizeof name, "ckpt-%07lld", (long long)step);
    if (rl_path(final, sizeof final, "%s/%s", out_dir, name) != 0 ||
        rl_path(part, sizeof part, "%s.partial", final) != 0 ||
        rl_path(link_tmp, sizeof link_tmp, "%s/.%s.tmp", out_dir, CKPT_LINK) != 0 ||
        rl_path(link_path, sizeof link_path, "%s/%s", out_dir, CKPT_LINK) != 0)
        return -1;
    if (rm_tree(part) != 0) return -1;
    if (mkdir(part, 0777) != 0) return rl_fail("%s: cannot create: %s", part, strerror(errno));
    /* 1. every file of the folder, each written atomically (fsynced) */
    if (save_model(part, m, c, step) != 0) return rl_fail_prefix("checkpoint %s", name);
    train_kill_point("model", step);
    char *tok;
    size_t tok_len;
    if (rl_read_file(tokenizer_path, &tok, &tok_len) != 0) return -1;
    rl_path(p, sizeof p, "%s/%s", part, CKPT_TOKENIZER);
    int rc = rl_write_atomic(p, tok, tok_len);
    free(tok);
    if (rc != 0) return -1;
    train_kill_point("tokenizer", step);
    rl_path(p, sizeof p, "%s/%s", part, CKPT_OPTIM);
    if (save_optimizer(p, m, c, step) != 0) return rl_fail_prefix("checkpoint %s", name);
    train_kill_point("optimizer", step);
    cJSON *st = state_json(c, s, log);
    rl_path(p, sizeof p, "%s/%s", part, CKPT_STATE);
    rc = write_json(p, st);
    cJSON_Delete(st);
    if (rc != 0) return -1;
    train_kill_point("state", step);
    /* 2. the complete folder takes its final name (a stale one of the same step goes first) */
    if (fsync_dir(part) != 0 || rm_tree(final) != 0) return -1;
    if (rl_commit_rename(part, final) != 0) return -1;
    train_kill_point("rename", step);
    /* 3. the link: a new symlink beside it, renamed over it (atomic), then the folder fsynced */
    unlink(link_tmp);
    if (symlink(name, link_tmp) != 0) return rl_fail("%s: cannot create symlink: %s", link_tmp, strerror(errno));
    if (rename(link_tmp, link_path) != 0) return rl_fail("%s: cannot replace: %s", link_path, strerror(errno));
    if (fsync_dir(out_dir) != 0) return -1;
    train_kill_point("link", step);
    if (written) snprintf(written, written_n, "%s", final);
    return prune(out_dir, c->keep_ckpts, step);
}

/* ---- finding and cleaning --------------------------------------------------------------------- */

int ckpt_current(const char *out_dir, char *dir, size_t n, int64_t *step) {
    char link_path[4200], target[4096];
    if (rl_path(link_path, sizeof link_path, "%s/%s", out_dir, CKPT_LINK) != 0) return -1;
    ssize_t k = readlink(link_path, target, sizeof target - 1);
    if (k < 0) {
        if (errno == ENOENT) return 0;
        return rl_fail("%s: cannot read the link: %s", link_path, strerror(errno));
    }
    target[k] = '\0';
    int64_t s = ckpt_step_of(target);
    if (s < 0) return rl_fail("%s: points at \"%s\", not a ckpt-NNNNNNN folder", link_path, target);
    if (rl_path(dir, n, "%s/%s", out_dir, target) != 0) return -1;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return rl_fail("%s: points at %s, which is missing", link_path, dir);
    if (step) *step = s;
    return 1;
}

int ckpt_clean(const char *out_dir) {
    char cur[4200], p[4400];
    int64_t linked = -1;
    int have = ckpt_current(out_dir, cur, sizeof cur, &linked);
    if (have < 0) return -1;
    DIR *dp = opendir(out_dir);
    if (!dp) return rl_fail("%s: cannot list: %s", out_dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(dp)) != NULL) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        int partial = strncmp(nm, "ckpt-", 5) == 0 && len > 8 && strcmp(nm + len - 8, ".partial") == 0;
        int stale_link = strcmp(nm, "." CKPT_LINK ".tmp") == 0;
        int64_t s = ckpt_step_of(nm);
        int newer = s >= 0 && s > linked;
        if (!partial && !stale_link && !newer) continue;
        rl_path(p, sizeof p, "%s/%s", out_dir, nm);
        if (rm_tree(p) != 0) rc = -1;
    }
    closedir(dp);
    return rc == 0 ? fsync_dir(out_dir) : -1;
}

/* ---- loading ---------------------------------------------------------------------------------- */

void ckpt_state_free(ckpt_state *s) {
    free(s->config_json);
    s->config_json = NULL;
}

static int get_i64(const cJSON *o, const char *key, int64_t *v, const char *src) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9e15 || x->valuedouble != (double)(int64_t)x->valuedouble)
        return rl_fail("%s: key %s: expected a non-negative integer", src, key);
    *v = (int64_t)x->valuedouble;
    return 0;
}

static int get_hex(const cJSON *o, const char *key, uint64_t *v, const char *src) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    char *end;
    if (!cJSON_IsString(x) || strlen(x->valuestring) != 16) return rl_fail("%s: key data.%s: expected 16 hex digits", src, key);
    errno = 0;
    *v = strtoull(x->valuestring, &end, 16);
    if (*end || errno) return rl_fail("%s: key data.%s: expected 16 hex digits", src, key);
    return 0;
}

static int load_state(const char *path, ckpt_state *s, run_log *log) {
    char *text;
    size_t len;
    if (rl_read_file(path, &text, &len) != 0) return -1;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    int rc = -1;
    int64_t v;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format"), *d, *cfg;
    if (!o) {
        rl_fail("%s: not valid JSON", path);
        goto done;
    }
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "ropelab-trainer-state") != 0) {
        rl_fail("%s: key format: expected \"ropelab-trainer-state\"", path);
        goto done;
    }
    if (get_i64(o, "version", &v, path) || v != 1) {
        rl_fail("%s: key version: only version 1 is known", path);
        goto done;
    }
    if (get_i64(o, "step", &s->step, path) || get_i64(o, "micro_batches", &s->micro_batches, path) ||
        get_i64(o, "adam_t", &s->adam_t, path) || get_i64(o, "threads", &v, path))
        goto done;
    s->threads = (int)v;
    d = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (!cJSON_IsObject(d) || get_i64(d, "vocab_size", &v, path) || get_i64(d, "train_tokens", &s->data.train_tokens, path) ||
        get_hex(d, "train_hash", &s->data.train_hash, path) || get_hex(d, "tokenizer_hash", &s->data.tokenizer_hash, path))
        goto done;
    s->data.vocab_size = (int)v;
    cfg = cJSON_GetObjectItemCaseSensitive(o, "config");
    if (!cJSON_IsObject(cfg) || !(s->config_json = cJSON_PrintUnformatted(cfg))) {
        rl_fail("%s: key config: expected the run's configuration object", path);
        goto done;
    }
    if (runlog_from_json(log, cJSON_GetObjectItemCaseSensitive(o, "log"), path) != 0) goto done;
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

/* Tensors of a container file into an arena, by the table's names with a prefix (the optimizer's
 * moments), checking dtype F32 and the shapes. */
static int load_tensors(const char *path, rl_model *m, const char *prefix, float *arena) {
    rl_tensors ts;
    if (rl_safetensors_open(&ts, path) != 0) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        char nm[128];
        snprintf(nm, sizeof nm, "%s%s", prefix, e->name);
        const rl_tensor *t = rl_tensors_get(&ts, nm);
        if (!t)
            rc = -1;
        else if (t->dtype != RL_DT_F32)
            rc = rl_fail("%s: tensor %s: dtype %s, expected F32", path, nm, rl_dtype_name(t->dtype));
        else
            rc = rl_tensors_load_f32(&ts, nm, e->ndim, e->shape, arena + e->offset);
    }
    rl_tensors_free(&ts);
    return rc;
}

/* Weights: the checkpoint folder through rl_load_model, copied into the run's arena tensor by
 * tensor (same names and sizes; the float32 values exactly as saved). */
static int load_weights(const char *dir, rl_model *m) {
    rl_loaded ld;
    if (rl_load_model(dir, NULL, &ld) != 0) return -1;
    int rc = 0;
    if (ld.model->n_tensors != m->n_tensors || ld.model->n_params != m->n_params)
        rc = rl_fail("%s: the checkpoint's model has %d tensors (%zu floats), the run's %d (%zu)", dir, ld.model->n_tensors,
                     ld.model->n_params, m->n_tensors, m->n_params);
    for (int i = 0; rc == 0 && i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i], *f = rl_model_find_param(ld.model, e->name);
        if (!f || f->numel != e->numel)
            rc = rl_fail("%s: tensor %s: missing or of another size in the checkpoint", dir, e->name);
        else
            memcpy(m->params + e->offset, *f->slot, e->numel * sizeof(float));
    }
    rl_loaded_free(&ld);
    return rc;
}

static int load_optimizer(const char *path, rl_model *m) {
    if (load_tensors(path, m, "exp_avg.", m->adam_m) != 0) return -1;
    return load_tensors(path, m, "exp_avg_sq.", m->adam_v);
}

int ckpt_load(const char *dir, rl_model *m, ckpt_state *s, run_log *log) {
    char p[4400];
    memset(s, 0, sizeof *s);
    rl_path(p, sizeof p, "%s/%s", dir, CKPT_STATE);
    if (load_state(p, s, log) != 0) return -1;
    if (load_weights(dir, m) != 0) return -1;
    rl_path(p, sizeof p, "%s/%s", dir, CKPT_OPTIM);
    if (load_optimizer(p, m) != 0) return -1;
    m->adam_t = s->adam_t;
    return 0;
}
