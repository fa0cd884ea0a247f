/* Applying the rotation: the cos/sin table, run-time kernel choice, and the OpenMP loop over tokens. */
#include "kernels.h"
#include "ropelab/util.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cos/sin in float64 ------------------------------------------------------------------ */

/* cos/sin(p*g) in float64 for any int32 p: the angle is formed exactly as hi + lo (hi = fl(p*g), lo
 * its rounding error, recovered with one fma), glibc's sincos reduces hi mod 2*pi exactly, and lo
 * (|lo| <= 2^-22) is added back to first order (the dropped lo^2/2 is below 1e-13). */
static void sincos_exact(double p, double g, double *s, double *c) {
    double hi = p * g, lo = fma(p, g, -hi), sh, ch;
    sincos(hi, &sh, &ch);
    *c = ch - sh * lo;
    *s = sh + ch * lo;
}

/* The position block p0 (a multiple of RL_ROPE_POS_BLOCK, rounding down) holding p. */
static int64_t block_of(int64_t p) {
    int64_t r = p % RL_ROPE_POS_BLOCK;
    return p - (r < 0 ? r + RL_ROPE_POS_BLOCK : r);
}

/* Block start: sc/ss[i] = cos/sin(p0 * freq[chunk_lo + j0 + i]), i < n. */
static void block_start(const rl_rope *r, int64_t p0, int j0, int n, double *sc, double *ss) {
    const double *g = r->f.freq + r->f.chunk_lo + j0;
    for (int i = 0; i < n; i++) sincos_exact((double)p0, g[i], &ss[i], &sc[i]);
}

/* float32 cos/sin (times the attention factor) of chunks j0 .. j0+n-1 at position p0 + j, from the
 * block start and the step table: one complex product in float64, rounded once. */
static void cs_at(const rl_rope *r, const double *sc, const double *ss, int j, int j0, int n, float *c, float *s) {
    const double *ec = r->steps + (size_t)j * 2 * (size_t)r->n_active + j0, *es = ec + r->n_active;
    const double af = r->f.attn_factor;
    for (int i = 0; i < n; i++) {
        c[i] = (float)((sc[i] * ec[i] - ss[i] * es[i]) * af);
        s[i] = (float)((ss[i] * ec[i] + sc[i] * es[i]) * af);
    }
}

int rl_rope_init(rl_rope *r, const rl_rope_spec *spec, int head_dim, int max_pos, int64_t seq_len) {
    memset(r, 0, sizeof *r);
    if (max_pos < 0) return rl_fail("rope: max_pos %d is negative", max_pos);
    if (rl_rope_freqs_init(&r->f, spec, head_dim, seq_len) != 0) return -1;
    const int na = r->n_active = r->f.chunk_hi - r->f.chunk_lo;
    r->max_pos = na > 0 ? max_pos : 0;
    if (na == 0) return 0;
    r->steps = rl_malloc((size_t)RL_ROPE_POS_BLOCK * 2 * (size_t)na * sizeof(double), "rope step table");
    if (r->max_pos > 0)
        r->cs = rl_alloc_aligned((size_t)r->max_pos * 2 * (size_t)na * sizeof(float), "rope cos/sin table");
    if (!r->steps || (r->max_pos > 0 && !r->cs)) {
        rl_rope_free(r);
        return -1;
    }
    for (int j = 0; j < RL_ROPE_POS_BLOCK; j++) {
        double *ec = r->steps + (size_t)j * 2 * (size_t)na;
        for (int i = 0; i < na; i++) sincos_exact(j, r->f.freq[r->f.chunk_lo + i], &ec[na + i], &ec[i]);
    }
    /* The table: one block of 64 positions per iteration, through the same cs_at as on the fly. */
    const int n_blocks = (r->max_pos + RL_ROPE_POS_BLOCK - 1) / RL_ROPE_POS_BLOCK;
#pragma omp parallel
    {
        double sc[RL_ROPE_BLOCK], ss[RL_ROPE_BLOCK];
#pragma omp for schedule(static)
        for (int b = 0; b < n_blocks; b++) {
            const int64_t p0 = (int64_t)b * RL_ROPE_POS_BLOCK;
            for (int j0 = 0; j0 < na; j0 += RL_ROPE_BLOCK) {
                const int nb = RL_MIN(na - j0, RL_ROPE_BLOCK);
                block_start(r, p0, j0, nb, sc, ss);
                for (int j = 0; j < RL_ROPE_POS_BLOCK && p0 + j < r->max_pos; j++) {
                    float *row = r->cs + (size_t)(p0 + j) * 2 * (size_t)na;
                    cs_at(r, sc, ss, j, j0, nb, row + j0, row + na + j0);
                }
            }
        }
    }
    return 0;
}

void rl_rope_free(rl_rope *r) {
    rl_rope_freqs_free(&r->f);
    free(r->cs);
    free(r->steps);
    r->cs = NULL;
    r->steps = NULL;
}

/* ---- kernel selection -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    rl_rope_token_fn fn;
    int (*supported)(void);
} kernel_entry;

static int always(void) { return 1; }
#if defined(__x86_64__)
static int has_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
/* libgcc's feature bits include the OS check (XCR0 saves the ZMM and mask registers). */
static int has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
#else
static int has_avx2(void) { return 0; }
static int has_avx512(void) { return 0; }
#endif

static const kernel_entry kernels[] = {
    /* best first; the last one runs everywhere */
    {"avx512", rl_rope_token_avx512, has_avx512},
    {"avx2", rl_rope_token_avx2, has_avx2},
    {"portable", rl_rope_token_portable, always},
};

static const kernel_entry *chosen; /* NULL until first use; accessed atomically */

static const kernel_entry *find_kernel(const char *name) {
    for (size_t i = 0; i < RL_ARRAY_LEN(kernels); i++)
        if (strcmp(name, kernels[i].name) == 0) return &kernels[i];
    return NULL;
}

static const kernel_entry *best_kernel(void) {
    for (size_t i = 0; i < RL_ARRAY_LEN(kernels); i++)
        if (kernels[i].supported()) return &kernels[i];
    return &kernels[RL_ARRAY_LEN(kernels) - 1];
}

static const kernel_entry *choose_kernel(void) {
    const kernel_entry *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (k) return k;
    k = best_kernel();
    const char *want = getenv("ROPELAB_KERNEL");
    if (want && *want) {
        const kernel_entry *w = find_kernel(want);
        if (w && w->supported()) k = w;
        else /* running an unsupported kernel would crash: say so once and use the best one */
            fprintf(stderr, "ropelab: ROPELAB_KERNEL=%s %s; using %s\n", want,
                    w ? "is not supported by this CPU" : "is unknown (expected avx512, avx2 or portable)", k->name);
    }
    const kernel_entry *expected = NULL; /* first caller wins, so the warning above prints once per race */
    if (!__atomic_compare_exchange_n(&chosen, &expected, k, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) k = expected;
    return k;
}

const char *rl_rope_kernel_name(void) { return choose_kernel()->name; }

int rl_rope_kernel_supported(const char *name) {
    const kernel_entry *k = name ? find_kernel(name) : NULL;
    return k && k->supported();
}

int rl_rope_set_kernel(const char *name) {
    if (!name) {
        __atomic_store_n(&chosen, best_kernel(), __ATOMIC_RELEASE);
        return 0;
    }
    const kernel_entry *k = find_kernel(name);
    if (!k) return rl_fail("rope: unknown kernel '%s' (expected avx512, avx2 or portable)", name);
    if (!k->supported()) return rl_fail("rope: kernel '%s' is not supported by this CPU", name);
    __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    return 0;
}

/* ---- the loop over tokens ---------------------------------------------------------------- */

static void apply(const rl_rope *r, float *x, int n_tokens, int n_heads, const int32_t *pos, float sgn) {
    if (r->n_active == 0 || n_tokens <= 0 || n_heads <= 0) return;
    const rl_rope_token_fn fn = choose_kernel()->fn;
    const int d = r->f.head_dim, na = r->n_active, lo = r->f.chunk_lo, half = r->f.rot_dims / 2;
    const rl_layout layout = r->f.layout;
    const size_t stride = (size_t)n_heads * (size_t)d;
    /* Small jobs stay on one thread: the fork/join costs more than it saves. */
    const int parallel = (size_t)n_tokens * stride >= 32768;
#pragma omp parallel if (parallel)
    {
        /* Beyond the table: this thread's last block start, reused by the next tokens of the same
         * position block (consecutive positions need one sincos per chunk per 64 tokens). Cached
         * only when every active chunk fits in one block of chunks. */
        double sc[RL_ROPE_BLOCK], ss[RL_ROPE_BLOCK];
        float c[RL_ROPE_BLOCK], s[RL_ROPE_BLOCK];
        int64_t cached = INT64_MIN;
#pragma omp for schedule(static)
        for (int t = 0; t < n_tokens; t++) {
            const int64_t p = pos ? pos[t] : t;
            float *xt = x + (size_t)t * stride;
            if (p >= 0 && p < r->max_pos) { /* table row: read once, reused by every head */
                const float *row = r->cs + (size_t)p * 2 * (size_t)na;
                fn(xt, n_heads, d, row, row + na, na, lo, half, layout, sgn);
                continue;
            }
            const int64_t p0 = block_of(p);
            for (int j0 = 0; j0 < na; j0 += RL_ROPE_BLOCK) {
                const int nb = RL_MIN(na - j0, RL_ROPE_BLOCK);
                if (cached != p0 || na > RL_ROPE_BLOCK) {
                    block_start(r, p0, j0, nb, sc, ss);
                    cached = p0;
                }
                cs_at(r, sc, ss, (int)(p - p0), j0, nb, c, s);
                fn(xt, n_heads, d, c, s, nb, lo + j0, half, layout, sgn);
            }
        }
    }
}

void rl_rope_forward(const rl_rope *r, float *x, int n_tokens, int n_heads, const int32_t *pos) {
    apply(r, x, n_tokens, n_heads, pos, 1.0f);
}

void rl_rope_backward(const rl_rope *r, float *dx, int n_tokens, int n_heads, const int32_t *pos) {
    apply(r, dx, n_tokens, n_heads, pos, -1.0f);
}
