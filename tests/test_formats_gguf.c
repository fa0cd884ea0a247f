/* formats: GGUF write -> read round trips (every metadata type, F32/F16/BF16/Q8_0) and hostile files. */
#include "formats_helpers.h"
#include "helpers.h"
#include "ropelab/formats.h"

#include <math.h>
#include <stdio.h>

static void fill(float *x, int n, uint64_t seed, double scale) {
    rl_rng r;
    rl_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) x[i] = (float)(scale * rl_rng_normal(&r));
}

Test(formats_gguf, round_trip_metadata_and_tensors) {
    char *dir = rt_tmpdir(), path[4200], path2[4200];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    snprintf(path2, sizeof path2, "%s/copy.gguf", dir);
    rl_meta_list meta = {0};
    rl_meta_add_str(&meta, "general.architecture", "llama");
    rl_meta_add_u32(&meta, "k.u8", 200);
    meta.m[meta.n - 1].type = RL_META_U8; /* the builders cover 32/64-bit; narrow types by hand */
    rl_meta_add_i32(&meta, "k.i8", -100);
    meta.m[meta.n - 1].type = RL_META_I8;
    rl_meta_add_u32(&meta, "k.u16", 60000);
    meta.m[meta.n - 1].type = RL_META_U16;
    rl_meta_add_i32(&meta, "k.i16", -30000);
    meta.m[meta.n - 1].type = RL_META_I16;
    rl_meta_add_u32(&meta, "k.u32", 4000000000u);
    rl_meta_add_i32(&meta, "k.i32", -2000000000);
    rl_meta_add_f32(&meta, "k.f32", 1e-5f);
    rl_meta_add_bool(&meta, "k.bool", 1);
    rl_meta_add_u64(&meta, "k.u64", 18000000000000000000ull);
    rl_meta_add_i64(&meta, "k.i64", -9000000000000000000ll);
    rl_meta_add_f64(&meta, "k.f64", 10000.0 / 3);
    const char *toks[] = {"<s>", "", "h\xc3\xa9llo", "a b"};
    rl_meta_add_arr_str(&meta, "tokenizer.ggml.tokens", toks, 4);
    float scores[3] = {0.5f, -1.25f, 3e8f};
    rl_meta_add_arr(&meta, "tokenizer.ggml.scores", RL_META_F32, scores, 3);
    int32_t types[4] = {1, -2, 3, 2147483647};
    rl_meta_add_arr(&meta, "k.arr_i32", RL_META_I32, types, 4);
    uint8_t bools[2] = {1, 0};
    rl_meta_add_arr(&meta, "k.arr_bool", RL_META_BOOL, bools, 2);
    rl_meta_add_arr(&meta, "k.arr_empty", RL_META_U64, NULL, 0);
    rl_meta_add_u32(&meta, "general.alignment", 64);

    enum { E = 3 * 64, H = 2 * 5, B = 7, Q = 4 * 64 };
    static float e[E], h[H], bf[B], q[Q];
    fill(e, E, 1, 1.0);
    fill(h, H, 2, 100.0);
    fill(bf, B, 3, 1e-3);
    fill(q, Q, 4, 0.02);
    q[77] = 0.9f; /* an outlier in block 2 */
    rl_write_tensor w[] = {
        {"token_embd.weight", RL_DT_F32, 2, {3, 64}, e, NULL},
        {"blk.0.attn_norm.weight", RL_DT_F16, 2, {2, 5}, h, NULL},
        {"odd", RL_DT_BF16, 1, {7}, bf, NULL},
        {"blk.0.attn_q.weight", RL_DT_Q8_0, 2, {4, 64}, q, NULL},
    };
    cr_assert_eq(rl_gguf_write(path, w, 4, &meta), 0, "%s", rl_error());

    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, path), 0, "%s", rl_error());
    cr_assert_eq(ts.format, RL_FMT_GGUF);
    cr_assert_eq(ts.gguf_version, 3);
    cr_assert_eq(ts.gguf_alignment, 64);
    cr_assert_eq(ts.gguf_data_offset % 64, 0);
    cr_assert_eq(ts.meta.n, meta.n);
    for (int i = 0; i < meta.n; i++) { /* every key, in order, with its type */
        cr_assert_str_eq(ts.meta.m[i].key, meta.m[i].key);
        cr_assert_eq(ts.meta.m[i].type, meta.m[i].type, "%s", meta.m[i].key);
    }
    int64_t iv;
    double dv;
    int bv;
    const char *sv;
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.u8", &iv), 0); cr_assert_eq(iv, 200);
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.i8", &iv), 0); cr_assert_eq(iv, -100);
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.u16", &iv), 0); cr_assert_eq(iv, 60000);
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.i16", &iv), 0); cr_assert_eq(iv, -30000);
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.u32", &iv), 0); cr_assert_eq(iv, 4000000000LL);
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.i32", &iv), 0); cr_assert_eq(iv, -2000000000LL);
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.i64", &iv), 0); cr_assert_eq(iv, -9000000000000000000LL);
    cr_assert_eq(rl_tensors_meta_i64(&ts, "k.u64", &iv), -1, "u64 beyond int64 is refused");
    cr_assert(strstr(rl_error(), "m.gguf: metadata k.u64 = 18000000000000000000 does not fit") != NULL, "%s", rl_error());
    cr_assert_eq(rl_meta_find(&ts.meta, "k.u64")->v.u, 18000000000000000000ull);
    cr_assert_eq(rl_tensors_meta_f64(&ts, "k.f32", &dv), 0); cr_assert_eq(dv, (double)1e-5f);
    cr_assert_eq(rl_tensors_meta_f64(&ts, "k.f64", &dv), 0); cr_assert_eq(dv, 10000.0 / 3);
    cr_assert_eq(rl_tensors_meta_bool(&ts, "k.bool", &bv), 0); cr_assert_eq(bv, 1);
    cr_assert_eq(rl_tensors_meta_str(&ts, "general.architecture", &sv), 0); cr_assert_str_eq(sv, "llama");
    cr_assert_eq(rl_tensors_meta_str(&ts, "k.u32", &sv), -1);
    cr_assert(strstr(rl_error(), "metadata k.u32 has type u32, expected string") != NULL, "%s", rl_error());
    cr_assert_eq(rl_tensors_meta_i64(&ts, "missing.key", &iv), -1);
    cr_assert(strstr(rl_error(), "metadata missing.key missing") != NULL, "%s", rl_error());
    const rl_meta *tk = rl_meta_find(&ts.meta, "tokenizer.ggml.tokens");
    cr_assert_eq(tk->count, 4);
    for (int i = 0; i < 4; i++) {
        const char *s;
        size_t n;
        cr_assert_eq(rl_meta_arr_str(tk, (uint64_t)i, &s, &n), 0);
        cr_assert_eq(n, strlen(toks[i]));
        cr_assert_eq(memcmp(s, toks[i], n), 0);
    }
    const rl_meta *sc = rl_meta_find(&ts.meta, "tokenizer.ggml.scores");
    for (int i = 0; i < 3; i++) cr_assert(rl_meta_arr_f64(sc, (uint64_t)i, &dv) == 0 && dv == scores[i]);
    const rl_meta *ai = rl_meta_find(&ts.meta, "k.arr_i32");
    for (int i = 0; i < 4; i++) cr_assert(rl_meta_arr_i64(ai, (uint64_t)i, &iv) == 0 && iv == types[i]);
    cr_assert(rl_meta_arr_i64(rl_meta_find(&ts.meta, "k.arr_bool"), 0, &iv) == 0 && iv == 1);
    cr_assert_eq(rl_meta_find(&ts.meta, "k.arr_empty")->count, 0);

    /* tensors: shapes outermost first (the file stores ne innermost first), aligned data, values */
    const rl_tensor *te = rl_tensors_get(&ts, "token_embd.weight");
    cr_assert(te->ndim == 2 && te->shape[0] == 3 && te->shape[1] == 64);
    for (int i = 0; i < ts.n; i++) cr_assert_eq((ts.t[i].offset - ts.gguf_data_offset) % 64, 0, "%s", ts.t[i].name);
    static float got[Q];
    cr_assert_eq(rl_tensor_to_f32(te, got), 0);
    cr_assert_eq(memcmp(got, e, sizeof e), 0, "F32 is stored exactly");
    cr_assert_eq(rl_tensor_to_f32(rl_tensors_get(&ts, "blk.0.attn_norm.weight"), got), 0);
    for (int i = 0; i < H; i++) cr_assert_eq((double)got[i], ref_f16(h[i]), "F16[%d]", i); /* exact RNE */
    cr_assert_eq(rl_tensor_to_f32(rl_tensors_get(&ts, "odd"), got), 0);
    for (int i = 0; i < B; i++) cr_assert_eq((double)got[i], ref_bf16(bf[i]), "BF16[%d]", i);
    const rl_tensor *tq = rl_tensors_get(&ts, "blk.0.attn_q.weight");
    cr_assert_eq(tq->dtype, RL_DT_Q8_0);
    cr_assert_eq(tq->nbytes, Q / 32 * 34);
    cr_assert_eq(rl_tensor_to_f32(tq, got), 0);
    for (int b = 0; b < Q / 32; b++) {
        uint16_t dh;
        memcpy(&dh, tq->data + 34 * b, 2);
        double d = rl_f16_to_f32(dh);
        /* |x - x_hat| <= d/2 (plus x/d's float rounding, 127.5 * 2^-24 * d; see test_formats_dtype) */
        for (int j = 0; j < 32; j++)
            cr_assert(fabs((double)q[32 * b + j] - got[32 * b + j]) <= d / 2 + 127.5 * 0x1p-24 * d, "Q8_0 block %d", b);
    }

    /* re-export from the loaded file (raw bytes, copied metadata): byte-identical output */
    rl_meta_list copy = {0};
    for (int i = 0; i < ts.meta.n; i++) rl_meta_add_copy(&copy, &ts.meta.m[i]);
    rl_write_tensor w2[4];
    for (int i = 0; i < ts.n; i++) {
        w2[i] = (rl_write_tensor){ts.t[i].name, ts.t[i].dtype, ts.t[i].ndim, {0}, NULL, ts.t[i].data};
        memcpy(w2[i].shape, ts.t[i].shape, sizeof w2[i].shape);
    }
    cr_assert_eq(rl_gguf_write(path2, w2, ts.n, &copy), 0, "%s", rl_error());
    char *a, *b2;
    size_t na, nb;
    cr_assert_eq(rl_read_file(path, &a, &na), 0);
    cr_assert_eq(rl_read_file(path2, &b2, &nb), 0);
    cr_assert(na == nb && memcmp(a, b2, na) == 0, "re-exported file differs");
    free(a);
    free(b2);
    rl_meta_list_free(&copy);
    rl_meta_list_free(&meta);
    rl_tensors_free(&ts);
    rt_rmtree(dir);
    free(dir);
}

/* The file stores ne innermost first: a [3, 64] tensor's info reads n_dims 2, ne = {64, 3}. */
Test(formats_gguf, dims_innermost_first_on_disk) {
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/d.gguf", dir);
    static float x[3 * 64];
    rl_write_tensor w = {"t", RL_DT_F32, 2, {3, 64}, x, NULL};
    cr_assert_eq(rl_gguf_write(path, &w, 1, NULL), 0, "%s", rl_error());
    FILE *f = fopen(path, "rb");
    uint8_t hdr[24 + 8 + 1 + 4 + 16 + 4 + 8];
    cr_assert_eq(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
    fclose(f);
    uint32_t nd;
    uint64_t ne0, ne1;
    memcpy(&nd, hdr + 33, 4);
    memcpy(&ne0, hdr + 37, 8);
    memcpy(&ne1, hdr + 45, 8);
    cr_assert(nd == 2 && ne0 == 64 && ne1 == 3, "nd %u ne %llu %llu", nd, (unsigned long long)ne0, (unsigned long long)ne1);
    rt_rmtree(dir);
    free(dir);
}

Test(formats_gguf, writer_refuses_bad_tensors) {
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/w.gguf", dir);
    static float x[48];
    rl_write_tensor q = {"q", RL_DT_Q8_0, 2, {2, 24}, x, NULL};
    cr_assert_eq(rl_gguf_write(path, &q, 1, NULL), -1);
    cr_assert(strstr(rl_error(), "tensor 'q': Q8_0 needs the innermost dimension to be a multiple of 32") != NULL, "%s",
              rl_error());
    rl_write_tensor i8 = {"i", RL_DT_I8, 1, {4}, NULL, x};
    cr_assert_eq(rl_gguf_write(path, &i8, 1, NULL), -1);
    cr_assert(strstr(rl_error(), "dtype I8 is not written to GGUF") != NULL, "%s", rl_error());
    rl_meta_list meta = {0};
    rl_meta_add_u32(&meta, "general.alignment", 48);
    rl_write_tensor ok = {"t", RL_DT_F32, 1, {4}, x, NULL};
    cr_assert_eq(rl_gguf_write(path, &ok, 1, &meta), -1);
    cr_assert(strstr(rl_error(), "general.alignment must be a u32 power of two") != NULL, "%s", rl_error());
    rl_meta_list_free(&meta);
    cr_assert_eq(rl_file_exists(path), 0);
    rt_rmtree(dir);
    free(dir);
}

/* A GGUF that holds a ggml type we do not convert (Q4_K) still loads and lists; converting fails clearly. */
Test(formats_gguf, unconverted_quant_type) {
    tbuf b = {0};
    tb_put(&b, "GGUF", 4);
    tb_u32(&b, 3);
    tb_u64(&b, 1);
    tb_u64(&b, 0);
    tb_str(&b, "blk.0.ffn_down.weight");
    tb_u32(&b, 2);
    tb_u64(&b, 256);
    tb_u64(&b, 2);
    tb_u32(&b, RL_GGML_Q4_K);
    tb_u64(&b, 0);
    tb_align(&b, 32);
    tb_zeros(&b, 2 * 144);
    rl_tensors ts;
    cr_assert_eq(rl_gguf_parse(&ts, b.p, b.n, "q4k.gguf"), 0, "%s", rl_error());
    cr_assert_eq(ts.t[0].dtype, RL_DT_GGML);
    cr_assert_eq(ts.t[0].nbytes, 288);
    float out[512];
    cr_assert_eq(rl_tensor_to_f32(&ts.t[0], out), -1);
    cr_assert(strstr(rl_error(), "ggml type Q4_K to float32 is not supported") != NULL, "%s", rl_error());
    rl_tensors_free(&ts);
    free(b.p);
}

/* ---- hostile files ------------------------------------------------------------------------------ */

static void head(tbuf *b, uint32_t version, uint64_t nt, uint64_t nkv) {
    tb_put(b, "GGUF", 4);
    tb_u32(b, version);
    tb_u64(b, nt);
    tb_u64(b, nkv);
}

static void tinfo(tbuf *b, const char *name, int nd, uint64_t ne0, uint64_t ne1, uint32_t type, uint64_t off) {
    tb_str(b, name);
    tb_u32(b, (uint32_t)nd);
    tb_u64(b, ne0);
    if (nd > 1) tb_u64(b, ne1);
    for (int d = 2; d < nd; d++) tb_u64(b, 1);
    tb_u32(b, type);
    tb_u64(b, off);
}

static void expect_fail(tbuf *b, const char *want) {
    rl_tensors ts;
    int rc = rl_gguf_parse(&ts, b->p, b->n, "bad.gguf");
    if (rc == 0) rl_tensors_free(&ts);
    cr_assert_eq(rc, -1, "accepted; wanted: %s", want);
    cr_assert(strstr(rl_error(), "bad.gguf") != NULL, "no file name: %s", rl_error());
    cr_assert(strstr(rl_error(), want) != NULL, "\n  got:  %s\n  want: %s", rl_error(), want);
    free(b->p);
    *b = (tbuf){0};
}

Test(formats_gguf, hostile_files) {
    tbuf b = {0};
    tb_put(&b, "GGUX", 4);
    tb_zeros(&b, 20);
    expect_fail(&b, "no \"GGUF\" magic at offset 0");
    head(&b, 1, 0, 0);
    expect_fail(&b, "GGUF version 1 (offset 4) is obsolete");
    head(&b, 0x03000000u, 0, 0);
    expect_fail(&b, "big-endian GGUF");
    head(&b, 4, 0, 0);
    expect_fail(&b, "unsupported GGUF version 4 at offset 4");
    tb_put(&b, "GGUF", 4);
    tb_u32(&b, 3);
    tb_u32(&b, 0);
    expect_fail(&b, "tensor count at offset 8 needs 8 bytes but the file ends at 12");
    head(&b, 3, 0, 1ULL << 60);
    expect_fail(&b, "metadata count 1152921504606846976 at offset 16 cannot fit");
    head(&b, 3, 1ULL << 40, 0);
    tb_zeros(&b, 64);
    expect_fail(&b, "tensor count 1099511627776 at offset 8 cannot fit");
    /* metadata */
    head(&b, 3, 0, 1);
    tb_u64(&b, 1000);
    tb_zeros(&b, 20);
    expect_fail(&b, "metadata key #0 at offset 24 has length 1000, beyond the end of the file");
    head(&b, 3, 0, 1);
    tb_str(&b, "");
    tb_u32(&b, RL_META_U8);
    tb_zeros(&b, 8);
    expect_fail(&b, "metadata key #0 at offset 24 is empty");
    head(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, 13);
    tb_zeros(&b, 8);
    expect_fail(&b, "metadata k at offset 33: unknown value type 13");
    head(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, RL_META_STRING);
    tb_u64(&b, 1ULL << 63);
    expect_fail(&b, "metadata k at offset 37 has length 9223372036854775808, beyond the end");
    head(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, RL_META_ARRAY);
    tb_u32(&b, RL_META_U32);
    tb_u64(&b, 1ULL << 62);
    tb_zeros(&b, 16);
    expect_fail(&b, "metadata k at offset 37: 4611686018427387904 elements of u32 go beyond the end of the file");
    head(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, RL_META_ARRAY);
    tb_u32(&b, RL_META_STRING);
    tb_u64(&b, 1ULL << 61);
    tb_zeros(&b, 16);
    expect_fail(&b, "strings cannot fit in the rest of the file");
    head(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, RL_META_ARRAY);
    tb_u32(&b, RL_META_ARRAY);
    tb_u64(&b, 1);
    tb_zeros(&b, 16);
    expect_fail(&b, "arrays of arrays are not supported");
    head(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, RL_META_BOOL);
    tb_u8(&b, 2);
    expect_fail(&b, "metadata k at offset 37: bool value 2 is not 0 or 1");
    head(&b, 3, 0, 2);
    tb_str(&b, "k");
    tb_u32(&b, RL_META_U8);
    tb_u8(&b, 1);
    tb_str(&b, "k");
    tb_u32(&b, RL_META_U8);
    tb_u8(&b, 2);
    expect_fail(&b, "metadata key k appears twice (offsets 24 and 38)");
    head(&b, 3, 0, 1);
    tb_str(&b, "general.alignment");
    tb_u32(&b, RL_META_U64);
    tb_u64(&b, 32);
    expect_fail(&b, "general.alignment has type u64, expected u32");
    head(&b, 3, 0, 1);
    tb_str(&b, "general.alignment");
    tb_u32(&b, RL_META_U32);
    tb_u32(&b, 24);
    expect_fail(&b, "general.alignment = 24 is not a power of two");
    /* tensor infos */
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 5, 4, 4, RL_GGML_F32, 0);
    tb_zeros(&b, 64);
    expect_fail(&b, "tensor 't' at offset 33: 5 dimensions (GGUF allows at most 4)");
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 1, 4, 0, 4, 0);
    tb_zeros(&b, 64);
    expect_fail(&b, "tensor 't' at offset 45: unknown ggml type 4");
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 1, 4, 0, RL_GGML_F32, 4);
    tb_zeros(&b, 64);
    expect_fail(&b, "tensor 't': data offset 4 (field at offset 49) is not a multiple of the alignment 32");
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 2, 16, 0, RL_GGML_Q8_0, 0);
    tb_zeros(&b, 64);
    expect_fail(&b, "row length ne[0] = 16 is not a multiple of Q8_0's block of 32");
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 2, 1ULL << 40, 1ULL << 40, RL_GGML_F32, 0);
    tb_zeros(&b, 64);
    expect_fail(&b, "tensor 't' at offset 33: element count overflows");
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 1, 1000, 0, RL_GGML_F32, 0);
    tb_align(&b, 32);
    tb_zeros(&b, 64);
    expect_fail(&b, "tensor 't': data [0, +4000) at file offset 64 goes beyond the end of the file (128 bytes)");
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 1, 8, 0, RL_GGML_F32, 1ULL << 62);
    tb_align(&b, 32);
    tb_zeros(&b, 64);
    expect_fail(&b, "goes beyond the end of the file");
    head(&b, 3, 2, 0);
    tinfo(&b, "a", 1, 16, 0, RL_GGML_F32, 0);
    tinfo(&b, "b", 1, 8, 0, RL_GGML_F32, 32);
    tb_align(&b, 32);
    tb_zeros(&b, 128);
    expect_fail(&b, "tensor 'b' (data offset 32, 32 bytes) overlaps tensor 'a' (data offset 0, 64 bytes)");
    head(&b, 3, 2, 0);
    tinfo(&b, "a", 1, 8, 0, RL_GGML_F32, 0);
    tinfo(&b, "a", 1, 8, 0, RL_GGML_F32, 32);
    tb_align(&b, 32);
    tb_zeros(&b, 128);
    expect_fail(&b, "duplicate tensor name 'a'");
    head(&b, 3, 1, 0);
    tinfo(&b, "t", 1, 8, 0, RL_GGML_F32, 0);
    expect_fail(&b, "the data section would start at offset 64, beyond the end of the file (57 bytes)");
    /* a valid v2 file is accepted */
    head(&b, 2, 1, 0);
    tinfo(&b, "t", 1, 8, 0, RL_GGML_F32, 0);
    tb_align(&b, 32);
    tb_zeros(&b, 32);
    rl_tensors ts;
    cr_assert_eq(rl_gguf_parse(&ts, b.p, b.n, "v2.gguf"), 0, "%s", rl_error());
    cr_assert_eq(ts.gguf_version, 2);
    rl_tensors_free(&ts);
    free(b.p);
}

/* A GGUF whose header was written by an independent implementation (Hugging Face's
 * @huggingface/gguf 0.4.6, buildGgufHeader, run once by hand on a file of ours to add u8/i8/u16/
 * i16/u64 scalars and f32/u16/bool/string arrays): our reader gets every value and the tensors. */
Test(formats_gguf, reads_header_written_by_huggingface_gguf_js) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/data/hfjs_written.gguf", rt_root());
    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, path), 0, "%s", rl_error());
    int64_t iv;
    double dv;
    cr_assert(rl_tensors_meta_i64(&ts, "x.u8", &iv) == 0 && iv == 250);
    cr_assert(rl_tensors_meta_i64(&ts, "x.i8", &iv) == 0 && iv == -7);
    cr_assert(rl_tensors_meta_i64(&ts, "x.u16", &iv) == 0 && iv == 65535);
    cr_assert(rl_tensors_meta_i64(&ts, "x.i16", &iv) == 0 && iv == -32768);
    cr_assert(rl_tensors_meta_i64(&ts, "x.u64", &iv) == 0 && iv == 12345678901234LL);
    const rl_meta *m = rl_meta_find(&ts.meta, "x.f32arr");
    cr_assert(m && m->elem == RL_META_F32 && m->count == 2);
    cr_assert(rl_meta_arr_f64(m, 1, &dv) == 0 && dv == -2.25);
    m = rl_meta_find(&ts.meta, "x.u16arr");
    cr_assert(m && rl_meta_arr_i64(m, 2, &iv) == 0 && iv == 65535);
    m = rl_meta_find(&ts.meta, "x.boolarr");
    cr_assert(m && rl_meta_arr_i64(m, 0, &iv) == 0 && iv == 1 && rl_meta_arr_i64(m, 1, &iv) == 0 && iv == 0);
    m = rl_meta_find(&ts.meta, "x.strarr");
    const char *s;
    size_t n;
    cr_assert(m && rl_meta_arr_str(m, 0, &s, &n) == 0 && n == 2 && memcmp(s, "\xc3\xa9", 2) == 0);
    cr_assert(rl_meta_arr_str(m, 1, &s, &n) == 0 && n == 0);
    /* tensor values: the seed generator's x[i] = (i % 17) * 0.25 - 2 (exact in every dtype here) */
    const rl_tensor *t = rl_tensors_get(&ts, "token_embd.weight");
    cr_assert(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 4);
    float v[8];
    cr_assert_eq(rl_tensor_to_f32(t, v), 0);
    for (int i = 0; i < 8; i++) cr_assert_eq(v[i], (float)(i % 17) * 0.25f - 2.0f);
    cr_assert_eq(rl_tensor_to_f32(rl_tensors_get(&ts, "output_norm.weight"), v), 0);
    for (int i = 0; i < 3; i++) cr_assert_eq(v[i], (float)(i % 17) * 0.25f - 2.0f);
    rl_tensors_free(&ts);
}
