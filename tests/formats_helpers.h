/* Helpers for the formats tests: float64 rounding references and a byte builder for hostile files. */
#ifndef ROPELAB_TEST_FORMATS_HELPERS_H
#define ROPELAB_TEST_FORMATS_HELPERS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Rounds x to the nearest value with `mant` explicit mantissa bits, minimum normal exponent emin
 * and overflow threshold `max_finite` (values whose rounding exceeds it become inf), ties to even,
 * computed in float64 arithmetic (independent of the library's bit manipulation). */
static inline double ref_round(double x, int mant, int emin, double max_finite) {
    if (isnan(x) || isinf(x)) return x;
    double ax = fabs(x);
    int e;
    frexp(ax, &e); /* ax = f * 2^e, f in [0.5, 1) */
    e -= 1;        /* ax in [2^e, 2^(e+1)) */
    if (ax == 0 || e < emin) e = emin;
    double q = ldexp(1.0, e - mant); /* spacing of representable values around ax */
    double n = ax / q, fl = floor(n), frac = n - fl;
    double r = frac > 0.5 || (frac == 0.5 && fmod(fl, 2.0) != 0) ? fl + 1 : fl;
    double v = r * q;
    if (v > max_finite) v = INFINITY;
    return x < 0 ? -v : v;
}
static inline double ref_f16(double x) { return ref_round(x, 10, -14, 65504.0); }
static inline double ref_bf16(double x) { return ref_round(x, 7, -126, 0x1.fep127); }

/* A growable byte buffer for building files in tests. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} tbuf;
static inline void tb_put(tbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void tb_u8(tbuf *b, uint8_t v) { tb_put(b, &v, 1); }
static inline void tb_u32(tbuf *b, uint32_t v) { tb_put(b, &v, 4); }
static inline void tb_u64(tbuf *b, uint64_t v) { tb_put(b, &v, 8); }
static inline void tb_f32(tbuf *b, float v) { tb_put(b, &v, 4); }
static inline void tb_str(tbuf *b, const char *s) { tb_u64(b, strlen(s)); tb_put(b, s, strlen(s)); }
static inline void tb_zeros(tbuf *b, size_t n) { for (size_t i = 0; i < n; i++) tb_u8(b, 0); }
static inline void tb_align(tbuf *b, size_t a) { while (b->n % a) tb_u8(b, 0); }

#endif
