/* Frequency tables: the RoPE ladder of each encoding, then Hugging Face's scaling formulas
 * (transformers/modeling_rope_utils.py), all in float64. */
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rotated width R: d for every base except partial (r = floor(p*d)). */
static int rotated_width(const rl_rope_spec *s, int d) {
    if (s->kind == RL_PE_PARTIAL) return (int)floor(s->p * (double)d);
    return d;
}

/* Hugging Face yarn helpers, verbatim in meaning. The chunk index whose wavelength fits
 * num_rotations times into max_pos tokens (from g_k = base^(-2k/dim)). */
static double yarn_correction_dim(double num_rotations, int dim, double base, double max_pos) {
    return ((double)dim * log(max_pos / (num_rotations * 2.0 * M_PI))) / (2.0 * log(base));
}

/* HF's get_mscale. */
static double yarn_mscale(double factor, double mscale) { return factor <= 1.0 ? 1.0 : 0.1 * mscale * log(factor) + 1.0; }

double rl_rope_yarn_attention_factor(const rl_rope_spec *s) {
    if (s->scale != RL_SCALE_YARN) return 1.0;
    if (s->attention_factor > 0) return s->attention_factor;
    if (s->mscale > 0 && s->mscale_all_dim > 0)
        return yarn_mscale(s->factor, s->mscale) / yarn_mscale(s->factor, s->mscale_all_dim);
    return yarn_mscale(s->factor, 1.0);
}

/* The same limits as the parser, for specs built by hand. */
static int check_spec(const rl_rope_spec *s) {
    if ((unsigned)s->kind > RL_PE_PARTIAL) return rl_fail("rope: spec field 'kind' is %d, not an encoding", (int)s->kind);
    if ((unsigned)s->scale > RL_SCALE_LLAMA3) return rl_fail("rope: spec field 'scale' is %d, not a scaling type", (int)s->scale);
    if ((unsigned)s->layout > RL_LAYOUT_INTERLEAVED) return rl_fail("rope: spec field 'layout' is %d", (int)s->layout);
    if (s->kind != RL_PE_NOPE && !(s->theta > 1.0 && isfinite(s->theta)))
        return rl_fail("rope: spec field 'theta' is %g, must be > 1", s->theta);
    if (!(s->p >= 0.0 && s->p <= 1.0)) return rl_fail("rope: spec field 'p' is %g, must be in [0, 1]", s->p);
    if (s->scale == RL_SCALE_NONE) return 0;
    if (!(s->factor >= 1.0 && isfinite(s->factor))) return rl_fail("rope: spec field 'factor' is %g, must be >= 1", s->factor);
    if (s->scale != RL_SCALE_LINEAR && s->original < 1)
        return rl_fail("rope: spec field 'original' is %lld, must be a positive integer", (long long)s->original);
    if (s->scale == RL_SCALE_YARN && !(s->beta_slow > 0 && s->beta_fast >= s->beta_slow))
        return rl_fail("rope: spec fields 'beta_fast' %g and 'beta_slow' %g: need beta_fast >= beta_slow > 0",
                       s->beta_fast, s->beta_slow);
    if (s->scale == RL_SCALE_YARN && !(s->attention_factor >= 0))
        return rl_fail("rope: spec field 'attention_factor' is %g, must be > 0 (or 0 for the default)", s->attention_factor);
    if (s->scale == RL_SCALE_LLAMA3 && !(s->low_freq_factor > 0 && s->high_freq_factor > s->low_freq_factor))
        return rl_fail("rope: spec fields 'low_freq_factor' %g and 'high_freq_factor' %g: need 0 < low < high",
                       s->low_freq_factor, s->high_freq_factor);
    return 0;
}

int rl_rope_freqs_init(rl_rope_freqs *f, const rl_rope_spec *s, int d, int64_t seq_len) {
    memset(f, 0, sizeof *f);
    if (check_spec(s) != 0) return -1;
    if (d <= 0 || d % 2 != 0) return rl_fail("rope: head_dim %d must be a positive even number", d);
    int n = d / 2;
    int R = rotated_width(s, d);
    if (s->kind == RL_PE_PARTIAL && R % 2 != 0)
        return rl_fail("rope: partial p=%g with head_dim %d rotates %d dims, an odd number", s->p, d, R);
    f->head_dim = d;
    f->n_chunks = n;
    f->rot_dims = R;
    f->layout = s->layout;
    f->attn_factor = 1.0;
    f->freq = rl_calloc((size_t)n, sizeof(double), "rope frequencies");
    if (!f->freq) return -1;

    /* 1. The ladder: which chunks rotate (the range [lo, hi)), and the exponent's width `w`. */
    int lo = 0, hi = 0, w = d;
    int m = (int)floor(s->p * (double)d / 2.0); /* the paper's int(p*d//2) */
    switch (s->kind) {
    case RL_PE_NOPE: lo = hi = 0; break;
    case RL_PE_ROPE: lo = 0; hi = n; break;
    case RL_PE_PROPE: lo = 0; hi = m; break;
    case RL_PE_PROPE_REV: lo = n - m; hi = n; break;
    case RL_PE_PARTIAL: lo = 0; hi = R / 2; w = R; break;
    }
    double base = s->theta;

    /* dynamic NTK: the base grows with the sequence length beyond the original context. */
    if (s->scale == RL_SCALE_DYNAMIC) {
        if (w <= 2) {
            rl_rope_freqs_free(f);
            return rl_fail("rope: dynamic scaling needs a rotated width > 2 (got %d)", w);
        }
        double L = (double)(seq_len > s->original ? seq_len : s->original);
        base = s->theta * pow(s->factor * L / (double)s->original - (s->factor - 1.0), (double)w / (double)(w - 2));
    }
    for (int k = lo; k < hi; k++) f->freq[k] = pow(base, -2.0 * (double)k / (double)w);

    /* 2. Scaling on top of the ladder. Chunks outside [lo, hi) stay at 0. */
    if (s->scale == RL_SCALE_LINEAR) {
        for (int k = lo; k < hi; k++) f->freq[k] /= s->factor;
    } else if (s->scale == RL_SCALE_YARN) {
        double orig = (double)s->original;
        double low = yarn_correction_dim(s->beta_fast, w, base, orig);
        double high = yarn_correction_dim(s->beta_slow, w, base, orig);
        if (s->truncate) {
            low = floor(low);
            high = ceil(high);
        }
        if (low < 0) low = 0;
        if (high > w - 1) high = w - 1;
        if (low == high) high += 0.001;
        for (int k = lo; k < hi; k++) {
            double ramp = ((double)k - low) / (high - low);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            double extrap_factor = 1.0 - ramp; /* 1 = keep the original frequency */
            double extrap = f->freq[k], interp = f->freq[k] / s->factor;
            f->freq[k] = interp * (1.0 - extrap_factor) + extrap * extrap_factor;
        }
        f->attn_factor = rl_rope_yarn_attention_factor(s);
    } else if (s->scale == RL_SCALE_LLAMA3) {
        double orig = (double)s->original;
        double low_wl = orig / s->low_freq_factor, high_wl = orig / s->high_freq_factor;
        for (int k = lo; k < hi; k++) {
            double inv = f->freq[k], wl = 2.0 * M_PI / inv;
            if (wl < high_wl) continue; /* high frequencies: unchanged */
            if (wl > low_wl) {
                f->freq[k] = inv / s->factor; /* low frequencies: interpolated */
            } else {
                double smooth = (orig / wl - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
                f->freq[k] = (1.0 - smooth) * inv / s->factor + smooth * inv;
            }
        }
    }

    f->chunk_lo = lo;
    f->chunk_hi = hi;
    if (f->attn_factor != 1.0) { /* the factor scales every dim of the rotated width */
        f->chunk_lo = 0;
        f->chunk_hi = R / 2;
    }
    if (f->chunk_hi <= f->chunk_lo) f->chunk_lo = f->chunk_hi = 0;
    return 0;
}

void rl_rope_freqs_free(rl_rope_freqs *f) {
    free(f->freq);
    f->freq = NULL;
}

void rl_rope_chunk_dims(const rl_rope_freqs *f, int k, int *i0, int *i1) {
    if (f->layout == RL_LAYOUT_INTERLEAVED) {
        *i0 = 2 * k;
        *i1 = 2 * k + 1;
        return;
    }
    int R = f->rot_dims;
    if (k < R / 2) {
        *i0 = k;
        *i1 = k + R / 2;
    } else { /* pass-through dims of partial rotary, paired half-style among themselves */
        int j = k - R / 2, rest = f->head_dim - R;
        *i0 = R + j;
        *i1 = R + j + rest / 2;
    }
}
