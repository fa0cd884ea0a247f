/* Shared by the round-trip fuzz targets: write a parsed collection back to memory and compare. */
#ifndef ROPELAB_FUZZ_ROUNDTRIP_H
#define ROPELAB_FUZZ_ROUNDTRIP_H

#include "../src/formats/internal.h"
#include "fuzz_common.h"

#include <stdio.h>

/* Same key, type and value (bit for bit: NaNs and -0 included). */
static inline int meta_equal(const rl_meta *a, const rl_meta *b) {
    if (strcmp(a->key, b->key) || a->type != b->type) return 0;
    if (a->type == RL_META_STRING) return a->str_len == b->str_len && memcmp(a->str, b->str, a->str_len) == 0;
    if (a->type == RL_META_ARRAY)
        return a->elem == b->elem && a->count == b->count && a->arr_bytes == b->arr_bytes &&
               (a->arr_bytes == 0 || memcmp(a->arr, b->arr, a->arr_bytes) == 0);
    return memcmp(&a->v, &b->v, sizeof a->v) == 0;
}

/* The tensors of ts as write requests pointing at their raw bytes (NULL if any dtype is unwritable). */
static inline rl_write_tensor *as_writes(const rl_tensors *ts, int gguf) {
    rl_write_tensor *w = calloc((size_t)ts->n + 1, sizeof *w);
    for (int i = 0; i < ts->n; i++) {
        const rl_tensor *t = &ts->t[i];
        rl_dtype d = t->dtype;
        int ok = gguf ? (d == RL_DT_F32 || d == RL_DT_F16 || d == RL_DT_BF16 || d == RL_DT_Q8_0) : rl_dtype_size(d) > 0;
        if (!ok) {
            free(w);
            return NULL;
        }
        w[i].name = t->name;
        w[i].dtype = d;
        w[i].ndim = t->ndim;
        memcpy(w[i].shape, t->shape, sizeof w[i].shape);
        w[i].raw = t->data;
    }
    return w;
}

/* Every tensor of a is in b with the same dtype, element count, shape and bytes. */
static inline void check_same_tensors(const rl_tensors *a, const rl_tensors *b) {
    if (a->n != b->n) abort();
    for (int i = 0; i < a->n; i++) {
        const rl_tensor *x = &a->t[i], *y = rl_tensors_find(b, x->name);
        if (!y || x->dtype != y->dtype || x->numel != y->numel || x->nbytes != y->nbytes) abort();
        if (x->ndim == 0 ? !(y->ndim <= 1 && y->shape[0] == 1) : (x->ndim != y->ndim)) abort();
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d]) abort();
        if (x->nbytes && memcmp(x->data, y->data, (size_t)x->nbytes)) abort();
    }
}

/* Writes a (with `write`, to memory), parses the bytes back with `parse`, and aborts unless the
 * metadata (in order when `ordered`) and every tensor came back identical. Skips collections
 * holding a dtype the writer does not take. */
typedef int (*fuzz_writer)(FILE *fp, const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta);
static inline void roundtrip(const rl_tensors *a, int gguf, fmt_parser parse, fuzz_writer write) {
    rl_write_tensor *w = as_writes(a, gguf);
    if (!w) return;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (write(fp, "out", w, a->n, &a->meta) != 0) abort(); /* a valid file must re-export */
    fclose(fp);
    rl_tensors b;
    if (parse(&b, (const uint8_t *)buf, len, "out") != 0) abort();
    if (a->meta.n != b.meta.n) abort();
    for (int i = 0; i < a->meta.n; i++) {
        const rl_meta *m = gguf ? &b.meta.m[i] : rl_meta_find(&b.meta, a->meta.m[i].key);
        if (!m || !meta_equal(&a->meta.m[i], m)) abort();
    }
    check_same_tensors(a, &b);
    rl_tensors_free(&b);
    free(buf);
    free(w);
}

#endif
