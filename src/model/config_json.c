/* Model configuration <-> JSON (cJSON), strictly validated: every bad value names its key. */
#include "internal.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const norm_names[] = {"rms", "layer"};
static const char *const mlp_names[] = {"geglu", "swiglu", "gelu", "gelu_tanh"};

/* ---- writing ------------------------------------------------------------------------------- */

/* The plain fields, in the order they are written. */
typedef enum { F_INT, F_NUM, F_BOOL } ftype;
typedef struct {
    const char *key;
    ftype type;
    size_t off;
} field;
#define FLD(name, t) {#name, t, offsetof(rl_model_config, name)}
static const field fields[] = {
    FLD(vocab_size, F_INT),       FLD(d_model, F_INT),         FLD(n_layers, F_INT),
    FLD(n_heads, F_INT),          FLD(n_kv_heads, F_INT),      FLD(head_dim, F_INT),
    FLD(d_ff, F_INT),             FLD(max_seq, F_INT),         FLD(norm_plus_one, F_BOOL),
    FLD(norm_eps, F_NUM),         FLD(sandwich_norm, F_BOOL),  FLD(qkv_bias, F_BOOL),
    FLD(o_bias, F_BOOL),          FLD(mlp_bias, F_BOOL),       FLD(fused_qkv, F_BOOL),
    FLD(parallel_residual, F_BOOL), FLD(query_pre_attn_scalar, F_NUM), FLD(attn_softcap, F_NUM),
    FLD(final_softcap, F_NUM),    FLD(sliding_window, F_INT),  FLD(tie_embeddings, F_BOOL),
    FLD(bos_id, F_INT),           FLD(eos_id, F_INT),          FLD(init_std, F_NUM),
};
#undef FLD


char *rl_model_config_to_json(const rl_model_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char pe[RL_MAX_LAYERS * 160];
    rl_model_config_pe_string(c, pe, sizeof pe);
    cJSON_AddStringToObject(o, "arch", rl_arch_name(c->arch));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const void *p = (const char *)c + fields[i].off;
        if (fields[i].type == F_NUM)
            cJSON_AddNumberToObject(o, fields[i].key, *(const double *)p);
        else if (fields[i].type == F_INT)
            cJSON_AddNumberToObject(o, fields[i].key, *(const int *)p);
        else
            cJSON_AddBoolToObject(o, fields[i].key, *(const int *)p);
        if (strcmp(fields[i].key, "max_seq") == 0) { /* the encodings and the kinds right after the sizes */
            cJSON_AddStringToObject(o, "pe", pe);
            cJSON_AddStringToObject(o, "norm", norm_names[c->norm == RL_NORM_LAYER]);
            cJSON_AddStringToObject(o, "mlp", (unsigned)c->mlp <= RL_MLP_GELU_TANH ? mlp_names[c->mlp] : "?");
        }
    }
    cJSON_AddStringToObject(o, "attn_softmax", rl_attn_softmax_name(c->attn_softmax));
    int k = rl_model_config_sliding_period(c);
    cJSON *sl = cJSON_AddArrayToObject(o, "sliding_layers");
    for (int l = 0; l < k && sl; l++) cJSON_AddItemToArray(sl, cJSON_CreateNumber(c->sliding[l]));
    if (c->embed_scale == RL_EMBED_SQRT_D)
        cJSON_AddStringToObject(o, "embed_scale", "sqrt_d_model");
    else
        cJSON_AddNumberToObject(o, "embed_scale", c->embed_scale);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) rl_fail("model config: out of memory writing JSON");
    return s;
}

/* ---- reading ------------------------------------------------------------------------------- */

typedef struct {
    const char *src;
} ctx;

static int bad(const ctx *x, const char *key, const char *what) {
    return rl_fail("%s: key %s: %s", x->src, key, what);
}

static int get_int(const ctx *x, const cJSON *v, int *out) {
    if (!cJSON_IsNumber(v)) return bad(x, v->string, "expected an integer");
    double d = v->valuedouble;
    if (!(d == floor(d) && d >= -2147483648.0 && d <= 2147483647.0)) {
        char m[96];
        snprintf(m, sizeof m, "%.17g is not an integer in the int32 range", d);
        return bad(x, v->string, m);
    }
    *out = (int)d;
    return 0;
}

static int get_num(const ctx *x, const cJSON *v, double *out) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return bad(x, v->string, "expected a finite number");
    *out = v->valuedouble;
    return 0;
}

static int get_bool(const ctx *x, const cJSON *v, int *out) {
    if (!cJSON_IsBool(v)) return bad(x, v->string, "expected true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_enum(const ctx *x, const cJSON *v, const char *const *names, int n, int *out) {
    if (cJSON_IsString(v))
        for (int i = 0; i < n; i++)
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                return 0;
            }
    char m[160];
    int w = snprintf(m, sizeof m, "expected one of");
    for (int i = 0; i < n; i++) w += snprintf(m + w, sizeof m - (size_t)w, " \"%s\"", names[i]);
    return bad(x, v->string, m);
}

/* A per-layer list: a string "a;b;c" or an array of strings, joined back with ';'. */
static int get_list(const ctx *x, const cJSON *v, char *buf, size_t n) {
    if (cJSON_IsString(v)) {
        if (strlen(v->valuestring) >= n) return bad(x, v->string, "is too long");
        strcpy(buf, v->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return bad(x, v->string, "expected a string (\"spec;spec;...\") or a non-empty array of strings");
    size_t used = 0;
    buf[0] = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e)) return bad(x, v->string, "array elements must be strings");
        size_t len = strlen(e->valuestring);
        if (used + len + 2 >= n) return bad(x, v->string, "is too long");
        if (used) buf[used++] = ';';
        memcpy(buf + used, e->valuestring, len + 1);
        used += len;
    }
    return 0;
}

static int get_sliding(const ctx *x, const cJSON *v, rl_model_config *c) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return bad(x, v->string, "expected a non-empty array of 0/1 (one per layer, or a repeating pattern)");
    int k = cJSON_GetArraySize(v);
    if (k > RL_MAX_LAYERS || (k != 1 && c->n_layers % k != 0)) {
        char m[160];
        snprintf(m, sizeof m, "%d entries for %d layers: give 1, %d, or a pattern whose length divides %d", k,
                 c->n_layers, c->n_layers, c->n_layers);
        return bad(x, v->string, m);
    }
    uint8_t pat[RL_MAX_LAYERS];
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        int b;
        if (cJSON_IsBool(e))
            b = cJSON_IsTrue(e);
        else if (cJSON_IsNumber(e) && (e->valuedouble == 0 || e->valuedouble == 1))
            b = (int)e->valuedouble;
        else
            return bad(x, v->string, "entries must be 0, 1, true or false");
        pat[i++] = (uint8_t)b;
    }
    for (int l = 0; l < RL_MAX_LAYERS; l++) c->sliding[l] = pat[l % k];
    return 0;
}

int rl_model_config_from_json(rl_model_config *c, const char *json, const char *source) {
    ctx x = {source ? source : "config"};
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= json ? (long)(at - json) : -1;
        return rl_fail("%s: not valid JSON (near byte offset %ld)", x.src, off);
    }
    int rc = -1;
    rl_model_config t = *c;
    if (!cJSON_IsObject(root)) {
        rl_fail("%s: expected a JSON object", x.src);
        goto done;
    }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "arch");
    if (arch) {
        if (!cJSON_IsString(arch)) {
            bad(&x, "arch", "expected a string");
            goto done;
        }
        if (rl_model_config_preset(&t, arch->valuestring) != 0) {
            rl_fail_prefix("%s: key arch", x.src);
            goto done;
        }
    }
    /* scalars first; the per-layer lists need n_layers */
    const cJSON *v, *pe = NULL, *sliding = NULL;
    cJSON_ArrayForEach(v, root) {
        const char *k = v->string;
        int r = 0, e;
        if (strcmp(k, "arch") == 0) continue;
        const field *f = NULL;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0] && !f; i++)
            if (strcmp(k, fields[i].key) == 0) f = &fields[i];
        if (f) {
            void *p = (char *)&t + f->off;
            r = f->type == F_NUM ? get_num(&x, v, p) : f->type == F_INT ? get_int(&x, v, p) : get_bool(&x, v, p);
        } else if (strcmp(k, "norm") == 0) {
            if ((r = get_enum(&x, v, norm_names, 2, &e)) == 0) t.norm = (rl_norm_kind)e;
        } else if (strcmp(k, "mlp") == 0) {
            if ((r = get_enum(&x, v, mlp_names, 4, &e)) == 0) t.mlp = (rl_mlp_kind)e;
        } else if (strcmp(k, "attn_softmax") == 0) {
            const char *const names[] = {rl_attn_softmax_name(RL_ATTN_PLAIN), rl_attn_softmax_name(RL_ATTN_ADAPTIVE),
                                         rl_attn_softmax_name(RL_ATTN_ADAPTIVE_CONST)};
            if ((r = get_enum(&x, v, names, RL_ATTN_KIND_COUNT, &e)) == 0) t.attn_softmax = (rl_attn_softmax)e;
        } else if (strcmp(k, "embed_scale") == 0) {
            if (cJSON_IsString(v) && strcmp(v->valuestring, "sqrt_d_model") == 0)
                t.embed_scale = RL_EMBED_SQRT_D;
            else if (cJSON_IsString(v))
                r = bad(&x, k, "expected a number or \"sqrt_d_model\"");
            else
                r = get_num(&x, v, &t.embed_scale);
        } else if (strcmp(k, "pe") == 0) {
            pe = v;
        } else if (strcmp(k, "sliding_layers") == 0) {
            sliding = v;
        } else {
            r = rl_fail("%s: key %s is unknown (see docs/model.md, \"Config keys\")", x.src, k);
        }
        if (r) goto done;
    }
    if (t.n_layers < 1 || t.n_layers > RL_MAX_LAYERS) {
        rl_fail("%s: key n_layers: %d must be in [1, %d]", x.src, t.n_layers, RL_MAX_LAYERS);
        goto done;
    }
    if (pe) {
        char list[RL_MAX_LAYERS * 256];
        if (get_list(&x, pe, list, sizeof list) != 0) goto done;
        if (rl_model_config_set_pe(&t, list) != 0) {
            rl_fail_prefix("%s", x.src);
            goto done;
        }
    }
    if (sliding && get_sliding(&x, sliding, &t) != 0) goto done;
    if (rl_model_config_validate(&t) != 0) {
        rl_fail_prefix("%s", x.src);
        goto done;
    }
    *c = t;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

int rl_model_config_load(rl_model_config *c, const char *path) {
    char *data;
    size_t len;
    if (rl_read_file(path, &data, &len) != 0) return -1;
    int rc = rl_model_config_from_json(c, data, path);
    free(data);
    return rc;
}
