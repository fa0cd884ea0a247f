/* model config: presets, the per-layer encoding rule, JSON round trips and error messages. */
#include "helpers.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <stdlib.h>
#include <string.h>

Test(model_config, default_is_the_reference_model) {
    rl_model_config c;
    rl_model_config_default(&c);
    cr_assert_eq(rl_model_config_validate(&c), 0, "%s", rl_error());
    cr_assert_eq(c.vocab_size, 4096);
    cr_assert_eq(c.d_model, 256);
    cr_assert_eq(c.n_layers, 6);
    cr_assert_eq(c.n_heads, 4);
    cr_assert_eq(c.n_kv_heads, 1);
    cr_assert_eq(c.head_dim, 64);
    cr_assert_eq(c.d_ff, 1024);
    cr_assert_eq(c.max_seq, 256);
    cr_assert(c.tie_embeddings && c.norm_plus_one && c.mlp == RL_MLP_GEGLU);
    cr_assert_float_eq(rl_model_embed_scale(&c), 16.0f, 0);
    cr_assert_float_eq(rl_model_attn_scale(&c), 0.125f, 0);
    cr_assert_eq(rl_model_config_check_trainable(&c), 0);
    /* V D + L (2 D + QKV D + D H hd + 3 D F) + D, QKV = (4 + 2) 64 */
    cr_assert_eq(rl_model_n_params(&c), (size_t)4096 * 256 + 6 * (512 + 384 * 256 + 256 * 256 + 3 * 256 * 1024) + 256);
}

Test(model_config, presets_and_hugging_face_names) {
    rl_model_config c;
    rl_arch a;
    cr_assert_eq(rl_arch_from_name("Gemma2ForCausalLM", &a), 0);
    cr_assert_eq(a, RL_ARCH_GEMMA2);
    cr_assert_eq(rl_model_config_preset(&c, "GPTNeoXForCausalLM"), 0);
    cr_assert(c.fused_qkv && c.parallel_residual && c.norm == RL_NORM_LAYER && c.mlp == RL_MLP_GELU);
    cr_assert_eq(c.pe[0].kind, RL_PE_PARTIAL);
    cr_assert_eq(rl_model_config_validate(&c), 0, "%s", rl_error());
    cr_assert_neq(rl_model_config_check_trainable(&c), 0);
    cr_assert(strstr(rl_error(), "rms"), "%s", rl_error());
    cr_assert_eq(rl_model_config_preset(&c, "gemma2"), 0);
    cr_assert(c.sliding[0] && !c.sliding[1] && c.sliding[2], "Gemma 2 slides on even layers");
    cr_assert_eq(rl_model_config_preset(&c, "llama2c"), 0);
    cr_assert_eq(c.pe[3].layout, RL_LAYOUT_INTERLEAVED);
    cr_assert_neq(rl_model_config_preset(&c, "bert"), 0);
    cr_assert(strstr(rl_error(), "'bert'"), "%s", rl_error());
}

Test(model_config, per_layer_encoding_rule) {
    rl_model_config c;
    rl_model_config_default(&c);
    c.n_layers = 8;
    cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=10000;rope:theta=10000;rope:theta=10000;nope"), 0, "%s",
                 rl_error());
    for (int l = 0; l < 8; l++) cr_assert_eq(c.pe[l].kind, l % 4 == 3 ? RL_PE_NOPE : RL_PE_ROPE, "layer %d", l);
    char buf[1024];
    rl_model_config_pe_string(&c, buf, sizeof buf);
    cr_assert_str_eq(buf, "rope:theta=10000;rope:theta=10000;rope:theta=10000;nope");
    /* one per layer, and the shortest period when written back */
    cr_assert_eq(rl_model_config_set_pe(&c, "nope;prope:p=0.25;nope;prope:p=0.25;nope;prope:p=0.25;nope;prope:p=0.25"), 0);
    rl_model_config_pe_string(&c, buf, sizeof buf);
    cr_assert(strncmp(buf, "nope", 4) == 0 && strchr(buf, ';') == strrchr(buf, ';'), "period 2 expected: %s", buf);
    /* 3 does not divide 8 */
    cr_assert_neq(rl_model_config_set_pe(&c, "nope;rope;rope"), 0);
    cr_assert(strstr(rl_error(), "3 encodings for 8 layers"), "%s", rl_error());
    cr_assert_neq(rl_model_config_set_pe(&c, "rope;;nope"), 0);
    cr_assert(strstr(rl_error(), "encoding 2") && strstr(rl_error(), "empty"), "%s", rl_error());
    cr_assert_neq(rl_model_config_set_pe(&c, "rope:theta=abc"), 0);
    cr_assert(strstr(rl_error(), "pe: encoding 1"), "%s", rl_error());
}

static void roundtrip(const rl_model_config *c) {
    char *j1 = rl_model_config_to_json(c);
    cr_assert(j1);
    rl_model_config d;
    rl_model_config_default(&d);
    cr_assert_eq(rl_model_config_from_json(&d, j1, "j1"), 0, "%s\n%s", rl_error(), j1);
    char *j2 = rl_model_config_to_json(&d);
    cr_assert_str_eq(j1, j2);
    for (int l = 0; l < c->n_layers; l++) {
        char a[256], b[256];
        rl_rope_format(&c->pe[l], a, sizeof a);
        rl_rope_format(&d.pe[l], b, sizeof b);
        cr_assert_str_eq(a, b, "layer %d", l);
        cr_assert_eq(c->sliding[l], d.sliding[l]);
    }
    cr_assert_eq(c->norm_eps, d.norm_eps);
    cr_assert_eq(c->embed_scale, d.embed_scale);
    cr_assert_eq(c->attn_softmax, d.attn_softmax);
    free(j1);
    free(j2);
}

Test(model_config, json_round_trip) {
    rl_model_config c;
    rl_model_config_default(&c);
    roundtrip(&c);
    cr_assert_eq(rl_model_config_preset(&c, "gemma2"), 0);
    c.n_layers = 6;
    cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=10000+yarn:factor=4,original=64;nope;prope:p=0.75,theta=500000"),
                 0, "%s", rl_error());
    c.norm_eps = 1.2345678901234e-6;
    roundtrip(&c);
    c.attn_softmax = RL_ATTN_ADAPTIVE;
    roundtrip(&c);
    cr_assert_eq(rl_model_config_preset(&c, "gpt_neox"), 0);
    c.embed_scale = 0.7;
    c.attn_softmax = RL_ATTN_ADAPTIVE_CONST;
    roundtrip(&c);
}

/* The attention softmax: default plain, names both ways, the JSON key on its own and on a preset. */
Test(model_config, attn_softmax_key) {
    rl_model_config c;
    rl_model_config_default(&c);
    cr_assert_eq(c.attn_softmax, RL_ATTN_PLAIN);
    char *j = rl_model_config_to_json(&c);
    cr_assert(strstr(j, "\"attn_softmax\":\t\"softmax\""), "%s", j); /* cJSON_Print: tab after the colon */
    free(j);
    const char *names[] = {"softmax", "adaptive", "adaptive-const"};
    for (int k = 0; k < RL_ATTN_KIND_COUNT; k++) {
        rl_attn_softmax got;
        cr_assert_str_eq(rl_attn_softmax_name((rl_attn_softmax)k), names[k]);
        cr_assert_eq(rl_attn_softmax_from_name(names[k], &got), 0);
        cr_assert_eq(got, k);
    }
    rl_attn_softmax got;
    cr_assert_neq(rl_attn_softmax_from_name("Adaptive", &got), 0);
    cr_assert_eq(rl_model_config_from_json(&c, "{\"attn_softmax\": \"adaptive-const\"}", "a.json"), 0, "%s",
                 rl_error());
    cr_assert_eq(c.attn_softmax, RL_ATTN_ADAPTIVE_CONST);
    /* "arch" resets to the preset (plain), then the key applies */
    cr_assert_eq(rl_model_config_from_json(&c, "{\"arch\": \"mistral\", \"attn_softmax\": \"adaptive\"}", "b.json"),
                 0, "%s", rl_error());
    cr_assert_eq(c.attn_softmax, RL_ATTN_ADAPTIVE);
    cr_assert_eq(rl_model_config_from_json(&c, "{\"arch\": \"mistral\"}", "b.json"), 0);
    cr_assert_eq(c.attn_softmax, RL_ATTN_PLAIN);
    c.attn_softmax = (rl_attn_softmax)7;
    cr_assert_neq(rl_model_config_validate(&c), 0);
    cr_assert(strstr(rl_error(), "attn_softmax"), "%s", rl_error());
}

Test(model_config, json_partial_file_on_a_preset) {
    rl_model_config c;
    rl_model_config_default(&c);
    cr_assert_eq(rl_model_config_from_json(&c, "{\"arch\": \"llama\", \"d_model\": 512, \"n_layers\": 4, "
                                               "\"pe\": [\"rope:theta=500000\", \"nope\"], \"sliding_window\": 16, "
                                               "\"sliding_layers\": [1, 0]}",
                                           "x.json"),
                 0, "%s", rl_error());
    cr_assert_eq(c.arch, RL_ARCH_LLAMA);
    cr_assert_eq(c.mlp, RL_MLP_SWIGLU);
    cr_assert_eq(c.d_model, 512);
    cr_assert_eq(c.pe[2].theta, 500000);
    cr_assert_eq(c.pe[3].kind, RL_PE_NOPE);
    cr_assert(c.sliding[2] && !c.sliding[3]);
    /* without "arch" the keys apply on top of what is there */
    cr_assert_eq(rl_model_config_from_json(&c, "{\"d_ff\": 999}", "y.json"), 0, "%s", rl_error());
    cr_assert_eq(c.d_ff, 999);
    cr_assert_eq(c.d_model, 512);
}

static void expect_bad(const char *json, const char *needle) {
    rl_model_config c;
    rl_model_config_default(&c);
    rl_model_config before = c;
    cr_assert_neq(rl_model_config_from_json(&c, json, "cfg.json"), 0, "accepted: %s", json);
    cr_assert(strstr(rl_error(), "cfg.json") && strstr(rl_error(), needle), "for %s: message \"%s\" lacks \"%s\"", json,
              rl_error(), needle);
    cr_assert(memcmp(&c, &before, sizeof c) == 0, "a failed parse changed the config: %s", json);
}

Test(model_config, json_errors_name_the_key) {
    expect_bad("{\"d_model\": 1.5}", "d_model");
    expect_bad("{\"d_model\": \"256\"}", "d_model");
    expect_bad("{\"d_model\": 0}", "d_model");
    expect_bad("{\"n_kv_heads\": 3}", "n_kv_heads");
    expect_bad("{\"head_dim\": 63}", "head_dim");
    expect_bad("{\"norm\": \"batch\"}", "norm");
    expect_bad("{\"mlp\": 3}", "mlp");
    expect_bad("{\"tie_embeddings\": 1}", "tie_embeddings");
    expect_bad("{\"norm_eps\": 0}", "norm_eps");
    expect_bad("{\"bos_id\": 4096}", "bos_id");
    expect_bad("{\"embed_scale\": \"sqrt\"}", "embed_scale");
    expect_bad("{\"embed_scale\": -2}", "embed_scale");
    expect_bad("{\"attn_softcap\": -1}", "attn_softcap");
    expect_bad("{\"attn_softmax\": \"sharp\"}", "attn_softmax");
    expect_bad("{\"attn_softmax\": 1}", "attn_softmax");
    expect_bad("{\"pe\": \"rope:theta=-5\"}", "pe");
    expect_bad("{\"pe\": \"partial:p=0.3\"}", "pe: layer 0"); /* 0.3 * 64 = 19 rotated dims: odd */
    expect_bad("{\"pe\": \"rope;nope;nope;rope\"}", "4 encodings for 6 layers");
    expect_bad("{\"pe\": 5}", "pe");
    expect_bad("{\"sliding_layers\": [1, 0, 1, 0]}", "sliding_layers");
    expect_bad("{\"sliding_layers\": [2]}", "sliding_layers");
    expect_bad("{\"n_layers\": 300}", "n_layers");
    expect_bad("{\"fused_qkv\": true}", "fused_qkv"); /* needs n_kv_heads == n_heads */
    expect_bad("{\"norm\": \"layer\"}", "norm_plus_one");
    expect_bad("{\"arch\": \"t5\"}", "arch");
    expect_bad("{\"dmodel\": 256}", "dmodel");
    expect_bad("[1, 2]", "object");
    expect_bad("{\"d_model\": 256", "not valid JSON");
}

Test(model_config, load_missing_file_names_it) {
    rl_model_config c;
    rl_model_config_default(&c);
    cr_assert_neq(rl_model_config_load(&c, "/nonexistent/model.json"), 0);
    cr_assert(strstr(rl_error(), "/nonexistent/model.json"), "%s", rl_error());
}
