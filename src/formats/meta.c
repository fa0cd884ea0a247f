/* formats: metadata lists (GGUF-typed key/values), their builders, array element access. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

const char *rl_meta_type_name(rl_meta_type t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < RL_ARRAY_LEN(names) ? names[t] : "?";
}

/* Bytes per element of a scalar meta type in GGUF's encoding; 0 for STRING/ARRAY. */
size_t fmt_meta_scalar_size(rl_meta_type t) {
    switch (t) {
    case RL_META_U8: case RL_META_I8: case RL_META_BOOL: return 1;
    case RL_META_U16: case RL_META_I16: return 2;
    case RL_META_U32: case RL_META_I32: case RL_META_F32: return 4;
    case RL_META_U64: case RL_META_I64: case RL_META_F64: return 8;
    default: return 0;
    }
}

/* Appends a zeroed entry with a copy of `key`; returns it (NULL when out of memory). */
rl_meta *fmt_meta_push(rl_meta_list *l, const char *key, size_t key_len) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        rl_meta *m = realloc(l->m, (size_t)cap * sizeof *m);
        if (!m) {
            rl_fail("out of memory (metadata list)");
            return NULL;
        }
        l->m = m;
        l->cap = cap;
    }
    rl_meta *e = &l->m[l->n];
    memset(e, 0, sizeof *e);
    e->key = rl_malloc(key_len + 1, "metadata key");
    if (!e->key) return NULL;
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    l->n++;
    return e;
}

/* Appends an entry of scalar type t; the caller sets its value. */
static rl_meta *add_typed(rl_meta_list *l, const char *key, rl_meta_type t) {
    rl_meta *e = fmt_meta_push(l, key, strlen(key));
    if (e) e->type = t;
    return e;
}

#define ADD_SCALAR(fn, ctype, type, field, expr)                          \
    int fn(rl_meta_list *l, const char *key, ctype v) {                   \
        rl_meta *e = add_typed(l, key, type);                             \
        if (!e) return -1;                                                \
        e->v.field = expr;                                                \
        return 0;                                                         \
    }
ADD_SCALAR(rl_meta_add_u32, uint32_t, RL_META_U32, u, v)
ADD_SCALAR(rl_meta_add_u64, uint64_t, RL_META_U64, u, v)
ADD_SCALAR(rl_meta_add_i32, int32_t, RL_META_I32, i, v)
ADD_SCALAR(rl_meta_add_i64, int64_t, RL_META_I64, i, v)
ADD_SCALAR(rl_meta_add_f32, float, RL_META_F32, f, v)
ADD_SCALAR(rl_meta_add_f64, double, RL_META_F64, f, v)
ADD_SCALAR(rl_meta_add_bool, int, RL_META_BOOL, b, v != 0)

/* Sets a STRING entry's value to a copy of s[0..n). */
int fmt_meta_set_str(rl_meta *e, const char *s, size_t n) {
    e->type = RL_META_STRING;
    e->str = rl_malloc(n + 1, "metadata string");
    if (!e->str) return -1;
    if (n) memcpy(e->str, s, n);
    e->str[n] = '\0';
    e->str_len = n;
    return 0;
}

int rl_meta_add_str(rl_meta_list *l, const char *key, const char *v) {
    rl_meta *e = fmt_meta_push(l, key, strlen(key));
    return e ? fmt_meta_set_str(e, v, strlen(v)) : -1;
}

int rl_meta_add_arr(rl_meta_list *l, const char *key, rl_meta_type elem, const void *values, uint64_t n) {
    size_t es = fmt_meta_scalar_size(elem);
    if (es == 0) return rl_fail("metadata %s: array element type %s needs rl_meta_add_arr_str", key,
                                rl_meta_type_name(elem));
    if (n > SIZE_MAX / es) return rl_fail("metadata %s: array too large", key);
    rl_meta *e = fmt_meta_push(l, key, strlen(key));
    if (!e) return -1;
    e->type = RL_META_ARRAY;
    e->elem = elem;
    e->count = n;
    e->arr_bytes = (size_t)n * es;
    e->arr = rl_malloc(e->arr_bytes, "metadata array");
    if (!e->arr) return -1;
    if (n) memcpy(e->arr, values, e->arr_bytes);
    return 0;
}

int rl_meta_add_arr_str(rl_meta_list *l, const char *key, const char *const *values, uint64_t n) {
    size_t bytes = 0;
    for (uint64_t i = 0; i < n; i++) bytes += 8 + strlen(values[i]);
    rl_meta *e = fmt_meta_push(l, key, strlen(key));
    if (!e) return -1;
    e->type = RL_META_ARRAY;
    e->elem = RL_META_STRING;
    e->count = n;
    e->arr_bytes = bytes;
    e->arr = rl_malloc(bytes, "metadata string array");
    e->str_off = rl_malloc((size_t)n * sizeof(uint64_t), "metadata string offsets");
    if (!e->arr || !e->str_off) return -1;
    size_t pos = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = strlen(values[i]);
        e->str_off[i] = pos;
        memcpy(e->arr + pos, &len, 8);
        memcpy(e->arr + pos + 8, values[i], len);
        pos += 8 + len;
    }
    return 0;
}

int rl_meta_add_copy(rl_meta_list *l, const rl_meta *m) {
    rl_meta *e = fmt_meta_push(l, m->key, strlen(m->key));
    if (!e) return -1;
    char *key = e->key;
    *e = *m;
    e->key = key;
    e->str = NULL;
    e->arr = NULL;
    e->str_off = NULL;
    if (m->type == RL_META_STRING) return fmt_meta_set_str(e, m->str, m->str_len);
    if (m->type == RL_META_ARRAY) {
        e->arr = rl_malloc(m->arr_bytes, "metadata array");
        if (!e->arr) return -1;
        if (m->arr_bytes) memcpy(e->arr, m->arr, m->arr_bytes);
        if (m->str_off) {
            e->str_off = rl_malloc((size_t)m->count * sizeof(uint64_t), "metadata string offsets");
            if (!e->str_off) return -1;
            memcpy(e->str_off, m->str_off, (size_t)m->count * sizeof(uint64_t));
        }
    }
    return 0;
}

const rl_meta *rl_meta_find(const rl_meta_list *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->m[i].key, key) == 0) return &l->m[i];
    return NULL;
}

void rl_meta_list_free(rl_meta_list *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->m[i].key);
        free(l->m[i].str);
        free(l->m[i].arr);
        free(l->m[i].str_off);
    }
    free(l->m);
    l->m = NULL;
    l->n = l->cap = 0;
}

/* Reads one little-endian scalar of type t at p as int64 (integers, bool) or double. */
static int scalar_i64(rl_meta_type t, const uint8_t *p, int64_t *out) {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; uint64_t u64; int64_t i64;
    switch (t) {
    case RL_META_U8: case RL_META_BOOL: memcpy(&u8, p, 1); *out = u8; return 0;
    case RL_META_I8: memcpy(&i8, p, 1); *out = i8; return 0;
    case RL_META_U16: memcpy(&u16, p, 2); *out = u16; return 0;
    case RL_META_I16: memcpy(&i16, p, 2); *out = i16; return 0;
    case RL_META_U32: memcpy(&u32, p, 4); *out = u32; return 0;
    case RL_META_I32: memcpy(&i32, p, 4); *out = i32; return 0;
    case RL_META_U64: memcpy(&u64, p, 8); if (u64 > INT64_MAX) return -1; *out = (int64_t)u64; return 0;
    case RL_META_I64: memcpy(&i64, p, 8); *out = i64; return 0;
    default: return -1;
    }
}

int rl_meta_arr_i64(const rl_meta *m, uint64_t i, int64_t *out) {
    if (m->type != RL_META_ARRAY || i >= m->count) return -1;
    size_t es = fmt_meta_scalar_size(m->elem);
    if (!es) return -1;
    return scalar_i64(m->elem, m->arr + i * es, out);
}

int rl_meta_arr_f64(const rl_meta *m, uint64_t i, double *out) {
    if (m->type != RL_META_ARRAY || i >= m->count) return -1;
    size_t es = fmt_meta_scalar_size(m->elem);
    if (!es) return -1;
    const uint8_t *p = m->arr + i * es;
    if (m->elem == RL_META_F32) {
        float f;
        memcpy(&f, p, 4);
        *out = f;
        return 0;
    }
    if (m->elem == RL_META_F64) {
        memcpy(out, p, 8);
        return 0;
    }
    if (m->elem == RL_META_U64) {
        uint64_t u;
        memcpy(&u, p, 8);
        *out = (double)u;
        return 0;
    }
    int64_t v;
    if (scalar_i64(m->elem, p, &v) != 0) return -1;
    *out = (double)v;
    return 0;
}

int rl_meta_arr_str(const rl_meta *m, uint64_t i, const char **s, size_t *len) {
    if (m->type != RL_META_ARRAY || m->elem != RL_META_STRING || i >= m->count || !m->str_off) return -1;
    uint64_t n;
    memcpy(&n, m->arr + m->str_off[i], 8);
    *s = (const char *)m->arr + m->str_off[i] + 8;
    *len = (size_t)n;
    return 0;
}
