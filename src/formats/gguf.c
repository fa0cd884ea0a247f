/* formats: the GGUF reader (v2/v3): header, typed metadata, tensor infos, aligned data section. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define GGUF_MAX_DIMS 4 /* ggml's GGML_MAX_DIMS */

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    const char *name;
} cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > c->len - c->pos)
        return rl_fail("%s: %s at offset %zu needs %llu bytes but the file ends at %zu", c->name, what, c->pos,
                       (unsigned long long)n, c->len);
    return 0;
}

static int rd(cursor *c, void *out, size_t n, const char *what) {
    if (need(c, n, what) != 0) return -1;
    memcpy(out, c->buf + c->pos, n);
    c->pos += n;
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) { return rd(c, v, 4, what); }
static int rd_u64(cursor *c, uint64_t *v, const char *what) { return rd(c, v, 8, what); }

/* A GGUF string: u64 length + bytes (not NUL-terminated). */
static int rd_str(cursor *c, const char **s, uint64_t *n, const char *what) {
    size_t at = c->pos;
    if (rd_u64(c, n, what) != 0) return -1;
    if (*n > c->len - c->pos)
        return rl_fail("%s: %s at offset %zu has length %llu, beyond the end of the file (%zu bytes)", c->name, what, at,
                       (unsigned long long)*n, c->len);
    *s = (const char *)c->buf + c->pos;
    c->pos += (size_t)*n;
    return 0;
}

/* Reads one scalar value of type t into e (e->type already set). */
static int rd_scalar(cursor *c, rl_meta *e, rl_meta_type t) {
    size_t at = c->pos;
    uint8_t b[8];
    size_t es = fmt_meta_scalar_size(t);
    char mk[256];
    snprintf(mk, sizeof mk, "metadata %.200s", e->key);
    if (rd(c, b, es, mk) != 0) return -1;
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
    switch (t) {
    case RL_META_U8: memcpy(&u8, b, 1); e->v.u = u8; break;
    case RL_META_I8: memcpy(&i8, b, 1); e->v.i = i8; break;
    case RL_META_U16: memcpy(&u16, b, 2); e->v.u = u16; break;
    case RL_META_I16: memcpy(&i16, b, 2); e->v.i = i16; break;
    case RL_META_U32: memcpy(&u32, b, 4); e->v.u = u32; break;
    case RL_META_I32: memcpy(&i32, b, 4); e->v.i = i32; break;
    case RL_META_F32: memcpy(&f32, b, 4); e->v.f = f32; break;
    case RL_META_U64: memcpy(&e->v.u, b, 8); break;
    case RL_META_I64: memcpy(&e->v.i, b, 8); break;
    case RL_META_F64: memcpy(&e->v.f, b, 8); break;
    case RL_META_BOOL:
        if (b[0] > 1)
            return rl_fail("%s: metadata %s at offset %zu: bool value %u is not 0 or 1", c->name, e->key, at, b[0]);
        e->v.b = b[0];
        break;
    default: return rl_fail("%s: metadata %s: internal error (type %d)", c->name, e->key, (int)t);
    }
    return 0;
}

/* A key or tensor name: a non-empty GGUF string without NUL bytes. what: "metadata key #3". */
static int rd_name(cursor *c, const char *what, const char **s, uint64_t *n) {
    size_t at = c->pos;
    if (rd_str(c, s, n, what) != 0) return -1;
    if (*n == 0) return rl_fail("%s: %s at offset %zu is empty", c->name, what, at);
    if (memchr(*s, 0, (size_t)*n)) return rl_fail("%s: %s at offset %zu contains a NUL byte", c->name, what, at);
    return 0;
}

static int valid_type(uint32_t t) { return t <= RL_META_F64; }

static int rd_kv(cursor *c, rl_tensors *ts, uint64_t k, uint64_t *key_at) {
    size_t at = c->pos;
    *key_at = at;
    const char *key;
    uint64_t klen;
    char what[64];
    snprintf(what, sizeof what, "metadata key #%llu", (unsigned long long)k);
    if (rd_name(c, what, &key, &klen) != 0) return -1;
    rl_meta *e = fmt_meta_push(&ts->meta, key, (size_t)klen);
    if (!e) return -1;
    char mk[256]; /* "metadata KEY", for messages about the value */
    snprintf(mk, sizeof mk, "metadata %.200s", e->key);
    uint32_t t;
    size_t tat = c->pos;
    if (rd_u32(c, &t, mk) != 0) return -1;
    if (!valid_type(t))
        return rl_fail("%s: metadata %s at offset %zu: unknown value type %u", c->name, e->key, tat, t);
    e->type = (rl_meta_type)t;
    if (t == RL_META_STRING) {
        const char *s;
        uint64_t n;
        if (rd_str(c, &s, &n, mk) != 0) return -1;
        return fmt_meta_set_str(e, s, (size_t)n);
    }
    if (t != RL_META_ARRAY) return rd_scalar(c, e, e->type);
    uint32_t et;
    uint64_t count;
    size_t aat = c->pos;
    if (rd_u32(c, &et, mk) != 0 || rd_u64(c, &count, mk) != 0) return -1;
    if (!valid_type(et))
        return rl_fail("%s: metadata %s at offset %zu: unknown array element type %u", c->name, e->key, aat, et);
    if (et == RL_META_ARRAY)
        return rl_fail("%s: metadata %s at offset %zu: arrays of arrays are not supported", c->name, e->key, aat);
    e->elem = (rl_meta_type)et;
    e->count = count;
    size_t start = c->pos;
    if (et != RL_META_STRING) {
        size_t es = fmt_meta_scalar_size(e->elem);
        if (count > (c->len - c->pos) / es)
            return rl_fail("%s: metadata %s at offset %zu: %llu elements of %s go beyond the end of the file", c->name,
                           e->key, aat, (unsigned long long)count, rl_meta_type_name(e->elem));
        c->pos += (size_t)count * es;
        if (e->elem == RL_META_BOOL)
            for (size_t i = start; i < c->pos; i++)
                if (c->buf[i] > 1)
                    return rl_fail("%s: metadata %s at offset %zu: bool element value %u is not 0 or 1", c->name, e->key, i,
                                   c->buf[i]);
    } else {
        if (count > (c->len - c->pos) / 8) /* every string takes at least its 8-byte length */
            return rl_fail("%s: metadata %s at offset %zu: %llu strings cannot fit in the rest of the file", c->name, e->key,
                           aat, (unsigned long long)count);
        e->str_off = rl_malloc((size_t)count * sizeof(uint64_t), "metadata string offsets");
        if (!e->str_off) return -1;
        for (uint64_t i = 0; i < count; i++) {
            const char *s;
            uint64_t n;
            e->str_off[i] = c->pos - start;
            if (rd_str(c, &s, &n, mk) != 0) return -1;
        }
    }
    e->arr_bytes = c->pos - start;
    e->arr = rl_malloc(e->arr_bytes, "metadata array");
    if (!e->arr) return -1;
    if (e->arr_bytes) memcpy(e->arr, c->buf + start, e->arr_bytes);
    return 0;
}

static int rd_tensor_info(cursor *c, rl_tensors *ts, uint64_t k, uint64_t alignment) {
    const char *name;
    uint64_t nlen;
    char what[64];
    snprintf(what, sizeof what, "name of tensor info #%llu", (unsigned long long)k);
    if (rd_name(c, what, &name, &nlen) != 0) return -1;
    rl_tensor *t = fmt_tensors_push(ts, name, (size_t)nlen, 0);
    if (!t) return -1;
    uint32_t nd, type;
    size_t dat = c->pos;
    if (rd_u32(c, &nd, t->name) != 0) return -1;
    if (nd > GGUF_MAX_DIMS)
        return rl_fail("%s: tensor '%s' at offset %zu: %u dimensions (GGUF allows at most %d)", c->name, t->name, dat, nd,
                       GGUF_MAX_DIMS);
    uint64_t ne[GGUF_MAX_DIMS];
    for (uint32_t d = 0; d < nd; d++) {
        size_t nat = c->pos;
        if (rd_u64(c, &ne[d], t->name) != 0) return -1;
        if (ne[d] > (uint64_t)INT64_MAX)
            return rl_fail("%s: tensor '%s' at offset %zu: dimension %u = %llu is too large", c->name, t->name, nat, d,
                           (unsigned long long)ne[d]);
    }
    /* GGUF's ne[0] is the innermost (row) length: reverse into outermost-first order */
    t->ndim = (int)nd;
    for (uint32_t d = 0; d < nd; d++) t->shape[nd - 1 - d] = (int64_t)ne[d];
    size_t tat = c->pos;
    if (rd_u32(c, &type, t->name) != 0) return -1;
    const char *tname;
    int be, bb;
    if (rl_ggml_type_info((int)type, &tname, &be, &bb) != 0)
        return rl_fail("%s: tensor '%s' at offset %zu: unknown ggml type %u", c->name, t->name, tat, type);
    t->ggml_type = (int)type;
    switch (type) {
    case RL_GGML_F32: t->dtype = RL_DT_F32; break;
    case RL_GGML_F16: t->dtype = RL_DT_F16; break;
    case RL_GGML_BF16: t->dtype = RL_DT_BF16; break;
    case RL_GGML_Q8_0: t->dtype = RL_DT_Q8_0; break;
    case RL_GGML_F64: t->dtype = RL_DT_F64; break;
    case RL_GGML_I8: t->dtype = RL_DT_I8; break;
    case RL_GGML_I16: t->dtype = RL_DT_I16; break;
    case RL_GGML_I32: t->dtype = RL_DT_I32; break;
    case RL_GGML_I64: t->dtype = RL_DT_I64; break;
    default: t->dtype = RL_DT_GGML; break;
    }
    if (fmt_numel(t->shape, t->ndim, &t->numel) != 0)
        return rl_fail("%s: tensor '%s' at offset %zu: element count overflows", c->name, t->name, dat);
    if (nd > 0 && ne[0] % (uint64_t)be)
        return rl_fail("%s: tensor '%s' at offset %zu: row length ne[0] = %llu is not a multiple of %s's block of %d",
                       c->name, t->name, dat, (unsigned long long)ne[0], tname, be);
    if (fmt_nbytes(t->dtype, t->ggml_type, t->numel, &t->nbytes) != 0)
        return rl_fail("%s: tensor '%s' at offset %zu: byte size overflows", c->name, t->name, dat);
    size_t oat = c->pos;
    if (rd_u64(c, &t->offset, t->name) != 0) return -1;
    if (t->offset % alignment)
        return rl_fail("%s: tensor '%s': data offset %llu (field at offset %zu) is not a multiple of the alignment %llu",
                       c->name, t->name, (unsigned long long)t->offset, oat, (unsigned long long)alignment);
    return 0;
}


int rl_gguf_parse(rl_tensors *ts, const uint8_t *buf, size_t len, const char *name) {
    if (fmt_tensors_init(ts, RL_FMT_GGUF, name, NULL) != 0) return -1;
    cursor c = {buf, len, 0, name};
    fmt_span *sp = NULL;
    uint64_t *key_at = NULL;
    int rc = -1;
    uint8_t magic[4];
    uint32_t version;
    uint64_t n_tensors, n_kv;
    if (len < 4 || memcmp(buf, "GGUF", 4) != 0) {
        rl_fail("%s: not a GGUF file (no \"GGUF\" magic at offset 0)", name);
        goto out;
    }
    if (rd(&c, magic, 4, "magic") != 0 || rd_u32(&c, &version, "version") != 0) goto out;
    if (version == 1) {
        rl_fail("%s: GGUF version 1 (offset 4) is obsolete and not supported; re-convert with a current llama.cpp", name);
        goto out;
    }
    if (version == 0x02000000u || version == 0x03000000u) {
        rl_fail("%s: big-endian GGUF (version field at offset 4 reads %u byte-swapped) is not supported", name,
                version >> 24);
        goto out;
    }
    if (version != 2 && version != 3) {
        rl_fail("%s: unsupported GGUF version %u at offset 4 (2 and 3 are supported)", name, version);
        goto out;
    }
    ts->gguf_version = version;
    if (rd_u64(&c, &n_tensors, "tensor count") != 0 || rd_u64(&c, &n_kv, "metadata count") != 0) goto out;
    /* each KV takes at least 8 (key length) + 1 (key) + 4 (type) + 1 bytes; each tensor info 8 + 1 + 4 + 4 + 8 */
    if (n_kv > (len - c.pos) / 14) {
        rl_fail("%s: metadata count %llu at offset 16 cannot fit in a %zu-byte file", name, (unsigned long long)n_kv, len);
        goto out;
    }
    if (n_tensors > (len - c.pos) / 25 || n_tensors > INT32_MAX) {
        rl_fail("%s: tensor count %llu at offset 8 cannot fit in a %zu-byte file", name, (unsigned long long)n_tensors, len);
        goto out;
    }
    key_at = rl_malloc((size_t)n_kv * sizeof *key_at, "metadata offsets");
    if (!key_at) goto out;
    for (uint64_t k = 0; k < n_kv; k++)
        if (rd_kv(&c, ts, k, &key_at[k]) != 0) goto out;
    {
        int a, b;
        const char **keys = rl_malloc((size_t)n_kv * sizeof *keys, "metadata keys");
        if (!keys) goto out;
        for (int i = 0; i < ts->meta.n; i++) keys[i] = ts->meta.m[i].key;
        int dup = fmt_find_duplicate(keys, ts->meta.n, &a, &b);
        free(keys);
        if (dup) {
            rl_fail("%s: metadata key %s appears twice (offsets %llu and %llu)", name, ts->meta.m[a].key,
                    (unsigned long long)key_at[a], (unsigned long long)key_at[b]);
            goto out;
        }
    }
    uint64_t alignment = 32;
    const rl_meta *al = rl_meta_find(&ts->meta, "general.alignment");
    if (al) {
        if (al->type != RL_META_U32) {
            rl_fail("%s: metadata general.alignment has type %s, expected u32", name, rl_meta_type_name(al->type));
            goto out;
        }
        if (al->v.u == 0 || (al->v.u & (al->v.u - 1))) {
            rl_fail("%s: metadata general.alignment = %llu is not a power of two", name, (unsigned long long)al->v.u);
            goto out;
        }
        alignment = al->v.u;
    }
    ts->gguf_alignment = alignment;
    for (uint64_t k = 0; k < n_tensors; k++)
        if (rd_tensor_info(&c, ts, k, alignment) != 0) goto out;
    if (fmt_tensors_index(ts) != 0) goto out;
    uint64_t data = (c.pos + alignment - 1) / alignment * alignment;
    ts->gguf_data_offset = data;
    if (ts->n > 0 && data > len) {
        rl_fail("%s: the data section would start at offset %llu, beyond the end of the file (%zu bytes)", name,
                (unsigned long long)data, len);
        goto out;
    }
    uint64_t room = data <= len ? len - data : 0;
    sp = rl_malloc((size_t)ts->n * sizeof *sp, "tensor spans");
    if (!sp) goto out;
    for (int i = 0; i < ts->n; i++) {
        rl_tensor *t = &ts->t[i];
        if (t->offset > room || t->nbytes > room - t->offset) {
            rl_fail("%s: tensor '%s': data [%llu, +%llu) at file offset %llu goes beyond the end of the file (%zu bytes)",
                    name, t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                    (unsigned long long)(data + t->offset), len);
            goto out;
        }
        sp[i] = (fmt_span){t->offset, t->offset + t->nbytes, i};
        t->offset += data;
        t->data = buf + t->offset;
    }
    fmt_sort_spans(sp, ts->n);
    /* sorted by start: a non-empty span overlaps iff it starts before the furthest end seen so far */
    uint64_t maxend = 0;
    int maxi = -1;
    for (int i = 0; i < ts->n; i++) {
        if (sp[i].begin == sp[i].end) continue;
        if (maxi >= 0 && sp[i].begin < maxend) {
            const fmt_span *o = &sp[maxi];
            rl_fail("%s: tensor '%s' (data offset %llu, %llu bytes) overlaps tensor '%s' (data offset %llu, %llu bytes)",
                    name, ts->t[sp[i].idx].name, (unsigned long long)sp[i].begin,
                    (unsigned long long)(sp[i].end - sp[i].begin), ts->t[o->idx].name, (unsigned long long)o->begin,
                    (unsigned long long)(o->end - o->begin));
            goto out;
        }
        if (sp[i].end > maxend) {
            maxend = sp[i].end;
            maxi = i;
        }
    }
    rc = 0;
out:
    free(sp);
    free(key_at);
    if (rc != 0) rl_tensors_free(ts);
    return rc;
}
