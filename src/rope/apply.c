/* Applying the rotation: the cos/sin table, run-time kernel choice, and the OpenMP loop. */
#include "kernels.h"
#include "ropelab/util.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Portable kernel: plain loops the compiler may vectorise for the baseline ISA. */
void rl_rope_token_portable(float *x, int n_heads, int head_dim, const float *c, const float *s, int n_active,
                            int lo, int half, rl_layout layout, float sgn) {
    for (int h = 0; h < n_heads; h++) {
        float *xh = x + (size_t)h * head_dim;
        if (layout == RL_LAYOUT_HALF) {
            float *a = xh + lo, *b = xh + lo + half;
            for (int j = 0; j < n_active; j++) {
                float x0 = a[j], x1 = b[j], cj = c[j], sj = sgn * s[j];
                a[j] = x0 * cj - x1 * sj;
                b[j] = x0 * sj + x1 * cj;
            }
        } else {
            float *a = xh + 2 * lo;
            for (int j = 0; j < n_active; j++) {
                float x0 = a[2 * j], x1 = a[2 * j + 1], cj = c[j], sj = sgn * s[j];
                a[2 * j] = x0 * cj - x1 * sj;
                a[2 * j + 1] = x0 * sj + x1 * cj;
            }
        }
    }
}

/* cos/sin of one position for the active chunks, in float64, rounded once to float32. */
static void fill_row(const rl_rope *r, int64_t pos, float *c, float *s) {
    const rl_rope_freqs *f = &r->f;
    for (int j = 0; j < r->n_active; j++) {
        double ang = (double)pos * f->freq[f->chunk_lo + j];
        c[j] = (float)(cos(ang) * f->attn_factor);
        s[j] = (float)(sin(ang) * f->attn_factor);
    }
}

int rl_rope_init(rl_rope *r, const rl_rope_spec *spec, int head_dim, int max_pos, int64_t seq_len) {
    memset(r, 0, sizeof *r);
    if (max_pos < 0) return rl_fail("rope: max_pos %d is negative", max_pos);
    if (rl_rope_freqs_init(&r->f, spec, head_dim, seq_len) != 0) return -1;
    r->n_active = r->f.chunk_hi - r->f.chunk_lo;
    r->max_pos = r->n_active > 0 ? max_pos : 0;
    if (r->max_pos > 0) {
        r->cs = rl_alloc_aligned((size_t)r->max_pos * 2 * (size_t)r->n_active * sizeof(float), "rope cos/sin table");
        if (!r->cs) {
            rl_rope_freqs_free(&r->f);
            return -1;
        }
#pragma omp parallel for schedule(static)
        for (int p = 0; p < r->max_pos; p++) {
            float *row = r->cs + (size_t)p * 2 * r->n_active;
            fill_row(r, p, row, row + r->n_active);
        }
    }
    return 0;
}

void rl_rope_free(rl_rope *r) {
    rl_rope_freqs_free(&r->f);
    free(r->cs);
    r->cs = NULL;
}

/* ---- kernel selection -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    rl_rope_token_fn fn;
    int (*supported)(void);
} kernel_entry;

static int always(void) { return 1; }

static const kernel_entry kernels[] = {
    /* best first */
    {"portable", rl_rope_token_portable, always},
};

static const kernel_entry *choose_kernel(void) {
    static const kernel_entry *chosen;
    const kernel_entry *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (k) return k;
    const char *want = getenv("ROPELAB_KERNEL");
    k = NULL;
    for (size_t i = 0; i < RL_ARRAY_LEN(kernels) && !k; i++) {
        if (want && *want && strcmp(want, kernels[i].name) != 0) continue;
        if (kernels[i].supported()) k = &kernels[i];
    }
    if (!k) k = &kernels[RL_ARRAY_LEN(kernels) - 1]; /* unknown / unsupported request: portable */
    __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    return k;
}

const char *rl_rope_kernel_name(void) { return choose_kernel()->name; }

/* ---- the loop over tokens ---------------------------------------------------------------- */

static void apply(const rl_rope *r, float *x, int n_tokens, int n_heads, const int32_t *pos, float sgn) {
    if (r->n_active == 0 || n_tokens <= 0 || n_heads <= 0) return;
    rl_rope_token_fn fn = choose_kernel()->fn;
    const int d = r->f.head_dim, na = r->n_active, lo = r->f.chunk_lo, half = r->f.rot_dims / 2;
    const rl_layout layout = r->f.layout;
    const size_t stride = (size_t)n_heads * (size_t)d;
    /* Small jobs stay on one thread: the fork/join costs more than it saves. */
    const int parallel = (size_t)n_tokens * stride >= 32768;
#pragma omp parallel if (parallel)
    {
        float *row = NULL; /* per-thread cos/sin for positions beyond the table */
#pragma omp for schedule(static)
        for (int t = 0; t < n_tokens; t++) {
            int64_t p = pos ? pos[t] : t;
            const float *c, *s;
            if (p >= 0 && p < r->max_pos) {
                c = r->cs + (size_t)p * 2 * (size_t)na;
                s = c + na;
            } else {
                if (!row) row = malloc(2 * (size_t)na * sizeof(float));
                if (!row) abort(); /* a few KiB; nothing sensible is left to do */
                fill_row(r, p, row, row + na);
                c = row;
                s = row + na;
            }
            fn(x + (size_t)t * stride, n_heads, d, c, s, na, lo, half, layout, sgn);
        }
        free(row);
    }
}

void rl_rope_forward(const rl_rope *r, float *x, int n_tokens, int n_heads, const int32_t *pos) {
    apply(r, x, n_tokens, n_heads, pos, 1.0f);
}

void rl_rope_backward(const rl_rope *r, float *dx, int n_tokens, int n_heads, const int32_t *pos) {
    apply(r, dx, n_tokens, n_heads, pos, -1.0f);
}
