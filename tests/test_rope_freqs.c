/* librope frequency tables: every encoding and every Hugging Face scaling type against references
 * computed here in long double / float64 from the closed forms (PAPER_NOTES.md; HF
 * modeling_rope_utils.py), plus the chunk -> dims pairing of both layouts.
 * Tolerance for a table entry: 1e-14 relative. The library uses pow() in float64 (< 1 ulp each);
 * the references use expl/logl in long double, so honest implementations agree to a few ulp
 * (~1e-15); any formula slip (wrong exponent denominator, wrong k range) is off by > 1e-3. */
#include "helpers.h"
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <math.h>
#include <string.h>

#define REL 1e-14

static rl_rope_freqs table(const char *text, int d, int64_t seq_len) {
    rl_rope_spec s;
    rl_rope_freqs f;
    cr_assert_eq(rl_rope_parse(text, &s), 0, "%s: %s", text, rl_error());
    cr_assert_eq(rl_rope_freqs_init(&f, &s, d, seq_len), 0, "%s d=%d: %s", text, d, rl_error());
    return f;
}

/* theta^(-2k/w) in long double. */
static double ladder(double theta, int k, int w) { return (double)expl(-2.0L * k / w * logl((long double)theta)); }

static void expect_freq(const rl_rope_freqs *f, int k, double want, const char *what) {
    double got = f->freq[k];
    if (want == 0) cr_assert_eq(got, 0.0, "%s: chunk %d = %.17g, expected exactly 0", what, k, got);
    else cr_assert(fabs(got - want) <= REL * fabs(want), "%s: chunk %d = %.17g, expected %.17g", what, k, got, want);
}

Test(rope_freqs, rope_and_nope) {
    const int dims[] = {2, 8, 64, 128, 256};
    for (size_t i = 0; i < RL_ARRAY_LEN(dims); i++) {
        int d = dims[i];
        rl_rope_freqs f = table("rope:theta=10000", d, 0);
        cr_assert_eq(f.n_chunks, d / 2);
        cr_assert_eq(f.rot_dims, d);
        cr_assert_eq(f.chunk_lo, 0);
        cr_assert_eq(f.chunk_hi, d / 2);
        cr_assert_eq(f.attn_factor, 1.0);
        cr_assert_eq(f.freq[0], 1.0); /* theta^0 */
        for (int k = 0; k < d / 2; k++) expect_freq(&f, k, ladder(10000, k, d), "rope");
        rl_rope_freqs_free(&f);
        f = table("nope", d, 0);
        for (int k = 0; k < d / 2; k++) expect_freq(&f, k, 0, "nope");
        cr_assert_eq(f.chunk_hi - f.chunk_lo, 0, "nope must touch no chunk");
        rl_rope_freqs_free(&f);
    }
    /* the lowest frequency of theta=500000, d=128 is 500000^(-126/128) */
    rl_rope_freqs f = table("rope:theta=500000", 128, 0);
    expect_freq(&f, 63, pow(500000.0, -126.0 / 128.0), "rope 500k");
    rl_rope_freqs_free(&f);
}

/* p-RoPE, the paper's definition: m = floor(p*d/2) highest chunks at theta^(-2k/d), others 0.
 * m is given by hand here (not recomputed with the library's expression). */
Test(rope_freqs, prope_and_reversed) {
    static const struct {
        const char *p;
        int d, m;
    } cases[] = {
        {"0.75", 128, 48}, {"0.25", 256, 32}, {"0.3", 10, 1},  /* 0.3*10/2 = 1.5 -> 1 */
        {"0.7", 10, 3},                                         /* 0.7*10 = 7.000000000000001 -> 3.5 -> 3 */
        {"0.5", 6, 1},     {"0", 64, 0},      {"1", 64, 32},  {"0.015625", 64, 0}, /* 0.5 chunk -> 0 */
        {"0.03125", 64, 1},
    };
    for (size_t i = 0; i < RL_ARRAY_LEN(cases); i++) {
        char text[64];
        const int d = cases[i].d, m = cases[i].m, n = d / 2;
        snprintf(text, sizeof text, "prope:p=%s,theta=10000", cases[i].p);
        rl_rope_freqs f = table(text, d, 0);
        cr_assert_eq(f.rot_dims, d, "%s: the half layout pairs k with k + d/2", text);
        for (int k = 0; k < n; k++) expect_freq(&f, k, k < m ? ladder(10000, k, d) : 0, text);
        cr_assert_eq(f.chunk_hi - f.chunk_lo, m, "%s: active chunks", text);
        rl_rope_freqs_free(&f);

        snprintf(text, sizeof text, "prope-rev:p=%s,theta=10000", cases[i].p);
        f = table(text, d, 0);
        for (int k = 0; k < n; k++) expect_freq(&f, k, k >= n - m ? ladder(10000, k, d) : 0, text);
        if (m > 0) cr_assert_eq(f.chunk_lo, n - m, "%s", text);
        rl_rope_freqs_free(&f);
    }
}

/* GPT-NeoX partial rotary: r = floor(p*d) dims at theta^(-2k/r), k < r/2; r given by hand. */
Test(rope_freqs, partial_rotary) {
    static const struct {
        const char *p;
        int d, r;
    } cases[] = {{"0.25", 128, 32}, {"0.5", 80, 40}, {"0.4", 80, 32}, {"1", 64, 64}, {"0", 64, 0}, {"0.25", 8, 2}};
    for (size_t i = 0; i < RL_ARRAY_LEN(cases); i++) {
        char text[64];
        const int d = cases[i].d, r = cases[i].r;
        snprintf(text, sizeof text, "partial:p=%s,theta=10000", cases[i].p);
        rl_rope_freqs f = table(text, d, 0);
        cr_assert_eq(f.rot_dims, r, "%s", text);
        for (int k = 0; k < d / 2; k++) expect_freq(&f, k, k < r / 2 ? ladder(10000, k, r) : 0, text);
        rl_rope_freqs_free(&f);
    }
}

/* The paper's identity: p-RoPE keeping m chunks == partial rotary over 2m dims with base
 * theta^(2m/d) (same frequencies; the dims differ only by a permutation, see test_rope_apply). */
Test(rope_freqs, prope_equals_partial_with_rescaled_base) {
    static const struct {
        int d, m;
    } cases[] = {{128, 48}, {64, 5}, {256, 32}, {16, 8}};
    for (size_t i = 0; i < RL_ARRAY_LEN(cases); i++) {
        const int d = cases[i].d, m = cases[i].m;
        char a[128], b[128];
        snprintf(a, sizeof a, "prope:p=%.17g,theta=10000", 2.0 * m / d);
        snprintf(b, sizeof b, "partial:p=%.17g,theta=%.17g", 2.0 * m / d, pow(10000.0, 2.0 * m / d));
        rl_rope_freqs fa = table(a, d, 0), fb = table(b, d, 0);
        cr_assert_eq(fb.rot_dims, 2 * m);
        for (int k = 0; k < m; k++) /* pow(theta', .) vs pow(theta, .): a few ulp apart */
            cr_assert(fabs(fa.freq[k] - fb.freq[k]) <= REL * fa.freq[k], "%s vs %s chunk %d: %.17g %.17g", a, b, k,
                      fa.freq[k], fb.freq[k]);
        rl_rope_freqs_free(&fa);
        rl_rope_freqs_free(&fb);
    }
}

Test(rope_freqs, linear_scaling) {
    rl_rope_freqs f = table("rope:theta=10000+linear:factor=4", 64, 0);
    for (int k = 0; k < 32; k++) expect_freq(&f, k, ladder(10000, k, 64) / 4, "linear");
    rl_rope_freqs_free(&f);
    /* HF "proportional" with factor F = p-RoPE + linear: the zero chunks stay zero */
    f = table("prope:p=0.25,theta=1000000+linear:factor=8", 256, 0);
    for (int k = 0; k < 128; k++) expect_freq(&f, k, k < 32 ? ladder(1e6, k, 256) / 8 : 0, "proportional");
    rl_rope_freqs_free(&f);
}

/* Dynamic NTK: base' = theta * (F*L/L0 - (F-1))^(w/(w-2)), L = max(seq_len, L0). */
Test(rope_freqs, dynamic_ntk) {
    rl_rope_freqs f = table("rope:theta=10000+dynamic:factor=2,original=2048", 64, 1000);
    for (int k = 0; k < 32; k++) expect_freq(&f, k, ladder(10000, k, 64), "dynamic below L0: unchanged");
    rl_rope_freqs_free(&f);
    f = table("rope:theta=10000+dynamic:factor=2,original=2048", 64, 4096);
    double base = 10000.0 * pow(2.0 * 4096 / 2048 - 1.0, 64.0 / 62.0); /* = 10000 * 3^(32/31) */
    for (int k = 0; k < 32; k++) expect_freq(&f, k, ladder(base, k, 64), "dynamic at 2*L0");
    rl_rope_freqs_free(&f);
    /* partial: the exponent uses the rotated width r = 32 */
    f = table("partial:p=0.5,theta=10000+dynamic:factor=4,original=1000", 64, 3000);
    base = 10000.0 * pow(4.0 * 3000 / 1000 - 3.0, 32.0 / 30.0);
    for (int k = 0; k < 32; k++) expect_freq(&f, k, k < 16 ? ladder(base, k, 32) : 0, "dynamic partial");
    rl_rope_freqs_free(&f);
}

/* YaRN without truncation, from the number of rotations r_k = L0*g_k/(2 pi) each chunk makes over
 * the original context: HF's ramp, linear in the chunk index between the chunks making beta_fast
 * and beta_slow rotations, equals ln(beta_fast/r_k)/ln(beta_fast/beta_slow) (g_k is geometric in k).
 * gamma = 0 keeps g_k, gamma = 1 divides it by F. (The clamps to [0, w-1] do not bind here.) */
Test(rope_freqs, yarn_no_truncation_from_rotations) {
    const double F = 4, L0 = 4096, bf = 32, bs = 1;
    const int d = 128;
    rl_rope_freqs f = table("rope:theta=10000+yarn:factor=4,original=4096,truncate=0", d, 0);
    int kept = 0, divided = 0;
    for (int k = 0; k < d / 2; k++) {
        double g = ladder(10000, k, d), r = L0 * g / (2 * M_PI);
        double gamma = log(bf / r) / log(bf / bs);
        gamma = gamma < 0 ? 0 : gamma > 1 ? 1 : gamma;
        kept += gamma == 0;
        divided += gamma == 1;
        double want = g * (1 - gamma) + g / F * gamma;
        cr_assert(fabs(f.freq[k] - want) <= 1e-12 * want, "yarn chunk %d: %.17g vs %.17g", k, f.freq[k], want);
    }
    cr_assert(kept > 5 && divided > 5, "the test must see all three regimes (%d kept, %d divided)", kept, divided);
    cr_assert_float_eq(f.attn_factor, 0.1 * log(F) + 1, 1e-15);
    cr_assert_eq(f.chunk_lo, 0);
    cr_assert_eq(f.chunk_hi, d / 2);
    rl_rope_freqs_free(&f);
}

/* YaRN as HF ships it (truncate=1): the correction range is [floor(k_fast), ceil(k_slow)] with
 * k(b) = w*ln(L0/(2 pi b))/(2 ln theta), clamped to [0, w-1]. Here on partial rotary (w = r = 64),
 * and chunks at or below floor(k_fast) must be bit-identical to plain RoPE. */
Test(rope_freqs, yarn_truncated_hf) {
    const double F = 16, L0 = 2048, bf = 24, bs = 2, theta = 50000;
    const int d = 128, w = 64;
    rl_rope_freqs f = table("partial:p=0.5,theta=50000+yarn:factor=16,original=2048,beta_fast=24,beta_slow=2", d, 0);
    rl_rope_freqs plain = table("partial:p=0.5,theta=50000", d, 0);
    double kf = floor(w * log(L0 / (2 * M_PI * bf)) / (2 * log(theta)));
    double ks = ceil(w * log(L0 / (2 * M_PI * bs)) / (2 * log(theta)));
    kf = kf < 0 ? 0 : kf;
    ks = ks > w - 1 ? w - 1 : ks;
    cr_assert(kf >= 1 && ks < w / 2 - 1, "parameters chosen so that every regime occurs (%g, %g)", kf, ks);
    for (int k = 0; k < d / 2; k++) {
        if (k >= w / 2) {
            expect_freq(&f, k, 0, "yarn pass-through");
            continue;
        }
        double g = ladder(theta, k, w), ramp = (k - kf) / (ks - kf);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        double want = g * (1 - ramp) + g / F * ramp;
        cr_assert(fabs(f.freq[k] - want) <= 1e-13 * want, "yarn chunk %d: %.17g vs %.17g", k, f.freq[k], want);
        if (k <= kf) cr_assert_eq(f.freq[k], plain.freq[k], "chunk %d below the ramp must be untouched", k);
    }
    /* the attention factor reaches the rotated width only */
    cr_assert_eq(f.chunk_lo, 0);
    cr_assert_eq(f.chunk_hi, w / 2);
    rl_rope_freqs_free(&f);
    rl_rope_freqs_free(&plain);
}

Test(rope_freqs, yarn_attention_factor) {
    rl_rope_freqs f = table("rope+yarn:factor=40,original=4096,mscale=0.707,mscale_all_dim=0.707", 64, 0);
    cr_assert_eq(f.attn_factor, 1.0, "DeepSeek: equal mscales cancel");
    rl_rope_freqs_free(&f);
    f = table("rope+yarn:factor=40,original=4096,mscale=1,mscale_all_dim=0.5", 64, 0);
    cr_assert_float_eq(f.attn_factor, (0.1 * log(40.0) + 1) / (0.05 * log(40.0) + 1), 1e-15);
    rl_rope_freqs_free(&f);
    f = table("rope+yarn:factor=40,original=4096,attention_factor=0.5,mscale=1,mscale_all_dim=0.5", 64, 0);
    cr_assert_eq(f.attn_factor, 0.5, "an explicit attention_factor wins");
    rl_rope_freqs_free(&f);
    f = table("rope+yarn:factor=1,original=4096", 64, 0);
    cr_assert_eq(f.attn_factor, 1.0, "factor 1: no scaling");
    rl_rope_freqs_free(&f);
    /* p-RoPE + yarn: the factor multiplies cos/sin of every chunk of the head, rotating or not
     * (HF multiplies the whole cos/sin tensor), so the active range widens to all chunks */
    f = table("prope:p=0.25+yarn:factor=4,original=4096", 64, 0);
    cr_assert_eq(f.chunk_lo, 0);
    cr_assert_eq(f.chunk_hi, 32);
    for (int k = 8; k < 32; k++) expect_freq(&f, k, 0, "prope+yarn zero chunks");
    rl_rope_freqs_free(&f);
}

/* Llama 3.1: per chunk by wavelength lambda = 2 pi / g: lambda < L0/high: unchanged;
 * lambda > L0/low: g/F; otherwise s = (L0/lambda - low)/(high - low), g' = (1-s) g/F + s g.
 * For theta=500000, d=128, F=8, L0=8192, low=1, high=4 the band boundaries are
 * k < 64 ln(2048/2pi)/ln(500000) = 28.2 (unchanged) and k > 64 ln(8192/2pi)/ln(500000) = 34.99
 * (divided), so exactly 29 / 6 / 29 chunks fall in the three bands. */
Test(rope_freqs, llama3) {
    const double F = 8, L0 = 8192, low = 1, high = 4;
    rl_rope_freqs f = table("rope:theta=500000+llama3:factor=8,original=8192,low_freq_factor=1,high_freq_factor=4", 128, 0);
    int n_same = 0, n_div = 0, n_smooth = 0;
    for (int k = 0; k < 64; k++) {
        double g = ladder(500000, k, 128), lambda = 2 * M_PI / g, want;
        if (lambda < L0 / high) {
            want = g;
            n_same++;
        } else if (lambda > L0 / low) {
            want = g / F;
            n_div++;
        } else {
            double s = (L0 / lambda - low) / (high - low);
            want = (1 - s) * g / F + s * g;
            n_smooth++;
        }
        cr_assert(fabs(f.freq[k] - want) <= 1e-13 * want, "llama3 chunk %d: %.17g vs %.17g", k, f.freq[k], want);
    }
    cr_assert_eq(n_same, 29);
    cr_assert_eq(n_smooth, 6);
    cr_assert_eq(n_div, 29);
    cr_assert_eq(f.attn_factor, 1.0);
    rl_rope_freqs_free(&f);
}

/* Chunk -> dims: half pairs (k, k+R/2), interleaved (2k, 2k+1); partial's pass-through dims pair
 * among themselves. Every dim belongs to exactly one chunk. */
Test(rope_freqs, chunk_dims_are_a_pairing) {
    const char *specs[] = {"rope", "rope:layout=interleaved", "partial:p=0.25", "partial:p=0.25,layout=interleaved",
                           "prope:p=0.5", "partial:p=0.5"};
    for (size_t i = 0; i < RL_ARRAY_LEN(specs); i++) {
        const int d = 48;
        rl_rope_freqs f = table(specs[i], d, 0);
        int seen[48] = {0};
        for (int k = 0; k < d / 2; k++) {
            int i0, i1;
            rl_rope_chunk_dims(&f, k, &i0, &i1);
            cr_assert(i0 >= 0 && i0 < d && i1 >= 0 && i1 < d, "%s chunk %d: dims %d %d", specs[i], k, i0, i1);
            seen[i0]++;
            seen[i1]++;
            const int R = f.rot_dims;
            if (f.layout == RL_LAYOUT_INTERLEAVED) cr_assert(i0 == 2 * k && i1 == 2 * k + 1);
            else if (k < R / 2) cr_assert(i0 == k && i1 == k + R / 2, "%s chunk %d: %d %d", specs[i], k, i0, i1);
            else cr_assert(i0 >= R && i1 >= R, "%s: pass-through chunk %d must use dims >= r", specs[i], k);
        }
        for (int j = 0; j < d; j++) cr_assert_eq(seen[j], 1, "%s: dim %d used %d times", specs[i], j, seen[j]);
        rl_rope_freqs_free(&f);
    }
}
