/* formats: Hugging Face safetensors folders: model.safetensors.index.json (weight_map) -> one collection across shards. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void rl_st_index_free(rl_st_index *ix) {
    for (int i = 0; i < ix->n; i++) free(ix->tensor[i]);
    for (int i = 0; i < ix->n_shards; i++) free(ix->shards[i]);
    free(ix->tensor);
    free(ix->shard);
    free(ix->shards);
    memset(ix, 0, sizeof *ix);
}

static int safe_file_name(const char *s) {
    return s[0] && strchr(s, '/') == NULL && strchr(s, '\\') == NULL && strcmp(s, ".") && strcmp(s, "..");
}

/* qsort comparator over indices into sort_names (ties broken by index, so the sort is stable). */
static _Thread_local const char *const *sort_names;
static int cmp_by_name(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b, c = strcmp(sort_names[x], sort_names[y]);
    return c ? c : (x > y) - (x < y);
}

int rl_st_index_parse(rl_st_index *ix, const char *json, size_t len, const char *name) {
    memset(ix, 0, sizeof *ix);
    ix->total_size = -1;
    if (fmt_json_check_strings(json, len, name, 0) != 0) return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        return rl_fail("%s: malformed JSON near offset %zu", name, at);
    }
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        rl_fail("%s: not a JSON object", name);
        goto out;
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (md && cJSON_IsObject(md)) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(md, "total_size");
        if (ts && cJSON_IsNumber(ts) && ts->valuedouble >= 0 && ts->valuedouble <= 9007199254740992.0)
            ix->total_size = (int64_t)ts->valuedouble;
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!wm) {
        rl_fail("%s: missing field weight_map", name);
        goto out;
    }
    if (!cJSON_IsObject(wm)) {
        rl_fail("%s: weight_map is not a JSON object", name);
        goto out;
    }
    int n = cJSON_GetArraySize(wm);
    ix->tensor = rl_calloc((size_t)n + 1, sizeof *ix->tensor, "index tensors");
    ix->shard = rl_calloc((size_t)n + 1, sizeof *ix->shard, "index shards");
    ix->shards = rl_calloc((size_t)n + 1, sizeof *ix->shards, "index shard names");
    if (!ix->tensor || !ix->shard || !ix->shards) goto out;
    /* first pass: collect (tensor, shard name) pairs */
    const char **shard_of = rl_calloc((size_t)n + 1, sizeof *shard_of, "index shards");
    int *order = rl_calloc((size_t)n + 1, sizeof *order, "index order");
    if (!shard_of || !order) goto out2;
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            rl_fail("%s: weight_map entry '%s' is not a string", name, e->string);
            goto out2;
        }
        if (!e->string[0]) {
            rl_fail("%s: weight_map has an entry with an empty tensor name", name);
            goto out2;
        }
        if (!safe_file_name(e->valuestring)) {
            rl_fail("%s: weight_map entry '%s': shard '%s' is not a plain file name in the same folder", name, e->string,
                    e->valuestring);
            goto out2;
        }
        if (!(ix->tensor[ix->n] = rl_strdup(e->string))) goto out2;
        shard_of[ix->n++] = e->valuestring;
    }
    /* duplicate tensor names: sort by name, compare neighbours */
    for (int i = 0; i < ix->n; i++) order[i] = i;
    sort_names = (const char *const *)ix->tensor;
    qsort(order, (size_t)ix->n, sizeof *order, cmp_by_name);
    for (int i = 1; i < ix->n; i++)
        if (strcmp(ix->tensor[order[i]], ix->tensor[order[i - 1]]) == 0) {
            rl_fail("%s: weight_map lists tensor '%s' twice", name, ix->tensor[order[i]]);
            goto out2;
        }
    /* shard ids in order of first appearance: sort by shard name (stable on index), number the groups */
    for (int i = 0; i < ix->n; i++) order[i] = i;
    sort_names = shard_of;
    qsort(order, (size_t)ix->n, sizeof *order, cmp_by_name);
    for (int i = 0; i < ix->n; i++) ix->shard[i] = -1;
    for (int i = 0; i < ix->n;) {
        int j = i;
        while (j < ix->n && strcmp(shard_of[order[j]], shard_of[order[i]]) == 0) j++;
        for (int k = i; k < j; k++) ix->shard[order[k]] = order[i]; /* the group's first appearance */
        i = j;
    }
    for (int i = 0; i < ix->n; i++) {
        if (ix->shard[i] == i) { /* first appearance of a shard name: give it the next id */
            if (!(ix->shards[ix->n_shards] = rl_strdup(shard_of[i]))) goto out2;
            order[i] = ix->n_shards++;
        }
        ix->shard[i] = order[ix->shard[i]];
    }
    free(shard_of);
    free(order);
    rc = 0;
    goto out;
out2:
    free(shard_of);
    free(order);
out:
    cJSON_Delete(root);
    if (rc != 0) rl_st_index_free(ix);
    return rc;
}

/* Position in ix of the tensor called name (sorted: indices of ix->tensor in name order), or -1. */
static int index_lookup(const rl_st_index *ix, const int *sorted, const char *name) {
    int lo = 0, hi = ix->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(ix->tensor[sorted[mid]], name);
        if (c == 0) return sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int rl_safetensors_open_index(rl_tensors *ts, const char *index_path) {
    memset(ts, 0, sizeof *ts);
    char *json;
    size_t len;
    if (rl_read_file(index_path, &json, &len) != 0) return -1;
    rl_st_index ix;
    int rc = rl_st_index_parse(&ix, json, len, index_path);
    free(json);
    if (rc != 0) return -1;
    if (ix.n == 0) {
        rl_st_index_free(&ix);
        return rl_fail("%s: weight_map is empty", index_path);
    }
    char dir[4096];
    const char *slash = strrchr(index_path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - index_path), index_path);
    else snprintf(dir, sizeof dir, ".");
    rc = -1;
    int started = 0;
    int *sorted = rl_malloc((size_t)ix.n * sizeof *sorted, "index order");
    if (!sorted) goto out;
    for (int i = 0; i < ix.n; i++) sorted[i] = i;
    sort_names = (const char *const *)ix.tensor;
    qsort(sorted, (size_t)ix.n, sizeof *sorted, cmp_by_name);
    for (int s = 0; s < ix.n_shards; s++) {
        char path[4200];
        if (rl_path(path, sizeof path, "%s/%s", dir, ix.shards[s]) != 0) goto out;
        rl_tensors one;
        if (rl_safetensors_open(&one, path) != 0) {
            rl_fail_prefix("%s: shard %s", index_path, ix.shards[s]);
            goto out;
        }
        /* every tensor of the shard must be listed in the index, for this shard */
        for (int i = 0; i < one.n; i++) {
            int k = index_lookup(&ix, sorted, one.t[i].name);
            if (k < 0 || ix.shard[k] != s) {
                rl_fail("%s: shard %s holds tensor '%s' (file offset %llu), which the index %s", index_path,
                        ix.shards[s], one.t[i].name, (unsigned long long)one.t[i].offset,
                        k < 0 ? "does not list" : "assigns to another shard");
                rl_tensors_free(&one);
                goto out;
            }
        }
        if (!started) {
            *ts = one;
            started = 1;
        } else if (fmt_tensors_append(ts, &one) != 0) {
            rl_tensors_free(&one);
            goto out;
        }
    }
    ts->format = RL_FMT_SAFETENSORS_SHARDED;
    if (fmt_tensors_index(ts) != 0) goto out;
    for (int k = 0; k < ix.n; k++)
        if (!rl_tensors_find(ts, ix.tensor[k])) {
            rl_fail("%s: tensor '%s' is listed for shard %s but missing from it", index_path, ix.tensor[k],
                    ix.shards[ix.shard[k]]);
            goto out;
        }
    rc = 0;
out:
    free(sorted);
    rl_st_index_free(&ix);
    if (rc != 0) rl_tensors_free(ts);
    return rc;
}

int rl_safetensors_open_dir(rl_tensors *ts, const char *dir) {
    char p[4200];
    memset(ts, 0, sizeof *ts);
    /* transformers' order: a single model.safetensors wins over an index */
    if (rl_path(p, sizeof p, "%s/model.safetensors", dir) != 0) return -1;
    if (rl_file_exists(p)) return rl_safetensors_open(ts, p);
    if (rl_path(p, sizeof p, "%s/model.safetensors.index.json", dir) != 0) return -1;
    if (rl_file_exists(p)) return rl_safetensors_open_index(ts, p);
    return rl_fail("%s: no model.safetensors or model.safetensors.index.json in this folder", dir);
}
