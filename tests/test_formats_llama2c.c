/* formats: llama2.c legacy checkpoints: stories260K.bin shapes and values, synthetic variants, bad sizes. */
#include "formats_helpers.h"
#include "helpers.h"
#include "ropelab/formats.h"

#include <stdio.h>

/* stories260K: the header's shapes, and weights compared with floats read by fread at offsets
 * computed here from the README's layout (28-byte header, then the tensors in order). Exact. */
Test(formats_llama2c, stories260k) {
    RT_REQUIRE_MODELS();
    char path[4200];
    snprintf(path, sizeof path, "%s/stories260K.bin", rt_models_dir());
    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, path), 0, "%s", rl_error());
    cr_assert_eq(ts.format, RL_FMT_LLAMA2C);
    int64_t v;
    int b;
    cr_assert(rl_tensors_meta_i64(&ts, "llama2c.dim", &v) == 0 && v == 64);
    cr_assert(rl_tensors_meta_i64(&ts, "llama2c.hidden_dim", &v) == 0 && v == 172);
    cr_assert(rl_tensors_meta_i64(&ts, "llama2c.n_layers", &v) == 0 && v == 5);
    cr_assert(rl_tensors_meta_i64(&ts, "llama2c.n_heads", &v) == 0 && v == 8);
    cr_assert(rl_tensors_meta_i64(&ts, "llama2c.n_kv_heads", &v) == 0 && v == 4);
    cr_assert(rl_tensors_meta_i64(&ts, "llama2c.vocab_size", &v) == 0 && v == 512);
    cr_assert(rl_tensors_meta_i64(&ts, "llama2c.seq_len", &v) == 0 && v == 512);
    cr_assert(rl_tensors_meta_bool(&ts, "llama2c.shared_classifier", &b) == 0 && b == 1);
    cr_assert(rl_tensors_meta_bool(&ts, "llama2c.has_freq_cis", &b) == 0 && b == 1);
    struct { const char *name; int nd; int64_t s[3]; } want[] = {
        {"llama2c.tok_embeddings", 2, {512, 64}}, {"llama2c.rms_att", 2, {5, 64}}, {"llama2c.wq", 3, {5, 64, 64}},
        {"llama2c.wk", 3, {5, 32, 64}}, {"llama2c.wv", 3, {5, 32, 64}}, {"llama2c.wo", 3, {5, 64, 64}},
        {"llama2c.rms_ffn", 2, {5, 64}}, {"llama2c.w1", 3, {5, 172, 64}}, {"llama2c.w2", 3, {5, 64, 172}},
        {"llama2c.w3", 3, {5, 172, 64}}, {"llama2c.rms_final", 1, {64}}, {"llama2c.freq_cis_real", 2, {512, 4}},
        {"llama2c.freq_cis_imag", 2, {512, 4}},
    };
    cr_assert_eq(ts.n, (int)RL_ARRAY_LEN(want));
    int64_t off = 28;
    for (size_t i = 0; i < RL_ARRAY_LEN(want); i++) {
        const rl_tensor *t = rl_tensors_get(&ts, want[i].name);
        cr_assert_not_null(t, "%s", rl_error());
        cr_assert_eq(t->ndim, want[i].nd, "%s", want[i].name);
        int64_t n = 1;
        for (int d = 0; d < want[i].nd; d++) {
            cr_assert_eq(t->shape[d], want[i].s[d], "%s dim %d", want[i].name, d);
            n *= want[i].s[d];
        }
        cr_assert_eq((int64_t)t->offset, off, "%s offset", want[i].name);
        off += 4 * n;
    }
    cr_assert_eq(off, 1056540, "the whole file is accounted for");
    cr_assert_null(rl_tensors_find(&ts, "llama2c.wcls"), "shared classifier: no wcls");

    /* a few weights read independently: wq layer 2 row 5 col 7; w2 layer 4 row 63 col 171; rms_final[10] */
    FILE *f = fopen(path, "rb");
    struct { const char *name; int64_t file_off, elem; } probe[] = {
        {"llama2c.wq", 28 + 4 * (512 * 64 + 5 * 64) + 4 * (2 * 64 * 64 + 5 * 64 + 7), 2 * 64 * 64 + 5 * 64 + 7},
        {"llama2c.w2", 28 + 4 * (512 * 64 + 5 * 64 + 2 * 5 * 64 * 64 + 2 * 5 * 32 * 64 + 5 * 64 + 5 * 172 * 64) +
                           4 * (4 * 64 * 172 + 63 * 172 + 171), 4 * 64 * 172 + 63 * 172 + 171},
        {"llama2c.rms_final", 1039900 + 4 * 10, 10},
    };
    for (size_t i = 0; i < RL_ARRAY_LEN(probe); i++) {
        float want_v, got_v;
        cr_assert_eq(fseek(f, probe[i].file_off, SEEK_SET), 0);
        cr_assert_eq(fread(&want_v, 4, 1, f), 1);
        cr_assert_eq(rl_tensor_to_f32_range(rl_tensors_get(&ts, probe[i].name), probe[i].elem, 1, &got_v), 0);
        cr_assert_eq(got_v, want_v, "%s[%lld]", probe[i].name, (long long)probe[i].elem);
        cr_assert(want_v != 0.0f, "probe of a real weight");
    }
    fclose(f);
    /* whole-tensor conversion of a stacked tensor equals its per-layer ranges */
    const rl_tensor *wk = rl_tensors_get(&ts, "llama2c.wk");
    static float all[5 * 32 * 64], layer[32 * 64];
    cr_assert_eq(rl_tensor_to_f32(wk, all), 0);
    cr_assert_eq(rl_tensor_to_f32_range(wk, 3 * 32 * 64, 32 * 64, layer), 0);
    cr_assert_eq(memcmp(layer, all + 3 * 32 * 64, sizeof layer), 0);
    rl_tensors_free(&ts);
}

/* A synthetic checkpoint: header + float k at the k-th float position. */
static tbuf synth(int32_t dim, int32_t hidden, int32_t L, int32_t nh, int32_t nkv, int32_t vocab, int32_t seq, int freq,
                  int extra_floats) {
    tbuf b = {0};
    int32_t h[7] = {dim, hidden, L, nh, nkv, vocab, seq};
    tb_put(&b, h, sizeof h);
    int64_t V = vocab < 0 ? -vocab : vocab, hs = dim / nh, kv = nkv * hs;
    int64_t n = V * dim + L * dim + L * dim * dim + 2 * L * kv * dim + L * dim * dim + L * dim + 3 * L * hidden * dim + dim;
    if (freq) n += seq * hs;
    if (vocab < 0) n += V * dim;
    n += extra_floats;
    for (int64_t k = 0; k < n; k++) tb_f32(&b, (float)k);
    return b;
}

Test(formats_llama2c, variants_and_bad_sizes) {
    rl_tensors ts;
    /* unshared classifier (negative vocab), with the freq table: wcls after it */
    tbuf b = synth(8, 12, 2, 2, 1, -10, 6, 1, 0);
    cr_assert_eq(rl_llama2c_parse(&ts, b.p, b.n, "u.bin"), 0, "%s", rl_error());
    const rl_tensor *wcls = rl_tensors_get(&ts, "llama2c.wcls");
    cr_assert_not_null(wcls);
    cr_assert(wcls->shape[0] == 10 && wcls->shape[1] == 8);
    cr_assert_eq(wcls->offset, b.n - 4 * 80);
    float x;
    cr_assert_eq(rl_tensor_to_f32_range(wcls, 0, 1, &x), 0);
    cr_assert_eq(x, (float)((wcls->offset - 28) / 4), "values come from the right place");
    int sh;
    cr_assert(rl_tensors_meta_bool(&ts, "llama2c.shared_classifier", &sh) == 0 && sh == 0);
    rl_tensors_free(&ts);
    free(b.p);
    /* without the freq table: accepted, and has_freq_cis says so */
    b = synth(8, 12, 2, 2, 1, 10, 6, 0, 0);
    cr_assert_eq(rl_llama2c_parse(&ts, b.p, b.n, "nofreq.bin"), 0, "%s", rl_error());
    cr_assert(rl_tensors_meta_bool(&ts, "llama2c.has_freq_cis", &sh) == 0 && sh == 0);
    cr_assert_null(rl_tensors_find(&ts, "llama2c.freq_cis_real"));
    rl_tensors_free(&ts);
    free(b.p);
    /* one float too many, or too few: the message gives both possible sizes */
    b = synth(8, 12, 2, 2, 1, 10, 6, 1, 1);
    cr_assert_eq(rl_llama2c_parse(&ts, b.p, b.n, "bad.bin"), -1);
    cr_assert(strstr(rl_error(), "bad.bin: file is ") && strstr(rl_error(), "with the freq_cis table or"), "%s", rl_error());
    free(b.p);
    b = synth(8, 12, 2, 2, 1, 10, 6, 1, 0);
    cr_assert_eq(rl_llama2c_parse(&ts, b.p, b.n - 4, "bad.bin"), -1);
    free(b.p);
    struct { int32_t h[7]; const char *want; } bad[] = {
        {{0, 12, 2, 2, 1, 10, 6}, "header field dim = 0 at offset 0 must be positive"},
        {{8, 12, 2, 3, 1, 10, 6}, "dim is not a multiple of n_heads"},
        {{8, 12, 2, 2, 3, 10, 6}, "n_heads is not a multiple of n_kv_heads"},
        {{6, 12, 2, 2, 1, 10, 6}, "head size dim/n_heads is odd"},
        {{8, 12, 2, 2, 1, 0, 6}, "vocab_size = 0 at offset 20"},
        {{2147483646, 2147483647, 2147483647, 1, 1, 2147483647, 1}, "imply an impossible size"},
        {{0x616b3432, 1, 0, 0, 0, 0, 0}, "version-1 export (magic \"ak42\""},
    };
    for (size_t i = 0; i < RL_ARRAY_LEN(bad); i++) {
        uint8_t buf[64] = {0};
        memcpy(buf, bad[i].h, 28);
        cr_assert_eq(rl_llama2c_parse(&ts, buf, sizeof buf, "bad.bin"), -1, "case %zu", i);
        cr_assert(strstr(rl_error(), bad[i].want) != NULL, "case %zu\n  got:  %s\n  want: %s", i, rl_error(), bad[i].want);
    }
    uint8_t tiny[10] = {0};
    cr_assert_eq(rl_llama2c_parse(&ts, tiny, 10, "bad.bin"), -1);
    cr_assert(strstr(rl_error(), "shorter than the 28-byte llama2.c header") != NULL, "%s", rl_error());
}

/* `ropelab inspect` on the real llama2.c checkpoint: format, header metadata, every tensor in JSON. */
Test(formats_llama2c, inspect_stories260k) {
    RT_REQUIRE_MODELS();
    char args[4400], *out;
    snprintf(args, sizeof args, "inspect '%s/stories260K.bin'", rt_models_dir());
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "format llama2c") && strstr(out, "llama2c.n_kv_heads (i32) = 4"), "%s", out);
    cr_assert(strstr(out, "llama2c.w2") && strstr(out, "[5, 64, 172]"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "inspect --json '%s/stories260K.bin'", rt_models_dir());
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "\"format\":\t\"llama2c\"") != NULL, "%s", out);
    int n = 0;
    for (const char *p = out; (p = strstr(p, "\"nbytes\"")) != NULL; p++) n++;
    cr_assert_eq(n, 13, "13 tensors listed");
    free(out);
}

/* An unrecognised file falls back to llama2.c; the message says so, so a user knows why. */
Test(formats_llama2c, unknown_file_says_how_it_was_read) {
    char *dir = rt_tmpdir(), p[4200];
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    const char *text = "just some text, certainly not a checkpoint\n";
    cr_assert_eq(rl_write_atomic(p, text, strlen(text)), 0);
    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, p), -1);
    cr_assert(strstr(rl_error(), "notes.txt") && strstr(rl_error(), "read as a llama2.c checkpoint"), "%s", rl_error());
    rt_rmtree(dir);
    free(dir);
}
