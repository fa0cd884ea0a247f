/* formats: the rl_tensors collection (files, tensors, name index), conversion to float32, metadata getters. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *rl_format_name(rl_format f) {
    switch (f) {
    case RL_FMT_SAFETENSORS: return "safetensors";
    case RL_FMT_SAFETENSORS_SHARDED: return "safetensors-sharded";
    case RL_FMT_GGUF: return "gguf";
    case RL_FMT_LLAMA2C: return "llama2c";
    }
    return "?";
}

int fmt_tensors_init(rl_tensors *ts, rl_format f, const char *path, const rl_map *map) {
    memset(ts, 0, sizeof *ts);
    ts->format = f;
    ts->files = rl_calloc(1, sizeof *ts->files, "tensor files");
    if (!ts->files) return -1;
    ts->files[0].path = rl_strdup(path);
    if (!ts->files[0].path) return -1;
    if (map) ts->files[0].map = *map;
    ts->n_files = 1;
    return 0;
}

rl_tensor *fmt_tensors_push(rl_tensors *ts, const char *name, size_t name_len, int file) {
    /* capacity doubles at powers of two */
    if ((ts->n & (ts->n - 1)) == 0) {
        size_t cap = RL_MAX(8, 2 * (size_t)ts->n);
        rl_tensor *t = realloc(ts->t, cap * sizeof *t);
        if (!t) {
            rl_fail("out of memory (tensor list)");
            return NULL;
        }
        ts->t = t;
    }
    rl_tensor *t = &ts->t[ts->n];
    memset(t, 0, sizeof *t);
    t->name = rl_malloc(name_len + 1, "tensor name");
    if (!t->name) return NULL;
    memcpy(t->name, name, name_len);
    t->name[name_len] = '\0';
    t->file = file;
    t->ggml_type = -1;
    for (int d = 0; d < RL_MAX_DIMS; d++) t->shape[d] = 1;
    ts->n++;
    return t;
}

static size_t slot_of(const char *name, size_t mask) { return (size_t)rl_hash64(name, strlen(name), 0) & mask; }

int fmt_tensors_index(rl_tensors *ts) {
    free(ts->slots);
    ts->slots = NULL;
    size_t n = 16;
    while (n < 2 * (size_t)ts->n) n *= 2;
    ts->slots = rl_malloc(n * sizeof *ts->slots, "tensor name index");
    if (!ts->slots) return -1;
    for (size_t i = 0; i < n; i++) ts->slots[i] = -1;
    ts->n_slots = n;
    for (int i = 0; i < ts->n; i++) {
        size_t s = slot_of(ts->t[i].name, n - 1);
        while (ts->slots[s] >= 0) {
            const rl_tensor *o = &ts->t[ts->slots[s]];
            if (strcmp(o->name, ts->t[i].name) == 0) {
                if (o->file != ts->t[i].file)
                    return rl_fail("duplicate tensor name '%s' (in %s and in %s)", o->name, ts->files[o->file].path,
                                   ts->files[ts->t[i].file].path);
                return rl_fail("%s: duplicate tensor name '%s'", ts->files[o->file].path, o->name);
            }
            s = (s + 1) & (n - 1);
        }
        ts->slots[s] = i;
    }
    return 0;
}

const rl_tensor *rl_tensors_find(const rl_tensors *ts, const char *name) {
    if (!ts->slots) {
        for (int i = 0; i < ts->n; i++)
            if (strcmp(ts->t[i].name, name) == 0) return &ts->t[i];
        return NULL;
    }
    size_t s = slot_of(name, ts->n_slots - 1);
    while (ts->slots[s] >= 0) {
        if (strcmp(ts->t[ts->slots[s]].name, name) == 0) return &ts->t[ts->slots[s]];
        s = (s + 1) & (ts->n_slots - 1);
    }
    return NULL;
}

static const char *main_path(const rl_tensors *ts) { return ts->n_files ? ts->files[0].path : "<none>"; }

const rl_tensor *rl_tensors_get(const rl_tensors *ts, const char *name) {
    const rl_tensor *t = rl_tensors_find(ts, name);
    if (!t) rl_fail("%s: tensor '%s' not found", main_path(ts), name);
    return t;
}

const char *rl_tensor_path(const rl_tensors *ts, const rl_tensor *t) {
    return t->file >= 0 && t->file < ts->n_files ? ts->files[t->file].path : "?";
}

int fmt_tensors_append(rl_tensors *dst, rl_tensors *src) {
    rl_tensor_file *f = realloc(dst->files, (size_t)(dst->n_files + src->n_files) * sizeof *f);
    if (!f) return rl_fail("out of memory (tensor files)");
    dst->files = f;
    int base = dst->n_files;
    memcpy(dst->files + base, src->files, (size_t)src->n_files * sizeof *f);
    dst->n_files += src->n_files;
    free(src->files);
    src->files = NULL;
    src->n_files = 0;
    for (int i = 0; i < src->n; i++) {
        rl_tensor *t = fmt_tensors_push(dst, "", 0, 0);
        if (!t) return -1;
        free(t->name);
        *t = src->t[i];
        t->file += base;
    }
    free(src->t);
    src->t = NULL;
    src->n = 0;
    for (int i = 0; i < src->meta.n; i++)
        if (!rl_meta_find(&dst->meta, src->meta.m[i].key) && rl_meta_add_copy(&dst->meta, &src->meta.m[i]) != 0)
            return -1;
    rl_tensors_free(src);
    return 0;
}

void rl_tensors_free(rl_tensors *ts) {
    for (int i = 0; i < ts->n_files; i++) {
        free(ts->files[i].path);
        rl_unmap(&ts->files[i].map);
    }
    free(ts->files);
    for (int i = 0; i < ts->n; i++) free(ts->t[i].name);
    free(ts->t);
    free(ts->slots);
    rl_meta_list_free(&ts->meta);
    memset(ts, 0, sizeof *ts);
}

const char *rl_shape_str(const rl_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    if (n == 0) return buf;
    k += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

static int cmp_span(const void *a, const void *b) {
    const fmt_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

void fmt_sort_spans(fmt_span *sp, int n) { qsort(sp, (size_t)n, sizeof *sp, cmp_span); }

static _Thread_local const char *const *dup_names;
static int cmp_dup(const void *x, const void *y) {
    int i = *(const int *)x, j = *(const int *)y, c = strcmp(dup_names[i], dup_names[j]);
    return c ? c : (i > j) - (i < j);
}

int fmt_find_duplicate(const char *const *names, int n, int *a, int *b) {
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order), found = 0;
    if (!order) { /* out of memory: fall back to the quadratic scan */
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (strcmp(names[i], names[j]) == 0) {
                    *a = i, *b = j;
                    return 1;
                }
        return 0;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    dup_names = names;
    qsort(order, (size_t)n, sizeof *order, cmp_dup);
    for (int i = 1; i < n && !found; i++)
        if (strcmp(names[order[i]], names[order[i - 1]]) == 0) {
            *a = order[i - 1], *b = order[i];
            found = 1;
        }
    free(order);
    return found;
}

int fmt_json_check_strings(const char *json, size_t n, const char *name, size_t base) {
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)json[i];
        if (!in) {
            in = c == '"';
            continue;
        }
        if (c == '\\') {
            if (i + 5 < n && json[i + 1] == 'u' && memcmp(json + i + 2, "0000", 4) == 0)
                return rl_fail("%s: JSON string with a \\u0000 (NUL) escape at file offset %zu", name, base + i);
            i++; /* skip the escaped character */
        } else if (c == '"') {
            in = 0;
        } else if (c < 0x20) {
            return rl_fail("%s: raw control byte 0x%02x inside a JSON string at file offset %zu", name, c, base + i);
        }
    }
    return 0;
}

int fmt_numel(const int64_t *shape, int ndim, int64_t *numel) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        if (shape[d] != 0 && n > INT64_MAX / shape[d]) return -1;
        n *= shape[d];
    }
    *numel = n;
    return 0;
}

int fmt_nbytes(rl_dtype dt, int ggml_type, int64_t numel, uint64_t *nbytes) {
    int be = 1, bb = (int)rl_dtype_size(dt);
    if (dt == RL_DT_Q8_0) {
        be = RL_Q8_0_BLOCK;
        bb = RL_Q8_0_BYTES;
    } else if (dt == RL_DT_GGML) {
        if (rl_ggml_type_info(ggml_type, NULL, &be, &bb) != 0) return -1;
    }
    if (bb <= 0 || numel < 0 || numel % be) return -1;
    uint64_t blocks = (uint64_t)(numel / be);
    if (blocks > UINT64_MAX / (uint64_t)bb) return -1;
    *nbytes = blocks * (uint64_t)bb;
    return 0;
}

/* ---- conversion to float32 --------------------------------------------------------------------- */

static float f8_e4m3(uint8_t b) {
    int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
    float v;
    if (e == 15 && m == 7) return s ? -NAN : NAN;
    if (e == 0) v = (float)m * 0x1p-9f;
    else v = ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return s ? -v : v;
}

/* Unaligned 16-bit loads (file data need not be 2-byte aligned). */
typedef uint16_t u16u __attribute__((aligned(1), may_alias));

static void f16_row_scalar(const uint8_t *q, int64_t n, float *out) {
    const u16u *h = (const u16u *)q;
    for (int64_t i = 0; i < n; i++) out[i] = rl_f16_to_f32(h[i]);
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
/* F16C's vcvtph2ps converts exactly (subnormals, inf; NaNs come out quiet, still NaN). */
__attribute__((target("avx,f16c"))) static void f16_row_f16c(const uint8_t *q, int64_t n, float *out) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(q + 2 * i))));
    f16_row_scalar(q + 2 * i, n - i, out + i);
}
/* CPUID.1:ECX has F16C (bit 29), AVX (28) and OSXSAVE (27); XCR0 bits 1-2: the OS saves AVX state. */
static int detect_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 29)) || !(c & (1u << 28)) || !(c & (1u << 27))) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6u) == 6u;
}
static void f16_row(const uint8_t *q, int64_t n, float *out) {
    static int has = -1; /* -1 unknown; detection is idempotent, so racing threads agree */
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) {
        h = detect_f16c();
        __atomic_store_n(&has, h, __ATOMIC_RELAXED);
    }
    if (h) f16_row_f16c(q, n, out);
    else f16_row_scalar(q, n, out);
}
#else
static void f16_row(const uint8_t *q, int64_t n, float *out) { f16_row_scalar(q, n, out); }
#endif

static float f8_e5m2(uint8_t b) { return rl_f16_to_f32((uint16_t)(b << 8)); } /* E5M2 is the top byte of an F16 */

/* Converts [first, first + count) (already checked) serially. */
static int convert_serial(const rl_tensor *t, int64_t first, int64_t count, float *out) {
    const uint8_t *p = t->data;
    size_t es = rl_dtype_size(t->dtype);
    const uint8_t *q = p + (size_t)first * es;
    int64_t n = count;
    switch (t->dtype) {
    case RL_DT_F32: if (n) memcpy(out, q, (size_t)n * 4); return 0;
    case RL_DT_F16: f16_row(q, n, out); return 0;
    case RL_DT_BF16: {
        const u16u *h = (const u16u *)q;
        uint32_t *o = (uint32_t *)out;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = (uint32_t)h[i] << 16; /* BF16 is the top half of a float32 */
        return 0;
    }
    case RL_DT_F64:
        for (int64_t i = 0; i < n; i++) { double v; memcpy(&v, q + 8 * i, 8); out[i] = (float)v; }
        return 0;
    case RL_DT_F8_E4M3: for (int64_t i = 0; i < n; i++) out[i] = f8_e4m3(q[i]); return 0;
    case RL_DT_F8_E5M2: for (int64_t i = 0; i < n; i++) out[i] = f8_e5m2(q[i]); return 0;
    case RL_DT_I8: for (int64_t i = 0; i < n; i++) out[i] = (float)(int8_t)q[i]; return 0;
    case RL_DT_U8: case RL_DT_BOOL: for (int64_t i = 0; i < n; i++) out[i] = (float)q[i]; return 0;
    case RL_DT_I16: for (int64_t i = 0; i < n; i++) { int16_t v; memcpy(&v, q + 2 * i, 2); out[i] = (float)v; } return 0;
    case RL_DT_U16: for (int64_t i = 0; i < n; i++) { uint16_t v; memcpy(&v, q + 2 * i, 2); out[i] = (float)v; } return 0;
    case RL_DT_I32: for (int64_t i = 0; i < n; i++) { int32_t v; memcpy(&v, q + 4 * i, 4); out[i] = (float)v; } return 0;
    case RL_DT_U32: for (int64_t i = 0; i < n; i++) { uint32_t v; memcpy(&v, q + 4 * i, 4); out[i] = (float)v; } return 0;
    case RL_DT_I64: for (int64_t i = 0; i < n; i++) { int64_t v; memcpy(&v, q + 8 * i, 8); out[i] = (float)v; } return 0;
    case RL_DT_U64: for (int64_t i = 0; i < n; i++) { uint64_t v; memcpy(&v, q + 8 * i, 8); out[i] = (float)v; } return 0;
    case RL_DT_Q8_0: {
        /* whole blocks in the middle, partial blocks at either end through a scratch block */
        int64_t i = 0;
        while (i < n) {
            int64_t e = first + i, b = e / RL_Q8_0_BLOCK, j = e % RL_Q8_0_BLOCK;
            int64_t take = RL_MIN(n - i, RL_Q8_0_BLOCK - j);
            const uint8_t *blk = p + (size_t)b * RL_Q8_0_BYTES;
            if (j == 0 && take == RL_Q8_0_BLOCK) {
                int64_t nb = (n - i) / RL_Q8_0_BLOCK;
                rl_q8_0_dequantize(blk, (size_t)nb * RL_Q8_0_BLOCK, out + i);
                i += nb * RL_Q8_0_BLOCK;
            } else {
                float tmp[RL_Q8_0_BLOCK];
                rl_q8_0_dequantize(blk, RL_Q8_0_BLOCK, tmp);
                memcpy(out + i, tmp + j, (size_t)take * sizeof(float));
                i += take;
            }
        }
        return 0;
    }
    case RL_DT_GGML:
    default: {
        const char *tn = "?";
        rl_ggml_type_info(t->ggml_type, &tn, NULL, NULL);
        return rl_fail("tensor '%s': conversion of ggml type %s to float32 is not supported (only F32, F16, BF16, "
                       "F64, Q8_0 and integers)", t->name, tn);
    }
    }
}

int rl_tensor_to_f32_range(const rl_tensor *t, int64_t first, int64_t count, float *out) {
    if (first < 0 || count < 0 || first > t->numel || count > t->numel - first)
        return rl_fail("tensor '%s': element range [%lld, %lld) outside its %lld elements", t->name, (long long)first,
                       (long long)(first + count), (long long)t->numel);
    if (count == 0) return 0;
    if (!t->data) return rl_fail("tensor '%s' has no data", t->name);
    if (t->dtype == RL_DT_GGML || count < (1 << 18)) return convert_serial(t, first, count, out);
    /* large conversions: chunks over the OpenMP threads (memory-bound; the chunks are independent) */
    const int64_t chunk = 1 << 16;
    int64_t n_chunks = (count + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < n_chunks; c++) {
        int64_t c0 = c * chunk;
        convert_serial(t, first + c0, RL_MIN(chunk, count - c0), out + c0);
    }
    return 0;
}

int rl_tensor_to_f32(const rl_tensor *t, float *out) { return rl_tensor_to_f32_range(t, 0, t->numel, out); }

int rl_tensors_load_f32(const rl_tensors *ts, const char *name, int ndim, const int64_t *shape, float *out) {
    const rl_tensor *t = rl_tensors_get(ts, name);
    if (!t) return -1;
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char want[256] = "[", got[256];
        size_t k = 1;
        for (int d = 0; d < ndim && k < sizeof want; d++)
            k += (size_t)snprintf(want + k, sizeof want - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
        if (k < sizeof want) snprintf(want + k, sizeof want - k, "]");
        return rl_fail("%s: tensor '%s' has shape %s, expected %s", rl_tensor_path(ts, t), name,
                       rl_shape_str(t, got, sizeof got), want);
    }
    if (rl_tensor_to_f32(t, out) != 0) return rl_fail_prefix("%s", rl_tensor_path(ts, t));
    return 0;
}

/* ---- typed metadata getters -------------------------------------------------------------------- */

static const rl_meta *meta_get(const rl_tensors *ts, const char *key) {
    const rl_meta *m = rl_meta_find(&ts->meta, key);
    if (!m) rl_fail("%s: metadata %s missing", main_path(ts), key);
    return m;
}

static int meta_type_error(const rl_tensors *ts, const rl_meta *m, const char *want) {
    return rl_fail("%s: metadata %s has type %s, expected %s", main_path(ts), m->key, rl_meta_type_name(m->type), want);
}

int rl_tensors_meta_i64(const rl_tensors *ts, const char *key, int64_t *out) {
    const rl_meta *m = meta_get(ts, key);
    if (!m) return -1;
    switch (m->type) {
    case RL_META_U8: case RL_META_U16: case RL_META_U32: case RL_META_U64:
        if (m->v.u > INT64_MAX) return rl_fail("%s: metadata %s = %llu does not fit int64", main_path(ts), key,
                                               (unsigned long long)m->v.u);
        *out = (int64_t)m->v.u;
        return 0;
    case RL_META_I8: case RL_META_I16: case RL_META_I32: case RL_META_I64: *out = m->v.i; return 0;
    default: return meta_type_error(ts, m, "integer");
    }
}

int rl_tensors_meta_f64(const rl_tensors *ts, const char *key, double *out) {
    const rl_meta *m = meta_get(ts, key);
    if (!m) return -1;
    switch (m->type) {
    case RL_META_F32: case RL_META_F64: *out = m->v.f; return 0;
    case RL_META_U8: case RL_META_U16: case RL_META_U32: case RL_META_U64: *out = (double)m->v.u; return 0;
    case RL_META_I8: case RL_META_I16: case RL_META_I32: case RL_META_I64: *out = (double)m->v.i; return 0;
    default: return meta_type_error(ts, m, "number");
    }
}

int rl_tensors_meta_bool(const rl_tensors *ts, const char *key, int *out) {
    const rl_meta *m = meta_get(ts, key);
    if (!m) return -1;
    if (m->type != RL_META_BOOL) return meta_type_error(ts, m, "bool");
    *out = m->v.b;
    return 0;
}

int rl_tensors_meta_str(const rl_tensors *ts, const char *key, const char **out) {
    const rl_meta *m = meta_get(ts, key);
    if (!m) return -1;
    if (m->type != RL_META_STRING) return meta_type_error(ts, m, "string");
    *out = m->str;
    return 0;
}
