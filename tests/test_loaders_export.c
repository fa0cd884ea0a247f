/* Export round trips: rl_hf_save and rl_gguf_export, then rl_load_model, give the same logits
 * (max abs difference <= 1e-5 in F32), for every architecture, for p-RoPE (HF "proportional"; GGUF
 * partial rotary over reordered dims), per-layer encodings (ropelab_config), interleaved models, and
 * tokenizers through GGUF vocabularies. Plus the clear refusals of what GGUF cannot express. */
#include "helpers.h"
#include "loaders_helpers.h"
#include "model_ref.h"
#include "ropelab/formats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The round trip changes no weight except by float rounding of 1 + w (norm conventions); the
 * logits move by float32 rounding of re-ordered sums (q/k dims permuted between pair layouts,
 * q/k/v products no longer one matrix): measured at most 2.7e-6 (HF) and 6.2e-6 (GGUF p-RoPE) on
 * these logits of size up to ~5. The bound is 1e-5 absolute. */
#define RT_TOL 1e-5

static rl_model *load(const char *path, rl_loaded *L) {
    cr_assert_eq(rl_load_model(path, NULL, L), 0, "%s: %s", path, rl_error());
    return L->model;
}

static cJSON *read_config(const char *dir) {
    char p[4200], *text;
    size_t len;
    snprintf(p, sizeof p, "%s/config.json", dir);
    cr_assert_eq(rl_read_file(p, &text, &len), 0);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j);
    return j;
}

/* HF export of model m in dtype dt; returns the loaded copy's logit difference to m. */
static double hf_round_trip(rl_model *m, rl_dtype dt, char **dir_out) {
    char *dir = rt_tmpdir();
    cr_assert_eq(rl_hf_save(dir, m, NULL, dt), 0, "%s", rl_error());
    rl_loaded L;
    double d = lt_logit_diff_models(load(dir, &L), m, 12);
    rl_loaded_free(&L);
    if (dir_out) *dir_out = dir;
    else rt_rmtree(dir), free(dir);
    return d;
}

Test(loaders_export, hf_every_architecture) {
    const char *archs[] = {"llama", "mistral", "qwen2", "gemma", "gemma2", "gpt_neox", "llama2c"};
    for (size_t i = 0; i < RL_ARRAY_LEN(archs); i++) {
        rl_model *m = lt_model(archs[i], NULL, 100 + i, 0);
        char *dir;
        double d = hf_round_trip(m, RL_DT_F32, &dir);
        cr_assert(d <= RT_TOL, "%s: HF round trip differs by %g", archs[i], d);
        /* config.json alone (transformers' view) describes the same model, except llama2c's
         * interleaved pairs, which the export turned into Hugging Face's half layout */
        cJSON *j = read_config(dir);
        cr_assert_null(cJSON_GetObjectItem(j, "ropelab_note"), "%s: a plain %s model must be HF-expressible", archs[i],
                       archs[i]);
        char *txt = cJSON_PrintUnformatted(j);
        rl_model_config c;
        cr_assert_eq(rl_hf_config_parse(&c, txt, strlen(txt), "config.json"), 0, "%s: %s", archs[i], rl_error());
        cr_assert(c.d_model == m->cfg.d_model && c.n_kv_heads == m->cfg.n_kv_heads && c.head_dim == m->cfg.head_dim &&
                      c.tie_embeddings == m->cfg.tie_embeddings && c.pe[0].layout == RL_LAYOUT_HALF &&
                      c.pe[0].theta == m->cfg.pe[0].theta && c.sliding_window == m->cfg.sliding_window,
                  "%s: config.json does not describe the model", archs[i]);
        free(txt);
        cJSON_Delete(j);
        rt_rmtree(dir);
        free(dir);
        rl_model_free(m);
    }
}

/* BF16 / F16: exact after rounding the weights to the dtype first. */
Test(loaders_export, hf_half_precision) {
    rl_model *m = lt_model("gemma", NULL, 111, 0);
    lt_round_weights(m, RL_DT_BF16);
    cr_assert(hf_round_trip(m, RL_DT_BF16, NULL) <= RT_TOL);
    rl_model_free(m);
    m = lt_model("llama", NULL, 112, 0);
    lt_round_weights(m, RL_DT_F16);
    cr_assert(hf_round_trip(m, RL_DT_F16, NULL) <= RT_TOL);
    cr_assert_neq(rl_hf_save("/tmp", m, NULL, RL_DT_Q8_0), 0);
    cr_assert(strstr(rl_error(), "Q8_0") && strstr(rl_error(), "F32, F16 or BF16"), "%s", rl_error());
    rl_model_free(m);
}

/* p-RoPE is written as transformers' rope_type "proportional" and read back from config.json
 * alone as the same encoding. */
Test(loaders_export, hf_prope_is_proportional) {
    rl_model *m = lt_model("gemma", "prope:p=0.5,theta=100", 113, 0);
    char *dir;
    cr_assert(hf_round_trip(m, RL_DT_F32, &dir) <= RT_TOL);
    cJSON *j = read_config(dir);
    cJSON *rs = cJSON_GetObjectItem(j, "rope_scaling");
    cr_assert_str_eq(cJSON_GetObjectItem(rs, "rope_type")->valuestring, "proportional");
    cr_assert_eq(cJSON_GetObjectItem(rs, "partial_rotary_factor")->valuedouble, 0.5);
    char *txt = cJSON_PrintUnformatted(j);
    rl_model_config c;
    cr_assert_eq(rl_hf_config_parse(&c, txt, strlen(txt), "config.json"), 0, "%s", rl_error());
    cr_assert(c.pe[0].kind == RL_PE_PROPE && c.pe[0].p == 0.5 && c.pe[0].theta == 100);
    free(txt);
    cJSON_Delete(j);
    rt_rmtree(dir);
    free(dir);
    rl_model_free(m);
}

/* Per-layer encodings and other things no HF key expresses: rope_type "ropelab" (transformers
 * refuses it) plus a note, and ropelab_config restores the exact model. */
Test(loaders_export, hf_per_layer_encodings) {
    rl_model_config c = lt_config("gemma", NULL, 0);
    c.n_layers = 4;
    cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=100;rope:theta=100;prope-rev:p=0.5,theta=100;nope"), 0);
    c.sliding_window = 3; /* Gemma (1) has no window key either */
    memset(c.sliding, 1, sizeof c.sliding);
    rl_model *m = lt_random(&c, 114);
    char *dir;
    cr_assert(hf_round_trip(m, RL_DT_F32, &dir) <= RT_TOL);
    cJSON *j = read_config(dir);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "rope_scaling"), "rope_type")->valuestring, "ropelab");
    cr_assert_not_null(cJSON_GetObjectItem(j, "ropelab_note"));
    cJSON_Delete(j);
    rl_loaded L;
    load(dir, &L);
    char got[512], want[512];
    rl_model_config_pe_string(&L.model->cfg, got, sizeof got);
    rl_model_config_pe_string(&m->cfg, want, sizeof want);
    cr_assert_str_eq(got, want);
    cr_assert_eq(L.model->cfg.sliding_window, 3);
    rl_loaded_free(&L);
    rt_rmtree(dir);
    free(dir);
    rl_model_free(m);
}

/* The trainer's extra metadata travels in the safetensors header. */
Test(loaders_export, hf_extra_metadata) {
    rl_model *m = lt_model("gemma", NULL, 115, 0);
    char *dir = rt_tmpdir(), p[4200];
    rl_meta_list extra = {0};
    rl_meta_add_str(&extra, "ropelab.step", "1200");
    cr_assert_eq(rl_hf_save(dir, m, &extra, RL_DT_F32), 0, "%s", rl_error());
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    rl_tensors ts;
    cr_assert_eq(rl_safetensors_open(&ts, p), 0);
    const char *v;
    cr_assert_eq(rl_tensors_meta_str(&ts, "ropelab.step", &v), 0);
    cr_assert_str_eq(v, "1200");
    cr_assert_eq(rl_tensors_meta_str(&ts, "format", &v), 0, "transformers requires format = pt");
    cr_assert_str_eq(v, "pt");
    rl_tensors_free(&ts);
    rl_meta_list_free(&extra);
    rl_meta_add_u32(&extra, "ropelab.bad", 1);
    cr_assert_neq(rl_hf_save(dir, m, &extra, RL_DT_F32), 0);
    cr_assert(strstr(rl_error(), "ropelab.bad"), "%s", rl_error());
    rl_meta_list_free(&extra);
    rl_model *single = NULL;
    /* a bare model.safetensors of a ropelab checkpoint loads from its metadata alone */
    rl_loaded L;
    cr_assert_eq(rl_load_model(p, NULL, &L), 0, "%s", rl_error());
    single = L.model;
    cr_assert(lt_logit_diff_models(single, m, 9) <= RT_TOL);
    rl_loaded_free(&L);
    rt_rmtree(dir);
    free(dir);
    rl_model_free(m);
}

/* ---- GGUF ----------------------------------------------------------------------------------- */

static double gguf_round_trip(rl_model *m, const rl_tokenizer *tok, rl_dtype dt, rl_loaded *L, char **dir_out) {
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    cr_assert_eq(rl_gguf_export(path, m, tok, dt), 0, "%s", rl_error());
    load(path, L);
    *dir_out = dir;
    return lt_logit_diff_models(L->model, m, 12);
}

Test(loaders_export, gguf_architectures) {
    const char *archs[] = {"llama", "gemma", "qwen2", "llama2c", "gemma2"};
    const char *want[] = {"llama", "gemma", "qwen2", "llama", "gemma2"};
    for (size_t i = 0; i < RL_ARRAY_LEN(archs); i++) {
        rl_model_config c = lt_config(archs[i], NULL, 0);
        c.query_pre_attn_scalar = 0; /* gemma2: llama.cpp's attention scale */
        rl_model *m = lt_random(&c, 120 + i);
        rl_loaded L;
        char *dir;
        double d = gguf_round_trip(m, NULL, RL_DT_F32, &L, &dir);
        cr_assert(d <= RT_TOL, "%s: GGUF round trip differs by %g", archs[i], d);
        char path[4200];
        snprintf(path, sizeof path, "%s/model.gguf", dir);
        rl_tensors ts;
        cr_assert_eq(rl_gguf_open(&ts, path), 0);
        const char *a;
        cr_assert_eq(rl_tensors_meta_str(&ts, "general.architecture", &a), 0);
        cr_assert_str_eq(a, want[i]);
        rl_tensors_free(&ts);
        rl_loaded_free(&L);
        rt_rmtree(dir);
        free(dir);
        rl_model_free(m);
    }
}

/* The llama export permutes q/k rows exactly as convert_hf_to_gguf.py does. */
Test(loaders_export, gguf_llama_rows_as_llama_cpp) {
    rl_model *m = lt_model("llama", NULL, 130, 0);
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    cr_assert_eq(rl_gguf_export(path, m, NULL, RL_DT_F32), 0, "%s", rl_error());
    rl_tensors ts;
    cr_assert_eq(rl_gguf_open(&ts, path), 0);
    const rl_model_config *c = &m->cfg;
    float *want = malloc((size_t)c->n_kv_heads * c->head_dim * c->d_model * sizeof *want);
    lt_gguf_permute(want, m->p.layer[1].wk, c->n_kv_heads, c->head_dim, c->d_model);
    const rl_tensor *t = rl_tensors_get(&ts, "blk.1.attn_k.weight");
    cr_assert_not_null(t);
    cr_assert_eq(memcmp(t->data, want, t->nbytes), 0, "blk.1.attn_k.weight rows are not llama.cpp's permutation");
    free(want);
    rl_tensors_free(&ts);
    rt_rmtree(dir);
    free(dir);
    rl_model_free(m);
}

/* p-RoPE (and reversed p-RoPE) through llama.cpp's partial rotary: the kept chunks are moved to the
 * front, n_rot = 2m, base theta^(2m/d) (reversed: and a linear factor), the same logits. */
Test(loaders_export, gguf_prope_as_partial_rotary) {
    const char *specs[] = {"prope:p=0.5,theta=100", "prope:p=0.75,theta=100", "prope-rev:p=0.5,theta=100",
                           "partial:p=0.5,theta=100", "rope:theta=100+linear:factor=2"};
    for (size_t i = 0; i < RL_ARRAY_LEN(specs); i++) {
        rl_model *m = lt_model("gemma", specs[i], 140 + i, 1); /* hd 8: 4 chunks */
        rl_loaded L;
        char *dir;
        double d = gguf_round_trip(m, NULL, RL_DT_F32, &L, &dir);
        cr_assert(d <= RT_TOL, "%s: GGUF round trip differs by %g", specs[i], d);
        rl_loaded_free(&L);
        rt_rmtree(dir);
        free(dir);
        rl_model_free(m);
    }
}

Test(loaders_export, gguf_llama3_scaling_rope_freqs) {
    rl_model *m = lt_model("llama", "rope:theta=10000+llama3:factor=8,original=16", 150, 0);
    rl_loaded L;
    char *dir;
    cr_assert(gguf_round_trip(m, NULL, RL_DT_F32, &L, &dir) <= RT_TOL);
    cr_assert_eq(L.model->cfg.pe[0].scale, RL_SCALE_LLAMA3, "rope_freqs read back as Llama 3 scaling");
    rl_loaded_free(&L);
    rt_rmtree(dir);
    free(dir);
    rl_model_free(m);
}

/* Q8_0 / F16 exports: exact after rounding the weights as the file stores them. */
Test(loaders_export, gguf_q8_0_f16) {
    rl_dtype dts[] = {RL_DT_Q8_0, RL_DT_F16};
    for (int k = 0; k < 2; k++) {
        rl_model *m = lt_model("llama", NULL, 160 + k, 1);
        lt_round_weights(m, dts[k]);
        /* (wide fixture: every matrix row is whole Q8_0 blocks, none falls back to F16) */
        rl_loaded L;
        char *dir;
        double d = gguf_round_trip(m, NULL, dts[k], &L, &dir);
        cr_assert(d <= RT_TOL, "%s: %g", rl_dtype_name(dts[k]), d);
        rl_loaded_free(&L);
        rt_rmtree(dir);
        free(dir);
        rl_model_free(m);
    }
}

/* What llama.cpp would compute differently is refused, naming the reason. */
Test(loaders_export, gguf_refusals) {
    struct {
        const char *arch, *pe, *msg;
    } cases[] = {
        {"gemma", "rope:theta=100;nope;rope:theta=100", "different positional encodings"},
        {"gemma", "nope", "NoPE"},
        {"llama", "prope:p=0.5,theta=100", "rotates the whole head"},
        {"gpt_neox", NULL, "architectures"},
        {"llama", "rope:theta=100+dynamic:factor=2,original=8", "dynamic"},
        {"mistral", NULL, "sliding window"},
    };
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/x.gguf", dir);
    for (size_t i = 0; i < RL_ARRAY_LEN(cases); i++) {
        rl_model *m = lt_model(cases[i].arch, cases[i].pe, 170 + i, 0);
        cr_assert_neq(rl_gguf_export(path, m, NULL, RL_DT_F32), 0, "%s %s must be refused", cases[i].arch,
                      cases[i].pe ? cases[i].pe : "");
        cr_assert(strstr(rl_error(), cases[i].msg) && strstr(rl_error(), path), "%s", rl_error());
        cr_assert(!rl_file_exists(path), "no partial file");
        rl_model_free(m);
    }
    rl_model_config c = lt_config("gemma", NULL, 0);
    c.tie_embeddings = 0;
    rl_model *u = lt_random(&c, 180);
    cr_assert_neq(rl_gguf_export(path, u, NULL, RL_DT_F32), 0);
    cr_assert(strstr(rl_error(), "ties the output head"), "%s", rl_error());
    rl_model_free(u);
    rt_rmtree(dir);
    free(dir);
}

/* Tokenizers through GGUF vocabularies encode every text to the same ids: ropelab's BPE (as
 * "gpt2") and llama2.c's sentencepiece (as "llama"). */
static void same_encoding(const rl_tokenizer *a, const rl_tokenizer *b) {
    const char *texts[] = {"Once upon a time, there was a little girl.", "  two  spaces, tabs\tand\nlines 12345!",
                           "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "<|bos|> special?"};
    for (size_t i = 0; i < RL_ARRAY_LEN(texts); i++) {
        rl_ids x = {0}, y = {0};
        cr_assert_eq(rl_tok_encode(a, texts[i], strlen(texts[i]), RL_ENC_BOS, &x), 0, "%s", rl_error());
        cr_assert_eq(rl_tok_encode(b, texts[i], strlen(texts[i]), RL_ENC_BOS, &y), 0, "%s", rl_error());
        cr_assert_eq(x.n, y.n, "text %zu: %lld vs %lld ids", i, (long long)x.n, (long long)y.n);
        for (int64_t k = 0; k < x.n; k++) cr_assert_eq(x.v[k], y.v[k], "text %zu id %lld", i, (long long)k);
        free(x.v), free(y.v);
    }
}

Test(loaders_export, gguf_tokenizers) {
    const char *docs[] = {"Once upon a time, there was a little girl named Lily. She liked to play.",
                          "The little dog ran to the park and played with a ball. The girl was happy."};
    size_t lens[] = {strlen(docs[0]), strlen(docs[1])};
    rl_tokenizer *bpe = rl_bpe_train(docs, lens, 2, 300, 0);
    cr_assert_not_null(bpe, "%s", rl_error());
    rl_model_config c = lt_config("gemma", NULL, 0);
    c.vocab_size = 320; /* more rows than tokens: the export pads with unused tokens */
    rl_model *m = lt_random(&c, 190);
    rl_loaded L;
    char *dir;
    cr_assert(gguf_round_trip(m, bpe, RL_DT_F32, &L, &dir) <= RT_TOL);
    cr_assert_not_null(L.tok);
    cr_assert_eq(rl_tok_vocab_size(L.tok), 320);
    same_encoding(bpe, L.tok);
    rl_loaded_free(&L);
    rt_rmtree(dir);
    free(dir);
    rl_model_free(m);
    rl_tok_free(bpe);
}

Test(loaders_export, gguf_llama2c_tokenizer) {
    RT_REQUIRE_MODELS();
    char bin[4200], tokp[4200];
    snprintf(bin, sizeof bin, "%s/stories260K.bin", rt_models_dir());
    snprintf(tokp, sizeof tokp, "%s/tok512.bin", rt_models_dir());
    rl_loaded S, L;
    cr_assert_eq(rl_load_model(bin, tokp, &S), 0, "%s", rl_error());
    char *dir;
    cr_assert(gguf_round_trip(S.model, S.tok, RL_DT_F32, &L, &dir) <= RT_TOL, "stories260K through GGUF");
    same_encoding(S.tok, L.tok);
    rl_loaded_free(&L);
    rt_rmtree(dir);
    free(dir);
    /* and through Hugging Face: interleaved pairs become the half layout */
    cr_assert(hf_round_trip(S.model, RL_DT_F32, NULL) <= RT_TOL, "stories260K through HF");
    rl_loaded_free(&S);
}

/* ---- the CLI -------------------------------------------------------------------------------- */

/* `ropelab export` of a ropelab checkpoint folder (weights + tokenizer.bin) to both formats. */
Test(loaders_export, cli) {
    const char *docs[] = {"one two three four five six seven eight nine ten eleven twelve"};
    size_t lens[] = {strlen(docs[0])};
    rl_tokenizer *bpe = rl_bpe_train(docs, lens, 1, 262, 0);
    cr_assert_not_null(bpe, "%s", rl_error());
    rl_model_config c = lt_config("gemma", "prope:p=0.5,theta=100", 1);
    c.vocab_size = 262;
    rl_model *m = lt_random(&c, 200);
    char *dir = rt_tmpdir(), ck[4200], p[4400], args[9000], *out;
    snprintf(ck, sizeof ck, "%s/ckpt", dir);
    cr_assert_eq(rl_mkdirs(ck), 0);
    cr_assert_eq(rl_hf_save(ck, m, NULL, RL_DT_F32), 0, "%s", rl_error());
    snprintf(p, sizeof p, "%s/tokenizer.bin", ck);
    cr_assert_eq(rl_tok_save(bpe, p), 0, "%s", rl_error());
    /* to a Hugging Face folder in BF16: the tokenizer file comes along */
    snprintf(args, sizeof args, "export '%s' --hf '%s/hf' --dtype bf16", ck, dir);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "wrote") && strstr(out, "bf16"), "%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/hf", dir);
    rl_loaded L;
    cr_assert_eq(rl_load_model(p, NULL, &L), 0, "%s", rl_error());
    cr_assert_not_null(L.tok, "tokenizer.bin copied into the export");
    lt_round_weights(m, RL_DT_BF16);
    cr_assert(lt_logit_diff_models(L.model, m, 10) <= RT_TOL);
    rl_loaded_free(&L);
    /* to GGUF in Q8_0, with the vocabulary: p-RoPE becomes llama.cpp partial rotary */
    snprintf(args, sizeof args, "export '%s' --gguf '%s/m.gguf' --dtype q8_0", ck, dir);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    cr_assert_eq(rl_load_model(p, NULL, &L), 0, "%s", rl_error());
    cr_assert_eq(L.model->cfg.pe[0].kind, RL_PE_PARTIAL);
    cr_assert_not_null(L.tok);
    same_encoding(bpe, L.tok);
    rl_loaded_free(&L);
    /* usage and runtime errors */
    snprintf(args, sizeof args, "export '%s' --hf '%s/x' --dtype q8_0", ck, dir);
    cr_assert_eq(rt_run_tool(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "q8_0 is GGUF only"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "export '%s' --hf a --gguf b", ck);
    cr_assert_eq(rt_run_tool(args, &out), 2, "%s", out);
    free(out);
    snprintf(args, sizeof args, "export '%s/missing' --hf '%s/x'", dir, dir);
    cr_assert_eq(rt_run_tool(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "missing") && strstr(out, "No such file"), "%s", out);
    free(out);
    rl_tok_free(bpe);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

/* The trainer's checkpoints: the reference training model (rl_model_config_default) saved with
 * rl_hf_save comes back with the identical config JSON and bit-identical weights. */
Test(loaders_export, trainer_checkpoint_exact) {
    rl_model_config c;
    rl_model_config_default(&c);
    cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=10000;rope:theta=10000;prope:p=0.75,theta=10000"), 0);
    rl_model *m = rl_model_new(&c, 1);
    rl_model_init_weights(m, 7);
    char *dir = rt_tmpdir();
    cr_assert_eq(rl_hf_save(dir, m, NULL, RL_DT_F32), 0, "%s", rl_error());
    rl_loaded L;
    cr_assert_eq(rl_load_model(dir, NULL, &L), 0, "%s", rl_error());
    char *a = rl_model_config_to_json(&m->cfg), *b = rl_model_config_to_json(&L.model->cfg);
    cr_assert_str_eq(a, b);
    for (int i = 0; i < m->n_tensors; i++)
        cr_assert_eq(memcmp(*m->table[i].slot, *L.model->table[i].slot, m->table[i].numel * sizeof(float)), 0, "%s",
                     m->table[i].name);
    free(a), free(b);
    rl_loaded_free(&L);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}
