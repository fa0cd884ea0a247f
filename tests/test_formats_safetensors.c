/* formats: safetensors write -> read round trips, sharded folders, and the hostile-file table. */
#include "formats_helpers.h"
#include "helpers.h"
#include "ropelab/formats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

/* Random values over many magnitudes, with a few exact ties and subnormals for F16/BF16. */
static void fill(float *x, int n, uint64_t seed) {
    rl_rng r;
    rl_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) x[i] = (float)(rl_rng_normal(&r) * ldexp(1.0, (int)rl_rng_below(&r, 30) - 20));
    if (n > 4) {
        x[0] = 1.0f + 0x1p-11f; /* F16 tie -> 1.0 */
        x[1] = 0x1p-20f;        /* F16 subnormal */
        x[2] = -0.0f;
        x[3] = 65504.0f;
    }
}

/* Compares a read-back tensor with the float64 rounding reference of the written values: exact
 * (tolerance 0), because F16/BF16 conversion is a correctly rounded operation. */
static void check_values(const rl_tensor *t, const float *src, int n) {
    float *got = malloc((size_t)n * sizeof *got);
    cr_assert_eq(rl_tensor_to_f32(t, got), 0, "%s", rl_error());
    for (int i = 0; i < n; i++) {
        double want = t->dtype == RL_DT_F16 ? ref_f16(src[i]) : t->dtype == RL_DT_BF16 ? ref_bf16(src[i]) : src[i];
        cr_assert_eq((double)got[i], want, "%s[%d]: got %a want %a (from %a)", t->name, i, got[i], want, src[i]);
    }
    free(got);
}

Test(formats_safetensors, round_trip_every_dtype) {
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    enum { A = 6 * 5, B = 7, C = 64 };
    static float a[A], b[B], c[C];
    fill(a, A, 1);
    fill(b, B, 2);
    fill(c, C, 3);
    int64_t ids[3] = {1, -2, 1LL << 40};
    uint8_t mask[5] = {0, 1, 2, 254, 255};
    rl_write_tensor w[] = {
        {"model.layers.0.self_attn.q_proj.weight", RL_DT_F16, 2, {6, 5}, a, NULL},
        {"b.bias", RL_DT_BF16, 1, {7}, b, NULL},
        {"c", RL_DT_F32, 3, {2, 4, 8}, c, NULL},
        {"ids", RL_DT_I64, 1, {3}, NULL, ids},
        {"mask", RL_DT_U8, 1, {5}, NULL, mask},
        {"scalar", RL_DT_F32, 0, {0}, c, NULL},
        {"empty", RL_DT_F32, 2, {0, 3}, NULL, NULL},
    };
    rl_meta_list meta = {0};
    rl_meta_add_str(&meta, "format", "pt");
    rl_meta_add_str(&meta, "ropelab.note", "quote \" and newline \n");
    cr_assert_eq(rl_safetensors_write(path, w, (int)RL_ARRAY_LEN(w), &meta), 0, "%s", rl_error());
    rl_meta_list_free(&meta);

    /* the header as the safetensors library writes it: length % 8 == 0, padded with spaces */
    char *raw;
    size_t len;
    cr_assert_eq(rl_read_file(path, &raw, &len), 0);
    uint64_t hl;
    memcpy(&hl, raw, 8);
    cr_assert_eq(hl % 8, 0, "header length %llu", (unsigned long long)hl);
    cJSON *h = cJSON_ParseWithLength(raw + 8, hl);
    cr_assert_not_null(h);
    char *printed = cJSON_PrintUnformatted(h);
    size_t jl = strlen(printed); /* the JSON proper; the rest of the header must be spaces */
    free(printed);
    cr_assert(jl <= hl && hl - jl < 8, "json %zu header %llu", jl, (unsigned long long)hl);
    for (size_t i = 8 + jl; i < 8 + hl; i++) cr_assert_eq(raw[i], ' ', "padding byte %zu", i);
    /* order: element size descending, then name; so every tensor starts aligned to its size */
    const char *order[] = {"ids", "c", "scalar", "b.bias", "model.layers.0.self_attn.q_proj.weight", "mask"};
    uint64_t prev = 0;
    for (size_t i = 0; i < RL_ARRAY_LEN(order); i++) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(h, order[i]);
        cr_assert_not_null(e, "%s", order[i]);
        uint64_t off = (uint64_t)cJSON_GetArrayItem(cJSON_GetObjectItem(e, "data_offsets"), 0)->valuedouble;
        cr_assert(off >= prev, "%s out of order", order[i]);
        prev = off;
    }
    cJSON_Delete(h);
    free(raw);

    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, path), 0, "%s", rl_error());
    cr_assert_eq(ts.format, RL_FMT_SAFETENSORS);
    cr_assert_eq(ts.n, 7);
    const char *s;
    cr_assert_eq(rl_tensors_meta_str(&ts, "ropelab.note", &s), 0);
    cr_assert_str_eq(s, "quote \" and newline \n");
    const rl_tensor *t = rl_tensors_get(&ts, "model.layers.0.self_attn.q_proj.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 6);
    cr_assert_eq(t->shape[1], 5);
    check_values(t, a, A);
    check_values(rl_tensors_get(&ts, "b.bias"), b, B);
    check_values(rl_tensors_get(&ts, "c"), c, C);
    for (int i = 0; i < ts.n; i++) {
        size_t es = rl_dtype_size(ts.t[i].dtype);
        cr_assert_eq((ts.t[i].offset) % es, 0, "%s misaligned", ts.t[i].name);
    }
    float f[3];
    cr_assert_eq(rl_tensor_to_f32(rl_tensors_get(&ts, "ids"), f), 0);
    cr_assert_eq(f[0], 1.0f);
    cr_assert_eq(f[1], -2.0f);
    cr_assert_eq(f[2], 0x1p40f);
    const rl_tensor *sc = rl_tensors_get(&ts, "scalar");
    cr_assert_eq(sc->ndim, 0);
    cr_assert_eq(sc->numel, 1);
    cr_assert_eq(rl_tensors_get(&ts, "empty")->numel, 0);
    cr_assert_null(rl_tensors_find(&ts, "nope"));
    /* shape-checked load: the message names tensor, expected and actual shapes */
    float buf[64];
    int64_t want[2] = {5, 6};
    cr_assert_eq(rl_tensors_load_f32(&ts, "model.layers.0.self_attn.q_proj.weight", 2, want, buf), -1);
    cr_assert(strstr(rl_error(), "has shape [6, 5], expected [5, 6]") != NULL, "%s", rl_error());
    int64_t cs[3] = {2, 4, 8};
    cr_assert_eq(rl_tensors_load_f32(&ts, "c", 3, cs, buf), 0);
    cr_assert_eq(memcmp(buf, c, sizeof c), 0);
    rl_tensors_free(&ts);
    rt_rmtree(dir);
    free(dir);
}

Test(formats_safetensors, writer_refuses_bad_tensors) {
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    float big[2] = {1.0f, 70000.0f};
    rl_write_tensor over = {"w", RL_DT_F16, 1, {2}, big, NULL};
    cr_assert_eq(rl_safetensors_write(path, &over, 1, NULL), -1);
    cr_assert(strstr(rl_error(), "tensor 'w' element 1 = 70000 overflows F16") != NULL, "%s", rl_error());
    cr_assert_eq(rl_file_exists(path), 0, "no partial file left");
    rl_write_tensor dup[2] = {{"w", RL_DT_F32, 1, {1}, big, NULL}, {"w", RL_DT_F32, 1, {1}, big, NULL}};
    cr_assert_eq(rl_safetensors_write(path, dup, 2, NULL), -1);
    cr_assert(strstr(rl_error(), "'w' given twice") != NULL, "%s", rl_error());
    rl_write_tensor q = {"w", RL_DT_Q8_0, 1, {32}, big, NULL};
    cr_assert_eq(rl_safetensors_write(path, &q, 1, NULL), -1);
    cr_assert(strstr(rl_error(), "Q8_0 cannot be stored in safetensors") != NULL, "%s", rl_error());
    rl_meta_list meta = {0};
    rl_meta_add_u32(&meta, "n", 3);
    rl_write_tensor ok = {"w", RL_DT_F32, 1, {2}, big, NULL};
    cr_assert_eq(rl_safetensors_write(path, &ok, 1, &meta), -1);
    cr_assert(strstr(rl_error(), "metadata n has type u32") != NULL, "%s", rl_error());
    rl_meta_list_free(&meta);
    rt_rmtree(dir);
    free(dir);
}

Test(formats_safetensors, sharded_folder) {
    char *dir = rt_tmpdir(), sub[4200], p[4300];
    snprintf(sub, sizeof sub, "%s/hf", dir);
    enum { L = 5, D = 16 };
    static float x[L][D * D];
    rl_write_tensor w[L + 1];
    char names[L + 1][64];
    for (int l = 0; l < L; l++) {
        fill(x[l], D * D, 100 + (uint64_t)l);
        snprintf(names[l], sizeof names[l], "model.layers.%d.mlp.down_proj.weight", l);
        w[l] = (rl_write_tensor){names[l], RL_DT_BF16, 2, {D, D}, x[l], NULL};
    }
    snprintf(names[L], sizeof names[L], "model.norm.weight");
    w[L] = (rl_write_tensor){names[L], RL_DT_F32, 1, {D}, x[0], NULL};
    /* 2 tensors of 512 bytes per shard */
    cr_assert_eq(rl_safetensors_write_dir(sub, w, L + 1, NULL, 1100), 0, "%s", rl_error());
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", sub);
    cr_assert(rl_file_exists(p));
    snprintf(p, sizeof p, "%s/model-00001-of-00003.safetensors", sub);
    cr_assert(rl_file_exists(p), "3 shards expected");
    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, sub), 0, "%s", rl_error());
    cr_assert_eq(ts.format, RL_FMT_SAFETENSORS_SHARDED);
    cr_assert_eq(ts.n_files, 3);
    cr_assert_eq(ts.n, L + 1);
    for (int l = 0; l < L; l++) check_values(rl_tensors_get(&ts, names[l]), x[l], D * D);
    check_values(rl_tensors_get(&ts, names[L]), x[0], D);
    rl_tensors_free(&ts);
    /* rewriting as one file removes the stale index, so loaders do not pick old shards */
    cr_assert_eq(rl_safetensors_write_dir(sub, w, L + 1, NULL, 1 << 30), 0, "%s", rl_error());
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", sub);
    cr_assert_eq(rl_file_exists(p), 0);
    cr_assert_eq(rl_tensors_open(&ts, sub), 0, "%s", rl_error());
    cr_assert_eq(ts.format, RL_FMT_SAFETENSORS);
    rl_tensors_free(&ts);
    rt_rmtree(dir);
    free(dir);
}

/* ---- hostile files ------------------------------------------------------------------------------ */

/* A safetensors image from a JSON header and `data_len` data bytes (header length as given, or
 * the real one when hl == 0). */
static tbuf st_image(const char *json, uint64_t hl, size_t data_len) {
    tbuf b = {0};
    tb_u64(&b, hl ? hl : strlen(json));
    tb_put(&b, json, strlen(json));
    tb_zeros(&b, data_len);
    return b;
}

static void expect_st_fail(const char *json, uint64_t hl, size_t data_len, const char *want) {
    tbuf b = st_image(json, hl, data_len);
    rl_tensors ts;
    int rc = rl_safetensors_parse(&ts, b.p, b.n, "bad.safetensors");
    cr_assert_eq(rc, -1, "accepted: %s", json);
    cr_assert(strstr(rl_error(), "bad.safetensors") != NULL, "no file name in: %s", rl_error());
    cr_assert(strstr(rl_error(), want) != NULL, "for %s\n  got:  %s\n  want: %s", json, rl_error(), want);
    free(b.p);
}

Test(formats_safetensors, hostile_headers) {
    rl_tensors ts;
    uint8_t tiny[5] = {1, 2, 3, 4, 5};
    cr_assert_eq(rl_safetensors_parse(&ts, tiny, 5, "bad.safetensors"), -1);
    cr_assert(strstr(rl_error(), "bad.safetensors: file is 5 bytes, shorter than the 8-byte") != NULL, "%s", rl_error());

    const char *ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    expect_st_fail(ok, 1ULL << 40, 16, "header length 1099511627776 at offset 0 is absurd");
    expect_st_fail(ok, 5000, 16, "header length 5000 at offset 0 goes beyond the end of the file");
    expect_st_fail("[1,2,3]", 0, 0, "does not start with '{'");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",}", 0, 0, "malformed JSON header near file offset");
    expect_st_fail("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "tensor 'w': missing field dtype");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 0, 4, "tensor 'w': missing field shape");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, 4, "tensor 'w': missing field data_offsets");
    expect_st_fail("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "field dtype is not a string");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 0, 4, "field shape is not an array");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 0, 4,
                   "tensor 'w': shape[0] is not a non-negative integer");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 0, 4, "shape[0] is not a non-negative");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 0, 4, "data_offsets is not an array of two");
    expect_st_fail("{\"w\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "tensor 'w': unknown dtype 'F7'");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 0, 12,
                   "tensor 'w': shape [2, 2] x F32 = 16 bytes but data_offsets [0, 12] span 12 bytes");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0, 8,
                   "tensor 'w': data_offsets [0, 16] (file offset");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 0, 8, "end before they begin");
    expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12,
                   "tensor 'b' data_offsets [4, 12] overlap tensor 'a'");
    expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "duplicate tensor name 'a'");
    expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "4 unused bytes before tensor 'a'");
    expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 12, "8 trailing bytes after the last");
    expect_st_fail("{\"__metadata__\":{\"n\":3}}", 0, 0, "__metadata__ value of 'n' is not a string");
    expect_st_fail("{\"__metadata__\":[1]}", 0, 0, "__metadata__ is not a JSON object");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 0, 4, "9 dimensions");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 0, 4,
                   "tensor 'w': shape overflows");
    expect_st_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 0, 4, "unexpected byte 0x78");
    /* names a C string cannot hold exactly (found by the round-trip fuzzer) */
    expect_st_fail("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
                   "JSON string with a \\u0000 (NUL) escape at file offset 11");
    expect_st_fail("{\"a\x01\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
                   "raw control byte 0x01 inside a JSON string at file offset 11");
    expect_st_fail("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "a tensor has an empty name");
    /* a file without tensors is valid (found by the round-trip fuzzer: an empty list was memcpy'd from NULL) */
    tbuf b = st_image("{}", 0, 0);
    cr_assert_eq(rl_safetensors_parse(&ts, b.p, b.n, "empty.safetensors"), 0, "%s", rl_error());
    cr_assert_eq(ts.n, 0);
    rl_tensors_free(&ts);
    free(b.p);
    /* and the valid one loads */
    b = st_image(ok, 0, 16);
    cr_assert_eq(rl_safetensors_parse(&ts, b.p, b.n, "ok.safetensors"), 0, "%s", rl_error());
    rl_tensors_free(&ts);
    free(b.p);
}

/* Index files that disagree with their shards, or point outside the folder. */
Test(formats_safetensors, hostile_index) {
    char *dir = rt_tmpdir(), p[4200];
    float v[4] = {1, 2, 3, 4};
    rl_write_tensor w[2] = {{"a", RL_DT_F32, 1, {2}, v, NULL}, {"b", RL_DT_F32, 1, {2}, v + 2, NULL}};
    snprintf(p, sizeof p, "%s/s1.safetensors", dir);
    cr_assert_eq(rl_safetensors_write(p, w, 2, NULL), 0, "%s", rl_error());
    struct { const char *json, *want; } cases[] = {
        {"{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s1.safetensors\"}}",
         "tensor 'c' is listed for shard s1.safetensors but missing from it"},
        {"{\"weight_map\":{\"a\":\"s1.safetensors\"}}", "shard s1.safetensors holds tensor 'b' (file offset"},
        {"{\"weight_map\":{\"a\":\"../s1.safetensors\"}}", "shard '../s1.safetensors' is not a plain file name"},
        {"{\"weight_map\":{\"a\":\"s2.safetensors\"}}", "shard s2.safetensors: "},
        {"{\"weight_map\":{\"a\":\"s1.safetensors\",", "malformed JSON near offset"},
        {"{\"weight_map\":[]}", "weight_map is not a JSON object"},
        {"{\"metadata\":{}}", "missing field weight_map"},
        {"{\"weight_map\":{\"a\":1}}", "weight_map entry 'a' is not a string"},
        {"{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}", "lists tensor 'a' twice"},
        {"{\"weight_map\":{}}", "weight_map is empty"},
        {"{\"weight_map\":{\"a\\u0000\":\"s1.safetensors\"}}", "\\u0000 (NUL) escape at file offset 17"},
        {"{\"weight_map\":{\"\":\"s1.safetensors\"}}", "an entry with an empty tensor name"},
    };
    char ip[4300];
    snprintf(ip, sizeof ip, "%s/model.safetensors.index.json", dir);
    for (size_t i = 0; i < RL_ARRAY_LEN(cases); i++) {
        cr_assert_eq(rl_write_atomic(ip, cases[i].json, strlen(cases[i].json)), 0);
        rl_tensors ts;
        cr_assert_eq(rl_tensors_open(&ts, dir), -1, "accepted %s", cases[i].json);
        cr_assert(strstr(rl_error(), "model.safetensors.index.json") != NULL, "%s", rl_error());
        cr_assert(strstr(rl_error(), cases[i].want) != NULL, "case %zu\n  got:  %s\n  want: %s", i, rl_error(), cases[i].want);
    }
    const char *good = "{\"metadata\":{\"total_size\":16},\"weight_map\":{\"b\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}";
    cr_assert_eq(rl_write_atomic(ip, good, strlen(good)), 0);
    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, ip), 0, "%s", rl_error());
    cr_assert_eq(ts.n, 2);
    rl_tensors_free(&ts);
    rt_rmtree(dir);
    free(dir);
}

/* `ropelab inspect`: lists every tensor with dtype/shape/offset, --json parses, bad files exit 1. */
Test(formats_safetensors, inspect_cli) {
    char *dir = rt_tmpdir(), p[4200], args[4400];
    float v[6] = {1, 2, 3, 4, 5, 6};
    rl_write_tensor w[1] = {{"model.embed_tokens.weight", RL_DT_BF16, 2, {3, 2}, v, NULL}};
    snprintf(p, sizeof p, "%s/m.safetensors", dir);
    cr_assert_eq(rl_safetensors_write(p, w, 1, NULL), 0);
    char *out;
    snprintf(args, sizeof args, "inspect '%s'", p);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "format safetensors") != NULL, "%s", out);
    cr_assert(strstr(out, "model.embed_tokens.weight") && strstr(out, "BF16") && strstr(out, "[3, 2]"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "inspect --json '%s' 2>/dev/null", p);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "not JSON: %s", out);
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tensors"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(t0, "dtype")->valuestring, "BF16");
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(t0, "shape"), 0)->valuedouble, 3);
    cr_assert_eq(cJSON_GetObjectItem(t0, "nbytes")->valuedouble, 12);
    cJSON_Delete(j);
    free(out);
    /* truncate the file by 2 bytes: exit 1 and a message naming the file */
    snprintf(args, sizeof args, "truncate -s -2 '%s'", p);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args, "inspect '%s'", p);
    cr_assert_eq(rt_run_tool(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "m.safetensors") && strstr(out, "model.embed_tokens.weight"), "%s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}

/* `ropelab inspect RUN_DIR` on a trainer's run folder (no config.json, `checkpoint` linking the newest
 * ckpt-NNNNNNN folder) shows that checkpoint, named by its resolved path, through the same
 * rl_run_checkpoint as rl_load_model; a folder with neither is still an error naming the missing
 * files, and a dangling link an error naming the link. */
Test(formats_safetensors, inspect_run_folder) {
    char *dir = rt_tmpdir(), p[4200], args[4400];
    float v[2] = {1, 2};
    rl_write_tensor w[1] = {{"model.norm.weight", RL_DT_F32, 1, {2}, v, NULL}};
    snprintf(p, sizeof p, "%s/ckpt-0000007", dir);
    cr_assert_eq(rl_mkdirs(p), 0);
    snprintf(p, sizeof p, "%s/ckpt-0000007/model.safetensors", dir);
    cr_assert_eq(rl_safetensors_write(p, w, 1, NULL), 0);
    char *out;
    snprintf(args, sizeof args, "inspect '%s'", dir);
    cr_assert_eq(rt_run_tool(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "no model.safetensors") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args, "ln -s ckpt-0000007 '%s/checkpoint'", dir);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args, "inspect '%s'", dir);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "# /") && strstr(out, "/ckpt-0000007\n") && strstr(out, "model.norm.weight"), "%s", out);
    free(out);
    /* a dangling link (no complete checkpoint yet): exit 1 with the link named */
    snprintf(args, sizeof args, "rm -r '%s/ckpt-0000007'", dir);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args, "inspect '%s'", dir);
    cr_assert_eq(rt_run_tool(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "/checkpoint") && strstr(out, "points nowhere"), "%s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}
