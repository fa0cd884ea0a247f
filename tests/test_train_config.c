/* train/config: defaults, JSON round trip, one clear error per bad key, and the flags of `ropelab train`. */
#include "helpers.h"
#include "ropelab/train.h"
#include "ropelab/util.h"
#include "train_helpers.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

Test(train_config, defaults_round_trip) {
    rl_train_config c, d;
    rl_train_config_default(&c);
    cr_assert_eq(rl_train_config_validate(&c), 0, "%s", rl_error());
    cr_assert_eq(c.model.vocab_size, 0, "vocabulary from the data by default");
    char *s = rl_train_config_to_json(&c);
    cr_assert_not_null(s);
    cr_assert_null(strstr(s, "\"vocab_size\""), "a from-the-data vocabulary is left out: %s", s);
    rl_train_config_default(&d);
    d.steps = 7;
    d.model.d_model = 64;
    cr_assert_eq(rl_train_config_from_json(&d, s, "defaults"), 0, "%s", rl_error());
    char *t = rl_train_config_to_json(&d);
    cr_assert_str_eq(s, t);
    free(s);
    free(t);

    const char *js = "{\"arch\": \"llama\", \"d_model\": 64, \"n_layers\": 3, \"steps\": 50, \"warmup\": 10, \"lr\": 3e-4, "
                     "\"grad_accum\": 2, \"pe\": \"prope:p=0.75,theta=10000\", \"figures\": false, \"data\": \"d\"}";
    rl_train_config_default(&c);
    cr_assert_eq(rl_train_config_from_json(&c, js, "x"), 0, "%s", rl_error());
    cr_assert_eq(c.model.arch, RL_ARCH_LLAMA);
    cr_assert_eq(c.model.mlp, RL_MLP_SWIGLU, "arch resets the model to its preset");
    cr_assert_eq(c.model.d_model, 64);
    cr_assert_eq(c.model.n_layers, 3);
    cr_assert_eq(c.model.pe[2].kind, RL_PE_PROPE);
    cr_assert_eq(c.model.vocab_size, 0, "still from the data after an arch preset");
    cr_assert_eq(c.model.bos_id, -2);
    cr_assert_eq(c.steps, 50);
    cr_assert_eq(c.grad_accum, 2);
    cr_assert_eq(c.lr, 3e-4);
    cr_assert_eq(c.figures, 0);
    cr_assert_str_eq(c.data, "d");
    s = rl_train_config_to_json(&c);
    rl_train_config_default(&d);
    cr_assert_eq(rl_train_config_from_json(&d, s, "again"), 0, "%s", rl_error());
    t = rl_train_config_to_json(&d);
    cr_assert_str_eq(s, t);
    free(s);
    free(t);
}

/* Every bad value fails, naming its key, and leaves the config untouched. */
Test(train_config, bad_values_name_the_key) {
    static const char *bad[][2] = {
        {"{\"steps\": 0}", "steps"},           {"{\"steps\": 1.5}", "steps"},
        {"{\"batch\": -1}", "batch"},          {"{\"grad_accum\": 0}", "grad_accum"},
        {"{\"lr\": 0}", "lr"},                 {"{\"lr\": \"fast\"}", "lr"},
        {"{\"min_lr\": 1}", "min_lr"},         {"{\"warmup\": 5000}", "warmup"},
        {"{\"weight_decay\": -0.1}", "weight_decay"}, {"{\"beta1\": 1}", "beta1"},
        {"{\"beta2\": -0.5}", "beta2"},        {"{\"eps\": 0}", "eps"},
        {"{\"clip\": -1}", "clip"},            {"{\"eval_every\": -1}", "eval_every"},
        {"{\"eval_tokens\": -5}", "eval_tokens"}, {"{\"ckpt_every\": -2}", "ckpt_every"},
        {"{\"keep_ckpts\": 0}", "keep_ckpts"}, {"{\"seed\": -1}", "seed"},
        {"{\"seed\": 1e17}", "seed"},          {"{\"threads\": -1}", "threads"},
        {"{\"figures\": 1}", "figures"},       {"{\"data\": 3}", "data"},
        {"{\"d_model\": -4}", "d_model"},      {"{\"n_kv_heads\": 3}", "n_kv_heads"},
        {"{\"pe\": \"rope:theta=-1\"}", "theta"}, {"{\"mlp\": \"relu\"}", "mlp"},
        {"{\"vocab_size\": 0}", "vocab_size"}, {"{\"stepz\": 3}", "stepz"},
        {"{\"sandwich_norm\": true}", "sandwich_norm"}, {"[1, 2]", "object"},
        {"{\"steps\": ", "JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rl_train_config c, before;
        rl_train_config_default(&c);
        before = c;
        cr_assert_neq(rl_train_config_from_json(&c, bad[i][0], "cfg.json"), 0, "accepted %s", bad[i][0]);
        cr_assert(strstr(rl_error(), bad[i][1]) != NULL, "%s: message \"%s\" does not name %s", bad[i][0], rl_error(), bad[i][1]);
        cr_assert(strstr(rl_error(), "cfg.json") != NULL, "%s: message \"%s\" does not name the source", bad[i][0], rl_error());
        cr_assert(memcmp(&c, &before, sizeof c) == 0, "%s: config changed on failure", bad[i][0]);
    }
}

static cJSON *print_config(const char *flags) {
    char args[2048], *out;
    snprintf(args, sizeof args, "train --print-config %s", flags);
    int rc = tt_tool(NULL, args, &out);
    cr_assert_eq(rc, 0, "%s: %s", flags, out);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "not JSON: %s", out);
    free(out);
    return j;
}

static double num(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    cr_assert(cJSON_IsNumber(v), "key %s missing", k);
    return v->valuedouble;
}

static const char *str(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    cr_assert(cJSON_IsString(v), "key %s missing", k);
    return v->valuestring;
}

/* The short flags and every key's own flag land on the right keys. */
Test(train_config, flags_map_to_keys) {
    cJSON *j = print_config("--pe 'prope:p=0.25,theta=500000' --d-model 48 --layers 3 --heads 4 --kv-heads 2 "
                            "--head-dim 12 --mlp 96 --context 32 --batch 3 --steps 40 --lr 0.002 --seed 9 --threads 2 "
                            "--grad-accum 4 --min-lr 1e-5 --warmup 5 --weight-decay 0 --beta2 0.99 --clip 0.5 "
                            "--eval-every 10 --eval-tokens 1000 --ckpt-every 20 --keep-ckpts 3 --data somewhere "
                            "--tie-embeddings false --sliding-layers '[1,0,1]'");
    cr_assert_str_eq(str(j, "pe"), "prope:p=0.25,theta=500000");
    cr_assert_eq(num(j, "d_model"), 48);
    cr_assert_eq(num(j, "n_layers"), 3);
    cr_assert_eq(num(j, "n_heads"), 4);
    cr_assert_eq(num(j, "n_kv_heads"), 2);
    cr_assert_eq(num(j, "head_dim"), 12);
    cr_assert_eq(num(j, "d_ff"), 96, "--mlp with a number is the MLP width");
    cr_assert_str_eq(str(j, "mlp"), "geglu");
    cr_assert_eq(num(j, "max_seq"), 32);
    cr_assert_eq(num(j, "batch"), 3);
    cr_assert_eq(num(j, "steps"), 40);
    cr_assert_eq(num(j, "lr"), 0.002);
    cr_assert_eq(num(j, "seed"), 9);
    cr_assert_eq(num(j, "threads"), 2);
    cr_assert_eq(num(j, "grad_accum"), 4);
    cr_assert_eq(num(j, "min_lr"), 1e-5);
    cr_assert_eq(num(j, "warmup"), 5);
    cr_assert_eq(num(j, "weight_decay"), 0);
    cr_assert_eq(num(j, "beta2"), 0.99);
    cr_assert_eq(num(j, "clip"), 0.5);
    cr_assert_eq(num(j, "eval_every"), 10);
    cr_assert_eq(num(j, "eval_tokens"), 1000);
    cr_assert_eq(num(j, "ckpt_every"), 20);
    cr_assert_eq(num(j, "keep_ckpts"), 3);
    cr_assert_str_eq(str(j, "data"), "somewhere");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "tie_embeddings")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sliding_layers")), 3);
    cJSON_Delete(j);
    j = print_config("--mlp swiglu --n-layers 2 --max-seq 8 --warmup 0");
    cr_assert_str_eq(str(j, "mlp"), "swiglu", "--mlp with a name is the MLP kind");
    cr_assert_eq(num(j, "n_layers"), 2);
    cr_assert_eq(num(j, "max_seq"), 8);
    cJSON_Delete(j);
}

/* --config FILE, then flags on top; an "arch" flag resets the preset before the file's other keys. */
Test(train_config, config_file_then_flags) {
    char *dir = rt_tmpdir(), path[4200], args[4400];
    snprintf(path, sizeof path, "%s/c.json", dir);
    const char *js = "{\"d_model\": 64, \"steps\": 100, \"lr\": 0.01, \"warmup\": 10}";
    cr_assert_eq(rl_write_atomic(path, js, strlen(js)), 0);
    snprintf(args, sizeof args, "--config '%s' --lr 0.005 --arch llama", path);
    cJSON *j = print_config(args);
    cr_assert_eq(num(j, "d_model"), 64, "the file's key survives the arch flag");
    cr_assert_eq(num(j, "steps"), 100);
    cr_assert_eq(num(j, "lr"), 0.005, "the flag overrides the file");
    cr_assert_str_eq(str(j, "mlp"), "swiglu", "arch llama's preset");
    cJSON_Delete(j);
    /* a bad file value names the file and the key; a bad flag value names the key */
    js = "{\"d_model\": 64, \"batch\": 0}";
    cr_assert_eq(rl_write_atomic(path, js, strlen(js)), 0);
    char *out;
    snprintf(args, sizeof args, "train --print-config --config '%s'", path);
    cr_assert_eq(tt_tool(NULL, args, &out), 2);
    cr_assert(strstr(out, "c.json") && strstr(out, "key batch"), "%s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}

Test(train_config, bad_flags_are_usage_errors) {
    static const char *bad[][2] = {
        {"--steps 0", "steps"},          {"--lr -1", "lr"},
        {"--d-model banana", "d_model"}, {"--layers 0", "n_layers"},
        {"--heads 3 --kv-heads 2", "n_kv_heads"}, {"--context -5", "max_seq"},
        {"--batch 1.5", "batch"},        {"--pe 'rope:thetaa=1'", "thetaa"},
        {"--layers 2 --n-layers 3", "n_layers"}, {"--sliding-layers '[1,'", "JSON"},
        {"--no-such-flag 1", "no-such-flag"}, {"--seed", "seed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[512], *out;
        snprintf(args, sizeof args, "train --out /tmp/never %s", bad[i][0]);
        int rc = tt_tool(NULL, args, &out);
        cr_assert_eq(rc, 2, "%s: exit %d: %s", bad[i][0], rc, out);
        cr_assert(strstr(out, bad[i][1]) != NULL, "%s: \"%s\" does not name %s", bad[i][0], out, bad[i][1]);
        free(out);
    }
    char *out;
    cr_assert_eq(tt_tool(NULL, "train --steps 5", &out), 2, "no --out");
    cr_assert(strstr(out, "--out"), "%s", out);
    free(out);
}
