/* Loading, shared by every format: point the parameter table at a container's tensors (in place
 * when they are float32, else converted once), check nothing is left over, attach the tokenizer. */
#include "model_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void ml_priv_free(ml_priv *pv) {
    if (!pv) return;
    if (pv->have_ts) rl_tensors_free(&pv->ts);
    free(pv->arena);
    free(pv);
}

/* Index of the first non-finite value of x[0..n), or -1. Threaded for large tensors. */
static int64_t first_nonfinite(const float *x, int64_t n) {
    int64_t bad = INT64_MAX;
#pragma omp parallel for reduction(min : bad) schedule(static) if (n > (1 << 18))
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7f800000u) == 0x7f800000u && i < bad) bad = i;
    }
    return bad == INT64_MAX ? -1 : bad;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && o < n; d++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* Checks one source against its table entry; sets *first (element offset) and *inplace. */
static int check_src(const rl_model *m, const rl_tensors *ts, const rl_param_info *e, const ml_src *s, int64_t *first,
                     int *inplace) {
    const rl_tensor *t = s->t;
    const char *file = rl_tensor_path(ts, t);
    int64_t want[3];
    int wn = 0;
    if (s->layer >= 0) want[wn++] = m->cfg.n_layers;
    want[wn++] = e->shape[0];
    if (e->ndim == 2) want[wn++] = e->shape[1];
    int ok = t->ndim == wn;
    for (int d = 0; ok && d < wn; d++) ok = t->shape[d] == want[d];
    if (!ok) {
        char got[160], exp[160];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(exp, sizeof exp, wn, want);
        return rl_fail("%s: tensor %s (offset %llu) has shape %s, but the model config needs %s for %s", file, t->name,
                       (unsigned long long)t->offset, got, exp, e->name);
    }
    if (t->dtype != RL_DT_F32 && t->dtype != RL_DT_F16 && t->dtype != RL_DT_BF16 && t->dtype != RL_DT_Q8_0) {
        const char *dt = rl_dtype_name(t->dtype);
        if (t->dtype == RL_DT_GGML) rl_ggml_type_info(t->ggml_type, &dt, NULL, NULL);
        return rl_fail("%s: tensor %s (offset %llu) has dtype %s; model weights must be F32, F16, BF16 or Q8_0", file,
                       t->name, (unsigned long long)t->offset, dt);
    }
    *first = s->layer >= 0 ? (int64_t)s->layer * (int64_t)e->numel : 0;
    *inplace = t->dtype == RL_DT_F32 && ((uintptr_t)(t->data + *first * 4) % sizeof(float)) == 0;
    return 0;
}

/* Gives the pages that lie wholly inside a converted tensor back to the kernel: their float32
 * copy is what the model uses now, so they need not stay resident (peak memory ~ the copy). */
static void release_pages(const rl_tensors *ts, const rl_tensor *t) {
    if (!ts->files[t->file].map.data || t->nbytes == 0) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = ((uintptr_t)t->data + page - 1) & ~(page - 1), e = ((uintptr_t)t->data + t->nbytes) & ~(page - 1);
    if (e > b) madvise((void *)b, e - b, MADV_DONTNEED);
}

int ml_bind(rl_model *m, ml_priv *pv, const ml_src *src) {
    const rl_tensors *ts = &pv->ts;
    int64_t *first = rl_malloc((size_t)m->n_tensors * sizeof *first + 1, "binding");
    int *inplace = rl_malloc((size_t)m->n_tensors * sizeof *inplace + 1, "binding");
    int rc = -1, need_arena = 0;
    if (!first || !inplace) goto out;
    for (int i = 0; i < m->n_tensors; i++) {
        if (!src[i].t) {
            rl_fail("model: tensor %s has no source (internal error)", m->table[i].name);
            goto out;
        }
        if (check_src(m, ts, &m->table[i], &src[i], &first[i], &inplace[i]) != 0) goto out;
        need_arena |= !inplace[i];
    }
    if (need_arena) { /* calloc of a large block maps zero pages lazily: only converted tensors cost memory */
        pv->arena = rl_calloc(m->n_params, sizeof(float), "converted weights");
        if (!pv->arena) goto out;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const rl_param_info *e = &m->table[i];
        const rl_tensor *t = src[i].t;
        float *w;
        if (inplace[i]) {
            w = (float *)(uintptr_t)t->data + first[i];
            pv->n_inplace++;
        } else {
            w = pv->arena + e->offset;
            if (rl_tensor_to_f32_range(t, first[i], (int64_t)e->numel, w) != 0) {
                rl_fail_prefix("%s", rl_tensor_path(ts, t));
                goto out;
            }
            if (src[i].layer < 0) release_pages(ts, t);
            pv->n_converted++;
        }
        int64_t bad = first_nonfinite(w, (int64_t)e->numel);
        if (bad >= 0) {
            rl_fail("%s: tensor %s (offset %llu) element %lld is %g: weights must be finite", rl_tensor_path(ts, t),
                    t->name, (unsigned long long)t->offset, (long long)(first[i] + bad), (double)w[bad]);
            goto out;
        }
        *e->slot = w;
    }
    rc = rl_model_check_params(m);
out:
    free(first);
    free(inplace);
    return rc;
}

int ml_check_unused(const rl_tensors *ts, const ml_src *src, int n, int (*ignorable)(const char *name, void *ctx),
                    void *ctx) {
    uint8_t *used = rl_calloc((size_t)ts->n + 1, 1, "tensor use flags");
    if (!used) return -1;
    for (int i = 0; i < n; i++)
        if (src[i].t) used[src[i].t - ts->t] = 1;
    int rc = 0;
    for (int i = 0; i < ts->n && rc == 0; i++)
        if (!used[i] && !(ignorable && ignorable(ts->t[i].name, ctx)))
            rc = rl_fail("%s: tensor %s (offset %llu) is not part of the model the config describes: the config and "
                         "the weights disagree (e.g. biases, norms or an output head the config does not declare)",
                         rl_tensor_path(ts, &ts->t[i]), ts->t[i].name, (unsigned long long)ts->t[i].offset);
    free(used);
    return rc;
}

int ml_finish(rl_loaded *out, rl_model *m, ml_priv *pv, ml_src *src, int (*ignorable)(const char *name, void *ctx),
              void *ctx, rl_tokenizer *tok, const char *format, const char *path) {
    int rc = ml_bind(m, pv, src) == 0 && ml_check_unused(&pv->ts, src, m->n_tensors, ignorable, ctx) == 0 ? 0 : -1;
    free(src);
    if (rc == 0 && tok && rl_tok_vocab_size(tok) > m->cfg.vocab_size)
        rc = rl_fail("%s: the tokenizer has %d tokens but the model's vocabulary has only %d rows", path,
                     rl_tok_vocab_size(tok), m->cfg.vocab_size);
    if (rc != 0) {
        rl_tok_free(tok);
        rl_model_free(m);
        ml_priv_free(pv);
        return -1;
    }
    out->model = m;
    out->tok = tok;
    snprintf(out->format, sizeof out->format, "%s", format);
    snprintf(out->source, sizeof out->source, "%s", path);
    out->priv = pv;
    return 0;
}
