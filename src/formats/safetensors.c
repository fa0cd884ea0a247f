/* formats: the safetensors reader (8-byte LE header length, JSON header, contiguous data section). */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER 100000000ULL /* the safetensors library's limit */

/* A JSON number that is an exact non-negative integer <= 2^53. */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}


/* Parses one tensor entry of the header. */
static int parse_entry(rl_tensors *ts, const cJSON *e, const char *name, uint64_t data_len, uint64_t data_start) {
    if (!e->string[0]) return rl_fail("%s: a tensor has an empty name", name);
    if (!cJSON_IsObject(e)) return rl_fail("%s: tensor '%s': header entry is not a JSON object", name, e->string);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const char *tn = e->string;
    if (!jd) return rl_fail("%s: tensor '%s': missing field dtype", name, tn);
    if (!js) return rl_fail("%s: tensor '%s': missing field shape", name, tn);
    if (!jo) return rl_fail("%s: tensor '%s': missing field data_offsets", name, tn);
    if (!cJSON_IsString(jd)) return rl_fail("%s: tensor '%s': field dtype is not a string", name, tn);
    rl_dtype dt;
    if (rl_dtype_from_name(jd->valuestring, &dt) != 0)
        return rl_fail("%s: tensor '%s': unknown dtype '%s'", name, tn, jd->valuestring);
    if (!cJSON_IsArray(js)) return rl_fail("%s: tensor '%s': field shape is not an array", name, tn);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > RL_MAX_DIMS)
        return rl_fail("%s: tensor '%s': %d dimensions (at most %d supported)", name, tn, ndim, RL_MAX_DIMS);
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return rl_fail("%s: tensor '%s': field data_offsets is not an array of two integers", name, tn);
    uint64_t b, en;
    if (json_uint(jo->child, &b) != 0 || json_uint(jo->child->next, &en) != 0)
        return rl_fail("%s: tensor '%s': data_offsets are not non-negative integers", name, tn);

    rl_tensor *t = fmt_tensors_push(ts, tn, strlen(tn), 0);
    if (!t) return -1;
    t->dtype = dt;
    t->ndim = ndim;
    int d = 0;
    for (const cJSON *k = js->child; k; k = k->next, d++) {
        uint64_t v;
        if (json_uint(k, &v) != 0)
            return rl_fail("%s: tensor '%s': shape[%d] is not a non-negative integer", name, tn, d);
        t->shape[d] = (int64_t)v;
    }
    if (fmt_numel(t->shape, ndim, &t->numel) != 0 || fmt_nbytes(dt, -1, t->numel, &t->nbytes) != 0)
        return rl_fail("%s: tensor '%s': shape overflows", name, tn);
    if (b > en) return rl_fail("%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", name, tn,
                               (unsigned long long)b, (unsigned long long)en);
    if (en > data_len)
        return rl_fail("%s: tensor '%s': data_offsets [%llu, %llu] (file offset %llu) end beyond the data section "
                       "(%llu bytes)", name, tn, (unsigned long long)b, (unsigned long long)en,
                       (unsigned long long)(data_start + b), (unsigned long long)data_len);
    if (en - b != t->nbytes) {
        char sh[256];
        return rl_fail("%s: tensor '%s': shape %s x %s = %llu bytes but data_offsets [%llu, %llu] span %llu bytes "
                       "(file offset %llu)", name, tn, rl_shape_str(t, sh, sizeof sh), rl_dtype_name(dt),
                       (unsigned long long)t->nbytes, (unsigned long long)b, (unsigned long long)en,
                       (unsigned long long)(en - b), (unsigned long long)(data_start + b));
    }
    t->offset = data_start + b;
    return 0;
}

static int parse_metadata(rl_tensors *ts, const cJSON *m, const char *name) {
    if (!cJSON_IsObject(m)) return rl_fail("%s: __metadata__ is not a JSON object", name);
    for (const cJSON *k = m->child; k; k = k->next) {
        if (!cJSON_IsString(k)) return rl_fail("%s: __metadata__ value of '%s' is not a string", name, k->string);
        if (rl_meta_find(&ts->meta, k->string)) return rl_fail("%s: __metadata__ has key '%s' twice", name, k->string);
        rl_meta *e = fmt_meta_push(&ts->meta, k->string, strlen(k->string));
        if (!e || fmt_meta_set_str(e, k->valuestring, strlen(k->valuestring)) != 0) return -1;
    }
    return 0;
}

int rl_safetensors_parse(rl_tensors *ts, const uint8_t *buf, size_t len, const char *name) {
    if (fmt_tensors_init(ts, RL_FMT_SAFETENSORS, name, NULL) != 0) return -1;
    int rc = -1;
    cJSON *root = NULL;
    fmt_span *sp = NULL;
    if (len < 8) {
        rl_fail("%s: file is %zu bytes, shorter than the 8-byte safetensors header length", name, len);
        goto out;
    }
    uint64_t hl;
    memcpy(&hl, buf, 8);
    if (hl > ST_MAX_HEADER) {
        rl_fail("%s: header length %llu at offset 0 is absurd (limit %llu)", name, (unsigned long long)hl, ST_MAX_HEADER);
        goto out;
    }
    if (hl > len - 8) {
        rl_fail("%s: header length %llu at offset 0 goes beyond the end of the file (%zu bytes)", name,
                (unsigned long long)hl, len);
        goto out;
    }
    const char *h = (const char *)buf + 8;
    if (hl < 2 || h[0] != '{') {
        rl_fail("%s: header at offset 8 does not start with '{'", name);
        goto out;
    }
    if (fmt_json_check_strings(h, (size_t)hl, name, 8) != 0) goto out;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(h, (size_t)hl, &end, 0);
    if (!root) {
        size_t at = end && end >= h && end <= h + hl ? (size_t)(end - h) : 0;
        rl_fail("%s: malformed JSON header near file offset %zu", name, 8 + at);
        goto out;
    }
    for (const char *p = end; p < h + hl; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            rl_fail("%s: unexpected byte 0x%02x after the JSON header at file offset %zu", name, (unsigned char)*p,
                    (size_t)(p - (const char *)buf));
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        rl_fail("%s: JSON header is not an object", name);
        goto out;
    }
    uint64_t data_start = 8 + hl, data_len = len - data_start;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!e->string) {
            rl_fail("%s: JSON header entry without a name", name);
            goto out;
        }
        if (strcmp(e->string, "__metadata__") == 0) {
            if (parse_metadata(ts, e, name) != 0) goto out;
        } else if (parse_entry(ts, e, name, data_len, data_start) != 0) {
            goto out;
        }
    }
    if (fmt_tensors_index(ts) != 0) goto out;
    /* The data section must be covered exactly: no overlaps, no holes, nothing after the last tensor
     * (the safetensors specification; it also rules out polyglot files). */
    sp = rl_malloc((size_t)ts->n * sizeof *sp, "tensor spans");
    if (!sp) goto out;
    for (int i = 0; i < ts->n; i++)
        sp[i] = (fmt_span){ts->t[i].offset - data_start, ts->t[i].offset - data_start + ts->t[i].nbytes, i};
    fmt_sort_spans(sp, ts->n);
    uint64_t pos = 0;
    int prev = -1;
    for (int i = 0; i < ts->n; i++) {
        if (sp[i].begin < pos) {
            rl_fail("%s: tensor '%s' data_offsets [%llu, %llu] overlap tensor '%s' (ends at %llu; file offset %llu)", name,
                    ts->t[sp[i].idx].name, (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end,
                    ts->t[prev].name, (unsigned long long)pos, (unsigned long long)(data_start + sp[i].begin));
            goto out;
        }
        if (sp[i].begin > pos) {
            rl_fail("%s: %llu unused bytes before tensor '%s' (data_offsets [%llu, %llu], file offset %llu)", name,
                    (unsigned long long)(sp[i].begin - pos), ts->t[sp[i].idx].name, (unsigned long long)sp[i].begin,
                    (unsigned long long)sp[i].end, (unsigned long long)(data_start + pos));
            goto out;
        }
        if (sp[i].end > pos || prev < 0) prev = sp[i].idx;
        pos = sp[i].end;
    }
    if (pos != data_len) {
        rl_fail("%s: %llu trailing bytes after the last tensor (file offset %llu)", name,
                (unsigned long long)(data_len - pos), (unsigned long long)(data_start + pos));
        goto out;
    }
    /* tensors in data order, pointers into the buffer */
    {
        rl_tensor *sorted = rl_malloc((size_t)ts->n * sizeof *sorted, "tensor list");
        if (!sorted) goto out;
        for (int i = 0; i < ts->n; i++) sorted[i] = ts->t[sp[i].idx];
        if (ts->n > 0) memcpy(ts->t, sorted, (size_t)ts->n * sizeof *sorted); /* ts->t is NULL when empty */
        free(sorted);
        for (int i = 0; i < ts->n; i++) ts->t[i].data = buf + ts->t[i].offset;
        if (fmt_tensors_index(ts) != 0) goto out;
    }
    rc = 0;
out:
    free(sp);
    cJSON_Delete(root);
    if (rc != 0) rl_tensors_free(ts);
    return rc;
}
