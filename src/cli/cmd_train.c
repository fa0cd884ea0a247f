/* `ropelab train`: a config file and/or flags named after the config keys -> rl_train_run. */
#include "cli.h"
#include "commands.h"
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FLAGS 96

/* One flag that sets a config key. */
typedef struct {
    char name[64];   /* flag name (dashes) */
    char key[64];    /* JSON key ("" for --mlp, which picks d_ff or mlp by its value) */
    char help[200];
    const char *metavar;
    int string_only; /* the value is always a string (the data folder) */
    const char *val;
} key_flag;

/* Short names from the issue besides the keys' own names (--d-model, --head-dim, ... are keys). */
static const struct {
    const char *flag, *key;
} aliases[] = {{"layers", "n_layers"}, {"heads", "n_heads"}, {"kv-heads", "n_kv_heads"}, {"context", "max_seq"},
               {"softmax", "attn_softmax"}};

static void dashed(char *out, size_t n, const char *key) {
    snprintf(out, n, "%s", key);
    for (char *p = out; *p; p++)
        if (*p == '_') *p = '-';
}

static int add_flag(key_flag *f, int *n, const char *name, const char *key, const char *help, const char *metavar) {
    if (*n >= MAX_FLAGS) return -1;
    key_flag *k = &f[(*n)++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->key, sizeof k->key, "%s", key);
    snprintf(k->help, sizeof k->help, "%s", help);
    k->metavar = metavar;
    return 0;
}

/* Every training key, every model key (from the model config's JSON, so new keys appear by
 * themselves), and the short aliases. */
static int build_flags(key_flag *f, int *n) {
    *n = 0;
    int nt;
    const rl_train_key *tk = rl_train_keys(&nt);
    char name[64], help[200];
    for (int i = 0; i < nt; i++) {
        dashed(name, sizeof name, tk[i].key);
        static const char *mv[] = {"N", "X", "BOOL", "DIR"}; /* by rl_train_key_type */
        if (add_flag(f, n, name, tk[i].key, tk[i].help, mv[tk[i].type]) != 0) return -1;
        f[*n - 1].string_only = tk[i].type == RL_TKEY_STR;
    }
    rl_model_config d;
    rl_model_config_default(&d);
    char *js = rl_model_config_to_json(&d);
    cJSON *o = js ? cJSON_Parse(js) : NULL;
    free(js);
    if (!o) return -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, o) {
        if (strcmp(v->string, "mlp") == 0) {
            if (add_flag(f, n, "mlp", "", "MLP width d_ff (an integer, default 1024) or kind: geglu, swiglu", "F|KIND") != 0)
                break;
            continue;
        }
        char *dv = cJSON_PrintUnformatted(v);
        dashed(name, sizeof name, v->string);
        if (strcmp(v->string, "vocab_size") == 0)
            snprintf(help, sizeof help, "model key (docs/model.md); default: the dataset's vocabulary");
        else if (strcmp(v->string, "bos_id") == 0 || strcmp(v->string, "eos_id") == 0)
            snprintf(help, sizeof help, "model key (docs/model.md); default: the dataset tokenizer's");
        else
            snprintf(help, sizeof help, "model key (docs/model.md), reference %.120s", dv ? dv : "?");
        free(dv);
        int integral = cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble;
        const char *mv = integral ? "N" : cJSON_IsNumber(v) ? "X" : cJSON_IsBool(v) ? "BOOL" : cJSON_IsArray(v) ? "JSON" : "S";
        if (strcmp(v->string, "pe") == 0) mv = "SPEC";
        if (add_flag(f, n, name, v->string, help, mv) != 0) break;
    }
    cJSON_Delete(o);
    for (size_t i = 0; i < RL_ARRAY_LEN(aliases); i++) {
        dashed(name, sizeof name, aliases[i].key);
        snprintf(help, sizeof help, "= --%s", name);
        const char *mv = "N";
        for (int j = 0; j < *n; j++)
            if (strcmp(f[j].key, aliases[i].key) == 0) mv = f[j].metavar;
        if (add_flag(f, n, aliases[i].flag, aliases[i].key, help, mv) != 0) return -1;
    }
    return *n < MAX_FLAGS ? 0 : -1;
}

/* A flag's value as JSON: a number, true/false, a JSON array/object, else a string. */
static cJSON *flag_value(const key_flag *k, const char **err) {
    const char *s = k->val;
    double d;
    *err = NULL;
    if (k->string_only) return cJSON_CreateString(s);
    if (rl_parse_double(s, &d) == 0) return cJSON_CreateNumber(d);
    if (strcmp(s, "true") == 0) return cJSON_CreateTrue();
    if (strcmp(s, "false") == 0) return cJSON_CreateFalse();
    if (s[0] == '[' || s[0] == '{') {
        cJSON *j = cJSON_Parse(s);
        if (!j) *err = "not valid JSON";
        return j;
    }
    return cJSON_CreateString(s);
}

/* Puts the given flags into obj (replacing the same keys). Returns 0, or 2 after a usage error. */
static int overlay_flags(cJSON *obj, key_flag *f, int n, const cli_opt *opts) {
    const char *keys[MAX_FLAGS];
    int from[MAX_FLAGS], m = 0;
    for (int i = 0; i < n; i++) {
        if (!opts[i].seen) continue;
        const char *err;
        cJSON *v = flag_value(&f[i], &err);
        if (!v) return cli_usage_error("train", "--%s %s: %s", f[i].name, f[i].val, err ? err : "out of memory");
        const char *key = f[i].key[0] ? f[i].key : cJSON_IsNumber(v) ? "d_ff" : "mlp"; /* --mlp: width or kind */
        for (int j = 0; j < m; j++)
            if (strcmp(keys[j], key) == 0) {
                cJSON_Delete(v);
                return cli_usage_error("train", "--%s and --%s both set key %s", f[from[j]].name, f[i].name, key);
            }
        keys[m] = key;
        from[m++] = i;
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        cJSON_AddItemToObject(obj, key, v);
    }
    return 0;
}

static void print_result(const char *out, const rl_train_result *res) {
    printf("trained steps %lld..%lld in %.1f s (%.0f tokens/s); final training loss %.4f", (long long)res->start_step,
           (long long)res->steps_done, res->seconds, res->tokens_per_s, res->loss);
    if (!isnan(res->val_loss)) printf(", validation loss %.4f (ppl %.2f)", res->val_loss, exp(res->val_loss));
    printf("\ncheckpoint: %s (also %s/checkpoint); log: %s/log.csv\n", res->checkpoint, out, out);
}

int cmd_train(int argc, char **argv) {
    key_flag kf[MAX_FLAGS];
    int nk;
    if (build_flags(kf, &nk) != 0) return cli_usage_error("train", "internal: too many flags");
    const char *config = NULL, *out = NULL, *resume = NULL;
    int print_config = 0;
    cli_opt opts[MAX_FLAGS + 4];
    for (int i = 0; i < nk; i++) {
        cli_opt o = {kf[i].name, CLI_STR, &kf[i].val, kf[i].metavar, kf[i].help, 0};
        opts[i] = o;
    }
    cli_opt fixed[] = {
        {"config", CLI_STR, &config, "FILE", "JSON config (model + training keys); flags override it", 0},
        {"out", CLI_STR, &out, "DIR", "run folder to create (required unless --resume)", 0},
        {"resume", CLI_STR, &resume, "DIR", "continue the run in DIR from its newest complete checkpoint", 0},
        {"print-config", CLI_FLAG, &print_config, NULL, "print the resolved config as JSON and exit", 0},
    };
    for (int i = 0; i < 4; i++) opts[nk + i] = fixed[i];
    cli_spec spec = {
        "ropelab train --data DIR --out DIR [--config FILE] [--KEY VALUE ...]\n"
        "       ropelab train --resume DIR [--steps N] [--threads N] ...",
        "Trains ropelab's Gemma-layout model on a prepared dataset (`ropelab data prepare`). The config is one\n"
        "JSON object of model keys (docs/model.md) and training keys (docs/train.md); each key is also a flag\n"
        "(underscores as dashes: --d-model 256, --grad-accum 4, --pe 'prope:p=0.75,theta=10000'), applied on top\n"
        "of --config. Writes DIR/train_config.json, DIR/log.csv (step, loss, lr, grad_norm, tokens/s, val_loss),\n"
        "DIR/loss.png, and checkpoints DIR/ckpt-NNNNNNN (Hugging Face folders + optimizer and trainer state),\n"
        "with DIR/checkpoint linking the newest complete one. --resume continues bit-identically (same thread\n"
        "count), also after a kill; only data, steps, threads, eval_every, eval_tokens, ckpt_every, keep_ckpts\n"
        "and figures may change. A NaN/Inf loss or gradient stops the run (exit 1), leaving the checkpoints.",
        opts, nk + 4, 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (resume && (config || (out && strcmp(out, resume) != 0)))
        return cli_usage_error("train", "--resume DIR continues DIR with its own config: --config and --out do not apply");
    if (!resume && !out && !print_config) return cli_usage_error("train", "--out DIR is required (or --resume DIR)");

    /* base: the run's config (resume), else the config file as written, else {} (the defaults).
     * The file is parsed alone first, so that its errors name it. */
    rl_train_config c;
    rl_train_config_default(&c);
    const char *base_path = resume ? NULL : config;
    char run_cfg[4200];
    if (resume) {
        if (rl_train_config_of_run(&c, resume) != 0) return cli_report("train");
        snprintf(run_cfg, sizeof run_cfg, "%s/train_config.json", resume);
        base_path = run_cfg;
    }
    if (config && rl_train_config_load(&c, config) != 0) {
        fprintf(stderr, "ropelab train: %s\n", rl_error());
        return 2;
    }
    char *text = NULL;
    if (base_path && rl_read_file(base_path, &text, NULL) != 0) return cli_report("train");
    cJSON *obj = text ? cJSON_Parse(text) : cJSON_CreateObject();
    free(text);
    if (!obj) return cli_report("train");
    if ((rc = overlay_flags(obj, kf, nk, opts)) != 0) {
        cJSON_Delete(obj);
        return rc;
    }
    char *merged = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    rl_train_config_default(&c);
    rc = merged ? rl_train_config_from_json(&c, merged, resume ? "resumed config" : config ? "config + flags" : "flags") : -1;
    free(merged);
    if (rc != 0) {
        fprintf(stderr, "ropelab train: %s\n", rl_error());
        return 2;
    }
    if (print_config) {
        char *s = rl_train_config_to_json(&c);
        if (!s) return cli_report("train");
        printf("%s\n", s);
        free(s);
        return 0;
    }
    const char *dir = resume ? resume : out;
    rl_train_opts o = {0};
    o.resume = resume != NULL;
    rl_train_result res;
    if (rl_train_run(&c, dir, &o, &res) != 0) return cli_report("train");
    print_result(dir, &res);
    return 0;
}
