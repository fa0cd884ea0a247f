/* formats: dtype names and sizes, the ggml type table, exact F16/BF16/F8 conversions, Q8_0 blocks. */
#include "ropelab/formats.h"

#include <math.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ropelab's file formats assume a little-endian host (as safetensors and GGUF v3 files are)"
#endif

static const struct {
    const char *name;
    size_t size;
} dtypes[RL_DT_COUNT] = {
    [RL_DT_F32] = {"F32", 4},         [RL_DT_F16] = {"F16", 2},         [RL_DT_BF16] = {"BF16", 2},
    [RL_DT_Q8_0] = {"Q8_0", 0},       [RL_DT_F64] = {"F64", 8},         [RL_DT_F8_E4M3] = {"F8_E4M3", 1},
    [RL_DT_F8_E5M2] = {"F8_E5M2", 1}, [RL_DT_I8] = {"I8", 1},           [RL_DT_I16] = {"I16", 2},
    [RL_DT_I32] = {"I32", 4},         [RL_DT_I64] = {"I64", 8},         [RL_DT_U8] = {"U8", 1},
    [RL_DT_U16] = {"U16", 2},         [RL_DT_U32] = {"U32", 4},         [RL_DT_U64] = {"U64", 8},
    [RL_DT_BOOL] = {"BOOL", 1},       [RL_DT_GGML] = {"GGML", 0},
};

const char *rl_dtype_name(rl_dtype dt) { return (unsigned)dt < RL_DT_COUNT ? dtypes[dt].name : "?"; }

size_t rl_dtype_size(rl_dtype dt) { return (unsigned)dt < RL_DT_COUNT ? dtypes[dt].size : 0; }

int rl_dtype_from_name(const char *name, rl_dtype *dt) {
    for (int i = 0; i < RL_DT_COUNT; i++)
        if (i != RL_DT_Q8_0 && i != RL_DT_GGML && strcmp(name, dtypes[i].name) == 0) {
            *dt = (rl_dtype)i;
            return 0;
        }
    return -1;
}

/* ggml types: name, block length (elements), block size (bytes); from ggml's type traits. */
static const struct {
    int id;
    const char *name;
    int blck, size;
} ggml_types[] = {
    {RL_GGML_F32, "F32", 1, 4},          {RL_GGML_F16, "F16", 1, 2},          {RL_GGML_Q4_0, "Q4_0", 32, 18},
    {RL_GGML_Q4_1, "Q4_1", 32, 20},      {RL_GGML_Q5_0, "Q5_0", 32, 22},      {RL_GGML_Q5_1, "Q5_1", 32, 24},
    {RL_GGML_Q8_0, "Q8_0", 32, 34},      {RL_GGML_Q8_1, "Q8_1", 32, 36},      {RL_GGML_Q2_K, "Q2_K", 256, 84},
    {RL_GGML_Q3_K, "Q3_K", 256, 110},    {RL_GGML_Q4_K, "Q4_K", 256, 144},    {RL_GGML_Q5_K, "Q5_K", 256, 176},
    {RL_GGML_Q6_K, "Q6_K", 256, 210},    {RL_GGML_Q8_K, "Q8_K", 256, 292},    {RL_GGML_IQ2_XXS, "IQ2_XXS", 256, 66},
    {RL_GGML_IQ2_XS, "IQ2_XS", 256, 74}, {RL_GGML_IQ3_XXS, "IQ3_XXS", 256, 98}, {RL_GGML_IQ1_S, "IQ1_S", 256, 50},
    {RL_GGML_IQ4_NL, "IQ4_NL", 32, 18},  {RL_GGML_IQ3_S, "IQ3_S", 256, 110},  {RL_GGML_IQ2_S, "IQ2_S", 256, 82},
    {RL_GGML_IQ4_XS, "IQ4_XS", 256, 136}, {RL_GGML_I8, "I8", 1, 1},           {RL_GGML_I16, "I16", 1, 2},
    {RL_GGML_I32, "I32", 1, 4},          {RL_GGML_I64, "I64", 1, 8},          {RL_GGML_F64, "F64", 1, 8},
    {RL_GGML_IQ1_M, "IQ1_M", 256, 56},   {RL_GGML_BF16, "BF16", 1, 2},        {RL_GGML_TQ1_0, "TQ1_0", 256, 54},
    {RL_GGML_TQ2_0, "TQ2_0", 256, 66},   {RL_GGML_MXFP4, "MXFP4", 32, 17},
};

int rl_ggml_type_info(int ggml_type, const char **name, int *block_elems, int *block_bytes) {
    for (size_t i = 0; i < RL_ARRAY_LEN(ggml_types); i++)
        if (ggml_types[i].id == ggml_type) {
            if (name) *name = ggml_types[i].name;
            if (block_elems) *block_elems = ggml_types[i].blck;
            if (block_bytes) *block_bytes = ggml_types[i].size;
            return 0;
        }
    return -1;
}

/* ---- scalar conversions ---------------------------------------------------------------------- */

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float rl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN (payload kept) */
    if (exp == 0) {
        float v = (float)man * 0x1p-24f; /* zero or subnormal: man * 2^-24, exact */
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

/* Rounds m >> shift to nearest, ties to even (shift >= 1). */
static inline uint32_t shift_rne(uint32_t m, int shift) {
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return r;
}

uint16_t rl_f32_to_f16(float f) {
    uint32_t x = f32_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {
        if (ax == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); /* quiet NaN, top payload bits */
    }
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    uint32_t e = ax >> 23;
    if (e < 113) { /* below 2^-14: a half subnormal (units of 2^-24), or zero */
        if (e < 102) return (uint16_t)sign; /* < 2^-25: rounds to zero */
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        return (uint16_t)(sign | shift_rne(m, (int)(126 - e))); /* may carry into the smallest normal */
    }
    /* normal: rebias the exponent, round 13 mantissa bits away (a carry may bump the exponent) */
    uint32_t h = ((e - 112) << 10) | ((ax >> 13) & 0x3ffu), rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float rl_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t rl_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* NaN stays (quiet) NaN */
    x += 0x7fffu + ((x >> 16) & 1u);                                           /* round to nearest even */
    return (uint16_t)(x >> 16);
}

/* ---- Q8_0 ---------------------------------------------------------------------------------- */

int rl_q8_0_quantize(const float *x, size_t n, uint8_t *out) {
    if (n % RL_Q8_0_BLOCK) return rl_fail("Q8_0: %zu values is not a multiple of 32", n);
    for (size_t b = 0; b < n / RL_Q8_0_BLOCK; b++) {
        const float *xb = x + b * RL_Q8_0_BLOCK;
        uint8_t *ob = out + b * RL_Q8_0_BYTES;
        float amax = 0;
        for (int j = 0; j < RL_Q8_0_BLOCK; j++) {
            if (!isfinite(xb[j]))
                return rl_fail("Q8_0: value %g at element %zu (block %zu) is not finite", xb[j],
                               b * RL_Q8_0_BLOCK + j, b);
            amax = fmaxf(amax, fabsf(xb[j]));
        }
        uint16_t dh = rl_f32_to_f16(amax / 127.0f);
        if ((dh & 0x7c00u) == 0x7c00u)
            return rl_fail("Q8_0: block %zu has max |x| = %g, beyond the fp16 scale range", b, amax);
        /* A scale rounded down clips the largest value; by <= 127 * 2^-11 d for normal scales, but a
         * subnormal scale (max|x| < 127 * 2^-14) can be rounded down by much more: then take the next
         * fp16 step up, so that max|x| <= 127.5 d and every error stays within d/2. */
        if (amax > 127.5f * rl_f16_to_f32(dh)) dh++;
        float d = rl_f16_to_f32(dh);
        memcpy(ob, &dh, 2);
        for (int j = 0; j < RL_Q8_0_BLOCK; j++) {
            float q = d > 0 ? roundf(xb[j] / d) : 0.0f;
            q = fminf(127.0f, fmaxf(-127.0f, q));
            ob[2 + j] = (uint8_t)(int8_t)q;
        }
    }
    return 0;
}

void rl_q8_0_dequantize(const uint8_t *in, size_t n, float *out) {
    for (size_t b = 0; b < n / RL_Q8_0_BLOCK; b++) {
        const uint8_t *ib = in + b * RL_Q8_0_BYTES;
        uint16_t dh;
        memcpy(&dh, ib, 2);
        float d = rl_f16_to_f32(dh);
        const int8_t *q = (const int8_t *)(ib + 2);
        float *o = out + b * RL_Q8_0_BLOCK;
#pragma omp simd
        for (int j = 0; j < RL_Q8_0_BLOCK; j++) o[j] = d * (float)q[j];
    }
}
