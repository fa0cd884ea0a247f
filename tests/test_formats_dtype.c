/* formats: exact F16/BF16/F8 conversions and Q8_0 quantization against float64 references. */
#include "formats_helpers.h"
#include "helpers.h"
#include "ropelab/formats.h"

#include <math.h>
#include <stdio.h>

/* Every one of the 65536 F16 bit patterns decodes to the value its fields define, computed here
 * as (-1)^s * 2^(e-15) * (1 + m/1024) (normal) or 2^-14 * m/1024 (subnormal). Exact: tolerance 0. */
Test(formats_dtype, f16_decode_all_patterns) {
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        double want;
        if (e == 31) want = m ? NAN : INFINITY;
        else if (e == 0) want = ldexp(m / 1024.0, -14);
        else want = ldexp(1.0 + m / 1024.0, e - 15);
        if (s) want = -want;
        float got = rl_f16_to_f32((uint16_t)h);
        if (isnan(want)) cr_assert(isnan(got), "h=0x%04x", h);
        else cr_assert_eq((double)got, want, "h=0x%04x: got %.9g want %.9g", h, got, want);
        if (!isnan(want)) cr_assert_eq(rl_f32_to_f16(got), h, "round trip of 0x%04x", h); /* exact values re-encode */
        else cr_assert_eq(rl_f32_to_f16(got) & 0x7e00u, 0x7e00u, "NaN 0x%04x stays a (quiet) NaN", h);
    }
    cr_assert(signbit(rl_f16_to_f32(0x8000)), "-0 keeps its sign");
}

/* Whole-tensor conversion (F16C when the CPU has it, OpenMP chunks above 2^18 values) gives
 * bit-for-bit the scalar conversion for all 65536 F16 and BF16 patterns (NaNs: still NaN). */
Test(formats_dtype, tensor_conversion_matches_scalar) {
    enum { N = 4 * 65536 + 3 }; /* above the parallel threshold, and a ragged tail */
    static uint16_t h[N];
    static float out[N];
    for (int i = 0; i < N; i++) h[i] = (uint16_t)(i * 40503u); /* every pattern, in a scrambled order */
    for (int k = 0; k < 2; k++) {
        rl_tensor t = {.name = "h", .dtype = k ? RL_DT_BF16 : RL_DT_F16, .ndim = 1, .numel = N, .data = (const uint8_t *)h};
        cr_assert_eq(rl_tensor_to_f32(&t, out), 0);
        for (int i = 0; i < N; i++) {
            float want = k ? rl_bf16_to_f32(h[i]) : rl_f16_to_f32(h[i]);
            if (isnan(want)) cr_assert(isnan(out[i]), "%d: 0x%04x", k, h[i]);
            else cr_assert(memcmp(&want, &out[i], 4) == 0, "%s 0x%04x: %a vs %a", k ? "BF16" : "F16", h[i], out[i], want);
        }
    }
}

/* float -> F16 and float -> BF16 round to nearest, ties to even: compared with ref_round (float64
 * arithmetic) on 400k floats spread over every exponent, plus the edge cases. Exact: tolerance 0. */
Test(formats_dtype, f16_bf16_round_to_nearest_even) {
    rl_rng r;
    rl_rng_seed(&r, 11);
    for (int i = 0; i < 400000; i++) {
        uint32_t bits = (uint32_t)rl_rng_u64(&r);
        if (i % 2) bits = (bits & 0x807fffffu) | ((uint32_t)(96 + rl_rng_below(&r, 60)) << 23); /* near F16's range */
        float x;
        memcpy(&x, &bits, 4);
        if (isnan(x)) continue;
        double w16 = ref_f16(x), w_bf = ref_bf16(x);
        float g16 = rl_f16_to_f32(rl_f32_to_f16(x)), gbf = rl_bf16_to_f32(rl_f32_to_bf16(x));
        cr_assert((double)g16 == w16 || (isinf(w16) && isinf(g16) && (g16 > 0) == (w16 > 0)),
                  "F16(%a) = %a, want %a", x, g16, w16);
        cr_assert((double)gbf == w_bf || (isinf(w_bf) && isinf(gbf)), "BF16(%a) = %a, want %a", x, gbf, w_bf);
    }
    /* edges: ties, subnormals, overflow, NaN */
    struct { float x; uint16_t h; } e16[] = {
        {65504.0f, 0x7bff}, {65519.99f, 0x7bff}, {65520.0f, 0x7c00}, {-65520.0f, 0xfc00}, {0x1p-24f, 0x0001},
        {0x1p-25f, 0x0000}, {0x1.000002p-25f, 0x0001}, {0x3p-25f, 0x0002}, {0x1.ff8p-15f, 0x03ff}, {0x1.ffcp-15f, 0x0400}, {0x1.ffbp-15f, 0x03ff},
        {1.0f + 0x1p-11f, 0x3c00}, {1.0f + 0x3p-11f, 0x3c02}, {INFINITY, 0x7c00}, {-0.0f, 0x8000},
    };
    for (size_t i = 0; i < RL_ARRAY_LEN(e16); i++)
        cr_assert_eq(rl_f32_to_f16(e16[i].x), e16[i].h, "F16(%a) = 0x%04x, want 0x%04x", e16[i].x,
                     rl_f32_to_f16(e16[i].x), e16[i].h);
    cr_assert(isnan(rl_f16_to_f32(rl_f32_to_f16(NAN))));
    cr_assert(isnan(rl_bf16_to_f32(rl_f32_to_bf16(NAN))));
    cr_assert_eq(rl_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80, "tie to even (down)");
    cr_assert_eq(rl_f32_to_bf16(1.0f + 0x3p-8f), 0x3f82, "tie to even (up)");
    cr_assert_eq(rl_f32_to_bf16(0x1.fffffep127f), 0x7f80, "overflow to inf");
}

/* F8 formats: values from the OCP FP8 specification's tables. */
Test(formats_dtype, f8_known_values) {
    uint8_t e4[] = {0x38, 0x7e, 0x01, 0x08, 0xb8, 0x7f};
    double w4[] = {1.0, 448.0, 0x1p-9, 0x1p-6, -1.0, NAN};
    uint8_t e5[] = {0x3c, 0x7b, 0x01, 0x7c, 0xbc};
    double w5[] = {1.0, 57344.0, 0x1p-16, INFINITY, -1.0};
    rl_tensor t = {0};
    t.ndim = 1;
    float out[8];
    t.name = "f8";
    t.dtype = RL_DT_F8_E4M3;
    t.numel = 6;
    t.data = e4;
    cr_assert_eq(rl_tensor_to_f32(&t, out), 0);
    for (int i = 0; i < 6; i++)
        if (isnan(w4[i])) cr_assert(isnan(out[i]));
        else cr_assert_eq(out[i], w4[i], "E4M3 0x%02x -> %g", e4[i], out[i]);
    t.dtype = RL_DT_F8_E5M2;
    t.numel = 5;
    t.data = e5;
    cr_assert_eq(rl_tensor_to_f32(&t, out), 0);
    for (int i = 0; i < 5; i++) cr_assert_eq(out[i], w5[i], "E5M2 0x%02x -> %g", e5[i], out[i]);
}

/* Q8_0: each value is within d/2 of its reconstruction, d the block's stored fp16 scale, plus the
 * float rounding of x/d before roundf (relative 2^-24 of |x/d| <= 127.5, i.e. <= 127.5 * 2^-24 * d);
 * the stored scale is fp16(max|x| / 127) (one step up where a subnormal scale would clip); the
 * partial-range conversion matches the full one. */
Test(formats_dtype, q8_0_error_bound) {
    rl_rng r;
    rl_rng_seed(&r, 5);
    enum { NB = 64, N = NB * 32 };
    static float x[N], y[N], part[N];
    static uint8_t q[NB * 34];
    for (int b = 0; b < NB; b++) {
        double scale = ldexp(1.0, (int)rl_rng_below(&r, 40) - 30); /* 2^-30 .. 2^9 */
        for (int j = 0; j < 32; j++) x[b * 32 + j] = (float)(scale * rl_rng_normal(&r));
    }
    for (int j = 0; j < 32; j++) x[5 * 32 + j] = 0.0f;       /* all-zero block: d = 0 */
    for (int j = 0; j < 32; j++) x[6 * 32 + j] = 1e-9f * (float)(j - 16); /* scale below fp16's normal range */
    x[7 * 32 + 3] = 1000.0f;                                  /* one outlier */
    cr_assert_eq(rl_q8_0_quantize(x, N, q), 0, "%s", rl_error());
    rl_q8_0_dequantize(q, N, y);
    for (int b = 0; b < NB; b++) {
        uint16_t dh;
        memcpy(&dh, q + b * 34, 2);
        double d = rl_f16_to_f32(dh), amax = 0;
        for (int j = 0; j < 32; j++) amax = fmax(amax, fabs(x[b * 32 + j]));
        double want_d = ref_f16((float)(amax / 127.0));
        if (amax > 127.5 * want_d) want_d += 0x1p-24; /* subnormal scale rounded down: one step up, see formats.h */
        cr_assert_eq(d, want_d, "block %d scale %a want %a", b, d, want_d);
        for (int j = 0; j < 32; j++) {
            double err = fabs((double)x[b * 32 + j] - (double)y[b * 32 + j]);
            cr_assert(err <= d / 2 + 127.5 * 0x1p-24 * d, "block %d elem %d: |%g - %g| = %g > d/2 = %g", b, j,
                      x[b * 32 + j], y[b * 32 + j], err, d / 2);
        }
    }
    rl_tensor t = {.name = "q", .dtype = RL_DT_Q8_0, .ndim = 1, .numel = N, .data = q};
    for (int64_t first = 0; first < N; first += 37) {
        int64_t cnt = RL_MIN(101, N - first);
        cr_assert_eq(rl_tensor_to_f32_range(&t, first, cnt, part), 0);
        cr_assert_eq(memcmp(part, y + first, (size_t)cnt * 4), 0, "range from %lld", (long long)first);
    }
    /* bad values are refused with the element named */
    x[100] = NAN;
    cr_assert_eq(rl_q8_0_quantize(x, N, q), -1);
    cr_assert(strstr(rl_error(), "element 100") != NULL, "%s", rl_error());
    x[100] = 1e10f;
    cr_assert_eq(rl_q8_0_quantize(x, N, q), -1);
    cr_assert(strstr(rl_error(), "block 3") != NULL, "%s", rl_error());
}

Test(formats_dtype, names_and_ggml_table) {
    rl_dtype dt;
    cr_assert_eq(rl_dtype_from_name("BF16", &dt), 0);
    cr_assert_eq(dt, RL_DT_BF16);
    cr_assert_eq(rl_dtype_from_name("Q8_0", &dt), -1, "Q8_0 is not a safetensors dtype");
    cr_assert_eq(rl_dtype_from_name("F7", &dt), -1);
    const char *name;
    int be, bb;
    cr_assert_eq(rl_ggml_type_info(RL_GGML_Q4_K, &name, &be, &bb), 0);
    cr_assert_str_eq(name, "Q4_K");
    cr_assert_eq(be, 256);
    cr_assert_eq(bb, 144); /* 2 + 2 + 12 scales + 128 nibbles */
    cr_assert_eq(rl_ggml_type_info(4, &name, &be, &bb), -1, "type 4 (Q4_2) was removed from ggml");
}
