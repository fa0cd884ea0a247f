/* Shared by the libFuzzer targets: exercise everything a loaded collection offers. */
#ifndef ROPELAB_FUZZ_COMMON_H
#define ROPELAB_FUZZ_COMMON_H

#include "ropelab/formats.h"

#include <stdlib.h>
#include <string.h>

/* Looks up every tensor by name, converts small ones (and a sub-range of large ones) to float32,
 * reads every metadata entry through the typed accessors. Any out-of-bounds read is a bug the
 * parser should have rejected. */
static inline void fuzz_use(const rl_tensors *ts) {
    static float buf[1 << 14];
    char shape[256];
    for (int i = 0; i < ts->n; i++) {
        const rl_tensor *t = &ts->t[i];
        if (rl_tensors_find(ts, t->name) != t) abort();
        rl_shape_str(t, shape, sizeof shape);
        int64_t n = t->numel < (int64_t)(sizeof buf / sizeof buf[0]) ? t->numel : 1000;
        if (rl_tensor_to_f32_range(t, t->numel - n, n, buf) != 0 && t->dtype != RL_DT_GGML) abort();
    }
    for (int i = 0; i < ts->meta.n; i++) {
        const rl_meta *m = &ts->meta.m[i];
        int64_t iv;
        double dv;
        int bv;
        const char *sv;
        rl_tensors_meta_i64(ts, m->key, &iv);
        rl_tensors_meta_f64(ts, m->key, &dv);
        rl_tensors_meta_bool(ts, m->key, &bv);
        rl_tensors_meta_str(ts, m->key, &sv);
        if (m->type == RL_META_ARRAY) {
            for (uint64_t k = 0; k < m->count && k < 64; k++) {
                size_t len;
                if (rl_meta_arr_str(m, k, &sv, &len) == 0 && len && sv[len - 1] == 1) bv = 1;
                rl_meta_arr_i64(m, k, &iv);
                rl_meta_arr_f64(m, k, &dv);
            }
            if (m->count) {
                size_t len;
                rl_meta_arr_str(m, m->count - 1, &sv, &len);
            }
        }
    }
}

#endif
