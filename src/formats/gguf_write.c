/* formats: the GGUF v3 writer (typed metadata, tensor infos with ne innermost first, aligned data). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int put(FILE *fp, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, fp) == n ? 0 : -1; }
static int put_u32(FILE *fp, uint32_t v) { return put(fp, &v, 4); }
static int put_u64(FILE *fp, uint64_t v) { return put(fp, &v, 8); }
static int put_str(FILE *fp, const char *s, uint64_t n) { return put_u64(fp, n) || put(fp, s, (size_t)n) ? -1 : 0; }

/* n zero bytes (alignment padding). */
static int put_zeros(FILE *fp, uint64_t n) {
    static const uint8_t zeros[256];
    while (n > 0) {
        size_t k = (size_t)RL_MIN(n, sizeof zeros);
        if (put(fp, zeros, k)) return -1;
        n -= k;
    }
    return 0;
}

static int put_scalar(FILE *fp, const rl_meta *m) {
    uint8_t b[8];
    size_t n = fmt_meta_scalar_size(m->type);
    uint8_t u8 = (uint8_t)m->v.u; int8_t i8 = (int8_t)m->v.i; uint16_t u16 = (uint16_t)m->v.u;
    int16_t i16 = (int16_t)m->v.i; uint32_t u32 = (uint32_t)m->v.u; int32_t i32 = (int32_t)m->v.i;
    float f32 = (float)m->v.f; uint8_t bo = (uint8_t)(m->v.b != 0);
    switch (m->type) {
    case RL_META_U8: memcpy(b, &u8, 1); break;
    case RL_META_I8: memcpy(b, &i8, 1); break;
    case RL_META_U16: memcpy(b, &u16, 2); break;
    case RL_META_I16: memcpy(b, &i16, 2); break;
    case RL_META_U32: memcpy(b, &u32, 4); break;
    case RL_META_I32: memcpy(b, &i32, 4); break;
    case RL_META_F32: memcpy(b, &f32, 4); break;
    case RL_META_BOOL: memcpy(b, &bo, 1); break;
    case RL_META_U64: memcpy(b, &m->v.u, 8); break;
    case RL_META_I64: memcpy(b, &m->v.i, 8); break;
    case RL_META_F64: memcpy(b, &m->v.f, 8); break;
    default: return -1;
    }
    return put(fp, b, n);
}

static int ggml_type_of(rl_dtype dt) {
    switch (dt) {
    case RL_DT_F32: return RL_GGML_F32;
    case RL_DT_F16: return RL_GGML_F16;
    case RL_DT_BF16: return RL_GGML_BF16;
    case RL_DT_Q8_0: return RL_GGML_Q8_0;
    default: return -1;
    }
}

int fmt_gguf_write_fp(FILE *fp, const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta) {
    uint64_t alignment = 32;
    const char **names = NULL;
    int nm = meta ? meta->n : 0;
    for (int i = 0; i < nm; i++) {
        const rl_meta *m = &meta->m[i];
        if (!m->key || !m->key[0]) return rl_fail("%s: metadata entry %d has an empty key", path, i);
        if ((unsigned)m->type > RL_META_F64)
            return rl_fail("%s: metadata %s has unknown type %d", path, m->key, (int)m->type);
        if (m->type == RL_META_ARRAY && ((unsigned)m->elem > RL_META_F64 || m->elem == RL_META_ARRAY))
            return rl_fail("%s: metadata %s: unsupported array element type", path, m->key);
        if (m->type == RL_META_ARRAY && m->elem == RL_META_BOOL)
            for (uint64_t k = 0; k < m->count; k++)
                if (m->arr[k] > 1) return rl_fail("%s: metadata %s: bool element %llu is %u, not 0 or 1", path, m->key,
                                                  (unsigned long long)k, m->arr[k]);
        if (strcmp(m->key, "general.alignment") == 0) {
            if (m->type != RL_META_U32 || m->v.u == 0 || (m->v.u & (m->v.u - 1)) || m->v.u > 65536)
                return rl_fail("%s: metadata general.alignment must be a u32 power of two up to 65536", path);
            alignment = m->v.u;
        }
    }
    if (n < 0) return rl_fail("%s: negative tensor count", path);
    names = rl_malloc((size_t)(RL_MAX(n, nm) + 1) * sizeof *names, "names");
    if (!names) return -1;
    int a, b;
    for (int i = 0; i < nm; i++) names[i] = meta->m[i].key;
    if (fmt_find_duplicate(names, nm, &a, &b)) {
        free(names);
        return rl_fail("%s: metadata key %s given twice", path, meta->m[a].key);
    }
    for (int i = 0; i < n; i++) {
        int64_t numel;
        uint64_t nbytes;
        if (t[i].dtype == RL_DT_Q8_0 && t[i].ndim >= 0 && t[i].ndim <= RL_MAX_DIMS &&
            (t[i].ndim == 0 || t[i].shape[t[i].ndim - 1] % RL_Q8_0_BLOCK)) {
            free(names);
            return rl_fail("%s: tensor '%s': Q8_0 needs the innermost dimension to be a multiple of 32", path,
                           t[i].name ? t[i].name : "?");
        }
        if (fmt_write_check(&t[i], &numel, &nbytes) != 0) {
            free(names);
            return rl_fail_prefix("%s", path);
        }
        if (ggml_type_of(t[i].dtype) < 0) {
            free(names);
            return rl_fail("%s: tensor '%s': dtype %s is not written to GGUF (F32, F16, BF16, Q8_0)", path, t[i].name,
                           rl_dtype_name(t[i].dtype));
        }
        if (t[i].ndim > 4) {
            free(names);
            return rl_fail("%s: tensor '%s': %d dimensions (GGUF allows at most 4)", path, t[i].name, t[i].ndim);
        }
        names[i] = t[i].name;
    }
    if (fmt_find_duplicate(names, n, &a, &b)) {
        free(names);
        return rl_fail("%s: tensor name '%s' given twice (entries %d and %d)", path, t[a].name, a, b);
    }
    free(names);

    int err = put(fp, "GGUF", 4) || put_u32(fp, 3) || put_u64(fp, (uint64_t)n) || put_u64(fp, (uint64_t)nm);
    for (int i = 0; i < nm && !err; i++) {
        const rl_meta *m = &meta->m[i];
        err = put_str(fp, m->key, strlen(m->key)) || put_u32(fp, (uint32_t)m->type);
        if (err) break;
        if (m->type == RL_META_STRING) err = put_str(fp, m->str ? m->str : "", m->str ? m->str_len : 0);
        else if (m->type == RL_META_ARRAY)
            err = put_u32(fp, (uint32_t)m->elem) || put_u64(fp, m->count) || put(fp, m->arr, m->arr_bytes);
        else err = put_scalar(fp, m);
    }
    uint64_t off = 0;
    for (int i = 0; i < n && !err; i++) {
        int64_t numel;
        uint64_t nbytes;
        fmt_write_check(&t[i], &numel, &nbytes);
        uint32_t nd = (uint32_t)(t[i].ndim ? t[i].ndim : 1);
        err = put_str(fp, t[i].name, strlen(t[i].name)) || put_u32(fp, nd);
        for (int d = (int)nd - 1; d >= 0 && !err; d--) /* ne[0] is the innermost dim */
            err = put_u64(fp, t[i].ndim ? (uint64_t)t[i].shape[d] : 1);
        err = err || put_u32(fp, (uint32_t)ggml_type_of(t[i].dtype)) || put_u64(fp, off);
        off += (nbytes + alignment - 1) / alignment * alignment;
    }
    /* pad the header to the alignment, then each tensor's data */
    long pos = err ? 0 : ftell(fp);
    if (pos < 0) err = 1;
    err = err || put_zeros(fp, (alignment - (uint64_t)pos % alignment) % alignment);
    if (err) return rl_fail("%s: write failed", path);
    for (int i = 0; i < n; i++) {
        int64_t numel;
        uint64_t nbytes;
        fmt_write_check(&t[i], &numel, &nbytes);
        if (fmt_write_data(fp, &t[i], numel, nbytes, path) != 0) return -1;
        if (put_zeros(fp, (alignment - nbytes % alignment) % alignment)) return rl_fail("%s: write failed", path);
    }
    return 0;
}

int rl_gguf_write(const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta) {
    rl_afile f;
    if (rl_afile_open(&f, path) != 0) return -1;
    if (fmt_gguf_write_fp(f.fp, path, t, n, meta) != 0) {
        rl_afile_abort(&f);
        return -1;
    }
    return rl_afile_commit(&f);
}
