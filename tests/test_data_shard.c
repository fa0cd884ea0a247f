/* data/shards and sampler: header round trip, every bad header, the sampler's windows, determinism and resume. */
#include "helpers.h"
#include "ropelab/data.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *path_in(const char *dir, const char *name) {
    char *p = malloc(4300);
    snprintf(p, 4300, "%s/%s", dir, name);
    return p;
}

Test(data_shard, round_trip_uint16_and_uint32) {
    char *dir = rt_tmpdir(), *p = path_in(dir, "s.bin");
    int32_t vocabs[] = {4096, 65535, 65536, 200000};
    for (size_t k = 0; k < RL_ARRAY_LEN(vocabs); k++) {
        int32_t V = vocabs[k];
        int64_t n = 5000;
        int32_t *tok = malloc((size_t)n * sizeof *tok);
        for (int64_t i = 0; i < n; i++) tok[i] = (int32_t)((i * 7919) % V);
        tok[0] = V - 1;
        cr_assert_eq(rl_shard_write(p, V, tok, n), 0, "%s", rl_error());
        char *raw;
        size_t len;
        cr_assert_eq(rl_read_file(p, &raw, &len), 0);
        int w = V <= 65535 ? 2 : 4; /* the rule: uint32 only when the vocabulary exceeds 65,535 */
        cr_assert_eq(len, 1024 + (size_t)n * (size_t)w);
        /* the header, read by hand as little-endian int32 */
        int32_t h[256];
        for (int i = 0; i < 256; i++)
            h[i] = (int32_t)((uint32_t)(uint8_t)raw[4 * i] | (uint32_t)(uint8_t)raw[4 * i + 1] << 8 |
                             (uint32_t)(uint8_t)raw[4 * i + 2] << 16 | (uint32_t)(uint8_t)raw[4 * i + 3] << 24);
        cr_assert(h[0] == 20241008 && h[1] == 1 && h[2] == V && h[3] == n);
        for (int i = 4; i < 256; i++) cr_assert_eq(h[i], 0);
        free(raw);
        rl_shard s;
        cr_assert_eq(rl_shard_open(&s, p, V), 0, "%s", rl_error());
        cr_assert(s.n_tokens == n && s.vocab_size == V && s.width == w);
        int32_t *back = malloc((size_t)n * sizeof *back);
        rl_shard_read(&s, 0, n, back);
        cr_assert(memcmp(back, tok, (size_t)n * sizeof *tok) == 0);
        cr_assert_eq(rl_shard_token(&s, 0), V - 1);
        rl_shard_close(&s);
        free(back);
        free(tok);
    }
    /* ids outside the vocabulary are refused on write */
    int32_t bad[] = {1, 2, 4096};
    cr_assert_eq(rl_shard_write(p, 4096, bad, 3), -1);
    cr_assert(strstr(rl_error(), "token 2 is 4096"), "%s", rl_error());
    rt_rmtree(dir);
    free(dir);
    free(p);
}

static void put32(char *p, int32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (char)((uint32_t)v >> (8 * i));
}

static void expect_bad(const char *p, const char *data, size_t n, int32_t expect_vocab, const char *f1, const char *f2) {
    cr_assert_eq(rl_write_atomic(p, data, n), 0);
    rl_shard s;
    cr_assert_eq(rl_shard_open(&s, p, expect_vocab), -1, "bad shard accepted (%s)", f1);
    const char *e = rl_error();
    cr_assert(strstr(e, p), "message does not name the file: %s", e);
    cr_assert(strstr(e, f1), "expected '%s' in: %s", f1, e);
    if (f2) cr_assert(strstr(e, f2), "expected '%s' in: %s", f2, e);
}

Test(data_shard, every_bad_header_is_rejected) {
    char *dir = rt_tmpdir(), *p = path_in(dir, "s.bin"), *q = path_in(dir, "bad.bin");
    int32_t tok[100];
    for (int i = 0; i < 100; i++) tok[i] = i;
    cr_assert_eq(rl_shard_write(p, 512, tok, 100), 0);
    char *d;
    size_t n;
    cr_assert_eq(rl_read_file(p, &d, &n), 0);
    char *v = malloc(n + 16);
    expect_bad(q, d, 0, 0, "truncated", "1024-byte header");
    expect_bad(q, d, 1000, 0, "truncated", NULL);
    memcpy(v, d, n);
    put32(v, 12345);
    expect_bad(q, v, n, 0, "field magic at offset 0 is 12345", "20241008");
    put32(v, 20240520);
    expect_bad(q, v, n, 0, "field magic", "llm.c");
    memcpy(v, d, n);
    put32(v + 4, 2);
    expect_bad(q, v, n, 0, "field version at offset 4 is 2", NULL);
    memcpy(v, d, n);
    put32(v + 8, 0);
    expect_bad(q, v, n, 0, "field vocab_size at offset 8 is 0", NULL);
    expect_bad(q, d, n, 4096, "field vocab_size at offset 8 is 512", "tokenizer has 4096");
    memcpy(v, d, n);
    put32(v + 12, -3);
    expect_bad(q, v, n, 0, "field token_count at offset 12 is -3", NULL);
    memcpy(v, d, n);
    put32(v + 4 * 200, 7);
    expect_bad(q, v, n, 0, "field header[200] at offset 800 is 7", NULL);
    expect_bad(q, d, n - 1, 0, "token_count at offset 12", "truncated");
    memcpy(v, d, n);
    memset(v + n, 0, 2);
    expect_bad(q, v, n + 2, 0, "needs exactly 1224", "trailing");
    memcpy(v, d, n);
    put32(v + 12, 101);
    expect_bad(q, v, n, 0, "needs exactly 1226", "truncated");
    memcpy(v, d, n);
    v[1024 + 2 * 37] = (char)0x00;
    v[1024 + 2 * 37 + 1] = (char)0x02; /* token 37 = 512 */
    expect_bad(q, v, n, 0, "token 37 at offset 1098 is 512", "vocab_size 512");
    rl_shard s;
    cr_assert_eq(rl_shard_open(&s, "/nonexistent/x.bin", 0), -1);
    cr_assert(strstr(rl_error(), "/nonexistent/x.bin"));
    free(v);
    free(d);
    rt_rmtree(dir);
    free(dir);
    free(p);
    free(q);
}

/* A shard whose token i is i (vocab 65535): every window must be consecutive ids. */
static rl_shard *counting_shard(const char *dir, int64_t n) {
    char *p = path_in(dir, "count.bin");
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    for (int64_t i = 0; i < n; i++) tok[i] = (int32_t)i;
    cr_assert_eq(rl_shard_write(p, 65535, tok, n), 0);
    free(tok);
    rl_shard *s = malloc(sizeof *s);
    cr_assert_eq(rl_shard_open(s, p, 65535), 0, "%s", rl_error());
    free(p);
    return s;
}

Test(data_sampler, random_windows_deterministic_resumable) {
    char *dir = rt_tmpdir();
    const int64_t N = 10000;
    rl_shard *s = counting_shard(dir, N);
    const int B = 4, T = 64, steps = 500;
    rl_sampler a, b;
    cr_assert_eq(rl_sampler_init(&a, s, B, T, 42, RL_SAMPLE_RANDOM), 0);
    cr_assert_eq(rl_sampler_init(&b, s, B, T, 42, RL_SAMPLE_RANDOM), 0);
    int32_t *x = malloc((size_t)steps * B * (T + 1) * sizeof *x), *y = malloc((size_t)B * (T + 1) * sizeof *y);
    double sum = 0;
    int64_t lo = N, hi = -1;
    for (int k = 0; k < steps; k++) {
        int32_t *xk = x + (size_t)k * B * (T + 1);
        rl_sampler_next(&a, xk);
        rl_sampler_next(&b, y);
        cr_assert(memcmp(xk, y, (size_t)B * (T + 1) * sizeof *y) == 0, "same seed, different batch %d", k);
        for (int r = 0; r < B; r++) {
            const int32_t *row = xk + r * (T + 1);
            for (int t = 1; t <= T; t++) cr_assert_eq(row[t], row[0] + t, "window not contiguous");
            cr_assert(row[0] >= 0 && row[0] + T <= N - 1);
            sum += row[0];
            lo = RL_MIN(lo, row[0]);
            hi = RL_MAX(hi, row[0]);
        }
    }
    cr_assert_eq(a.step, steps);
    /* offsets uniform on [0, N-T-1]: mean within 5 standard errors (sd of U = range/sqrt(12)), and the
     * 2000 draws reach within 1% of both ends (probability of missing one end: 0.99^2000 ~ 2e-9) */
    double range = (double)(N - T - 1), mean = sum / (steps * B), se = range / sqrt(12.0) / sqrt(steps * B);
    cr_assert(fabs(mean - range / 2) < 5 * se, "mean offset %g, expected %g +- %g", mean, range / 2, 5 * se);
    cr_assert(lo < range * 0.01 && hi > range * 0.99, "offsets span [%lld, %lld]", (long long)lo, (long long)hi);
    /* resume: a fresh sampler seeked to step 321 returns batches 321.. bit-identically */
    rl_sampler c;
    cr_assert_eq(rl_sampler_init(&c, s, B, T, 42, RL_SAMPLE_RANDOM), 0);
    rl_sampler_seek(&c, 321);
    for (int k = 321; k < 330; k++) {
        rl_sampler_next(&c, y);
        cr_assert(memcmp(x + (size_t)k * B * (T + 1), y, (size_t)B * (T + 1) * sizeof *y) == 0, "resume differs at %d", k);
    }
    /* another seed gives other windows */
    rl_sampler d;
    cr_assert_eq(rl_sampler_init(&d, s, B, T, 43, RL_SAMPLE_RANDOM), 0);
    rl_sampler_next(&d, y);
    cr_assert(memcmp(x, y, (size_t)B * (T + 1) * sizeof *y) != 0);
    free(x);
    free(y);
    rl_shard_close(s);
    free(s);
    rt_rmtree(dir);
    free(dir);
}

Test(data_sampler, sequential_windows_and_errors) {
    char *dir = rt_tmpdir();
    rl_shard *s = counting_shard(dir, 1000);
    rl_sampler sm;
    const int B = 3, T = 100;
    cr_assert_eq(rl_sampler_init(&sm, s, B, T, 0, RL_SAMPLE_SEQUENTIAL), 0);
    cr_assert_eq(rl_sampler_windows(&sm), 9); /* floor(999 / 100) */
    int32_t y[3 * 101];
    for (int k = 0; k < 5; k++) {
        rl_sampler_next(&sm, y);
        for (int r = 0; r < B; r++) {
            int64_t w = (k * B + r) % 9;
            for (int t = 0; t <= T; t++) cr_assert_eq(y[r * (T + 1) + t], w * T + t);
        }
    }
    cr_assert_eq(rl_sampler_init(&sm, s, 1, 1000, 0, RL_SAMPLE_RANDOM), -1);
    cr_assert(strstr(rl_error(), "too few"), "%s", rl_error());
    cr_assert_eq(rl_sampler_init(&sm, s, 0, 10, 0, RL_SAMPLE_RANDOM), -1);
    cr_assert_eq(rl_sampler_init(&sm, s, 1, 999, 0, RL_SAMPLE_RANDOM), 0); /* exactly T + 1 tokens: one window */
    int32_t *all = malloc(1000 * sizeof *all);
    rl_sampler_next(&sm, all);
    cr_assert(all[0] == 0 && all[999] == 999);
    free(all);
    rl_shard_close(s);
    free(s);
    rt_rmtree(dir);
    free(dir);
}
