/* formats: the safetensors writer (HF-compatible header, aligned tensor order) and sharded HF folders. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* qsort over indices: element size descending, then name (what the safetensors library does, so
 * every tensor starts at a multiple of its element size once the header is padded to 8). */
static _Thread_local const rl_write_tensor *sort_t;
static int cmp_write(const void *a, const void *b) {
    const rl_write_tensor *x = &sort_t[*(const int *)a], *y = &sort_t[*(const int *)b];
    size_t sx = rl_dtype_size(x->dtype), sy = rl_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(sort_t[*(const int *)a].name, sort_t[*(const int *)b].name);
}

/* Checks every tensor and the metadata; returns the write order in *order (free it). */
static int check_all(const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta, int **order) {
    *order = NULL;
    if (n < 0) return rl_fail("%s: negative tensor count", path);
    const char **names = rl_malloc((size_t)(n ? n : 1) * sizeof *names, "tensor names");
    if (!names) return -1;
    for (int i = 0; i < n; i++) {
        int64_t numel;
        uint64_t nbytes;
        if (fmt_write_check(&t[i], &numel, &nbytes) != 0) {
            free(names);
            return rl_fail_prefix("%s", path);
        }
        if (rl_dtype_size(t[i].dtype) == 0) {
            free(names);
            return rl_fail("%s: tensor '%s': dtype %s cannot be stored in safetensors", path, t[i].name,
                           rl_dtype_name(t[i].dtype));
        }
        if (strcmp(t[i].name, "__metadata__") == 0) {
            free(names);
            return rl_fail("%s: a tensor cannot be called __metadata__", path);
        }
        names[i] = t[i].name;
    }
    int a, b, dup = fmt_find_duplicate(names, n, &a, &b);
    free(names);
    if (dup) return rl_fail("%s: tensor name '%s' given twice (entries %d and %d)", path, t[a].name, a, b);
    for (int i = 0; meta && i < meta->n; i++)
        if (meta->m[i].type != RL_META_STRING)
            return rl_fail("%s: metadata %s has type %s; safetensors __metadata__ holds only strings", path,
                           meta->m[i].key, rl_meta_type_name(meta->m[i].type));
    *order = rl_malloc((size_t)(n ? n : 1) * sizeof **order, "tensor order");
    if (!*order) return -1;
    for (int i = 0; i < n; i++) (*order)[i] = i;
    sort_t = t;
    qsort(*order, (size_t)n, sizeof **order, cmp_write);
    return 0;
}

/* cJSON prints integers exactly below 1e15 (it uses %1.15g); that is 1 PB of tensor data. */
#define JSON_INT_MAX 999999999999999.0

/* Writes the file to fp (messages name `path`). */
static int write_ordered_fp(FILE *fp, const char *path, const rl_write_tensor *t, const int *order, int n,
                            const rl_meta_list *meta) {
    cJSON *root = cJSON_CreateObject();
    char *json = NULL;
    int rc = -1;
    if (!root) return rl_fail("out of memory (JSON header)");
    if (meta && meta->n > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m) goto oom;
        for (int i = 0; i < meta->n; i++)
            if (!cJSON_AddStringToObject(m, meta->m[i].key, meta->m[i].str)) goto oom;
    }
    uint64_t pos = 0;
    for (int k = 0; k < n; k++) {
        const rl_write_tensor *w = &t[order[k]];
        int64_t numel;
        uint64_t nbytes;
        fmt_write_check(w, &numel, &nbytes);
        if ((double)(pos + nbytes) > JSON_INT_MAX) {
            rl_fail("%s: tensor '%s': data offsets beyond 1e15 bytes", path, w->name);
            goto out;
        }
        cJSON *e = cJSON_AddObjectToObject(root, w->name), *shape, *offs;
        if (!e || !cJSON_AddStringToObject(e, "dtype", rl_dtype_name(w->dtype))) goto oom;
        if (!(shape = cJSON_AddArrayToObject(e, "shape")) || !(offs = cJSON_AddArrayToObject(e, "data_offsets"))) goto oom;
        for (int d = 0; d < w->ndim; d++) {
            cJSON *v = cJSON_CreateNumber((double)w->shape[d]);
            if (!v) goto oom;
            cJSON_AddItemToArray(shape, v);
        }
        cJSON *b = cJSON_CreateNumber((double)pos), *en = cJSON_CreateNumber((double)(pos + nbytes));
        if (!b || !en) {
            cJSON_Delete(b);
            cJSON_Delete(en);
            goto oom;
        }
        cJSON_AddItemToArray(offs, b);
        cJSON_AddItemToArray(offs, en);
        pos += nbytes;
    }
    json = cJSON_PrintUnformatted(root);
    if (!json) goto oom;
    size_t jl = strlen(json);
    uint64_t hl = (jl + 7) / 8 * 8; /* padded with spaces to a multiple of 8, as the safetensors library does */
    int ok = fwrite(&hl, 8, 1, fp) == 1 && fwrite(json, 1, jl, fp) == jl;
    for (uint64_t i = jl; ok && i < hl; i++) ok = fputc(' ', fp) != EOF;
    if (!ok) {
        rl_fail("%s: write failed", path);
        goto out;
    }
    for (int k = 0; k < n; k++) {
        const rl_write_tensor *w = &t[order[k]];
        int64_t numel;
        uint64_t nbytes;
        fmt_write_check(w, &numel, &nbytes);
        if (fmt_write_data(fp, w, numel, nbytes, path) != 0) goto out;
    }
    rc = 0;
    goto out;
oom:
    rl_fail("out of memory (JSON header of %s)", path);
out:
    free(json);
    cJSON_Delete(root);
    return rc;
}

static int write_ordered(const char *path, const rl_write_tensor *t, const int *order, int n, const rl_meta_list *meta) {
    rl_afile f;
    if (rl_afile_open(&f, path) != 0) return -1;
    if (write_ordered_fp(f.fp, path, t, order, n, meta) != 0) {
        rl_afile_abort(&f);
        return -1;
    }
    return rl_afile_commit(&f);
}

int fmt_safetensors_write_fp(FILE *fp, const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta) {
    int *order;
    if (check_all(path, t, n, meta, &order) != 0) return -1;
    int rc = write_ordered_fp(fp, path, t, order, n, meta);
    free(order);
    return rc;
}

int rl_safetensors_write(const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta) {
    int *order;
    if (check_all(path, t, n, meta, &order) != 0) return -1;
    int rc = write_ordered(path, t, order, n, meta);
    free(order);
    return rc;
}

static int remove_stale(const char *dir, const char *file) {
    char p[4200];
    if (rl_path(p, sizeof p, "%s/%s", dir, file) != 0) return -1;
    if (unlink(p) != 0 && errno != ENOENT) return rl_fail("%s: cannot remove stale file: %s", p, strerror(errno));
    return 0;
}

int rl_safetensors_write_dir(const char *dir, const rl_write_tensor *t, int n, const rl_meta_list *meta,
                             uint64_t max_shard_bytes) {
    if (rl_mkdirs(dir) != 0) return -1;
    int *order;
    if (check_all(dir, t, n, meta, &order) != 0) return -1;
    int rc = -1, n_shards = 0;
    int *first = rl_malloc((size_t)(n + 1) * sizeof *first, "shard list");
    char **shard_names = NULL;
    cJSON *root = NULL;
    char *json = NULL;
    if (!first) goto out;
    /* greedy split in write order: a shard closes when the next tensor would exceed the limit */
    uint64_t cur = 0, total = 0;
    for (int k = 0; k < n; k++) {
        int64_t numel;
        uint64_t nb;
        fmt_write_check(&t[order[k]], &numel, &nb);
        if (k == 0 || (cur > 0 && cur + nb > max_shard_bytes)) {
            first[n_shards++] = k;
            cur = 0;
        }
        cur += nb;
        total += nb;
    }
    if (n_shards == 0) first[n_shards++] = 0;
    first[n_shards] = n;
    char p[4200];
    if (n_shards == 1) {
        if (rl_path(p, sizeof p, "%s/model.safetensors", dir) != 0) goto out;
        if (write_ordered(p, t, order, n, meta) != 0) goto out;
        rc = remove_stale(dir, "model.safetensors.index.json");
        goto out;
    }
    shard_names = rl_calloc((size_t)n_shards, sizeof *shard_names, "shard names");
    if (!shard_names) goto out;
    for (int s = 0; s < n_shards; s++) {
        char name[64];
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        if (!(shard_names[s] = rl_strdup(name))) goto out;
        if (rl_path(p, sizeof p, "%s/%s", dir, name) != 0) goto out;
        if (write_ordered(p, t, order + first[s], first[s + 1] - first[s], meta) != 0) goto out;
    }
    /* the index, weight_map sorted by tensor name as transformers writes it */
    root = cJSON_CreateObject();
    cJSON *md = root ? cJSON_AddObjectToObject(root, "metadata") : NULL;
    cJSON *wm = md && cJSON_AddNumberToObject(md, "total_size", (double)total)
                    ? cJSON_AddObjectToObject(root, "weight_map")
                    : NULL;
    if (!wm) {
        rl_fail("out of memory (index JSON)");
        goto out;
    }
    int *by_name = rl_malloc((size_t)n * sizeof *by_name, "index order"),
        *shard_of = rl_malloc((size_t)n * sizeof *shard_of, "index");
    if (!by_name || !shard_of) {
        free(by_name);
        free(shard_of);
        goto out;
    }
    for (int s = 0; s < n_shards; s++)
        for (int k = first[s]; k < first[s + 1]; k++) shard_of[order[k]] = s;
    for (int i = 0; i < n; i++) by_name[i] = i;
    sort_t = t;
    qsort(by_name, (size_t)n, sizeof *by_name, cmp_name);
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        ok = cJSON_AddStringToObject(wm, t[by_name[i]].name, shard_names[shard_of[by_name[i]]]) != NULL;
    free(by_name);
    free(shard_of);
    json = ok ? cJSON_Print(root) : NULL;
    if (!json) {
        rl_fail("out of memory (index JSON)");
        goto out;
    }
    if (rl_path(p, sizeof p, "%s/model.safetensors.index.json", dir) != 0) goto out;
    if (rl_write_atomic(p, json, strlen(json)) != 0) goto out;
    rc = remove_stale(dir, "model.safetensors");
out:
    for (int s = 0; shard_names && s < n_shards; s++) free(shard_names[s]);
    free(shard_names);
    free(first);
    free(order);
    free(json);
    cJSON_Delete(root);
    return rc;
}
