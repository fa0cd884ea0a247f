/* The reproduction's scales (sizes and budgets as data) and the Table 2 variants. */
#include "ropelab/experiments.h"
#include "ropelab/model.h"
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Keep docs/reproduce.md's table in step with this one. The model is ropelab's Gemma (GeGLU, (1+w)
 * RMSNorm, tied embeddings, embedding scaled by sqrt(d_model)) with one key/value head, as Gemma 2B. */
static const rl_repro_scale scales[] = {
    {
        .name = "micro",
        .about = "seconds: tests and smoke checks; tiny models, few steps, one seed, every stage",
        .vocab = 320, .d_model = 32, .n_layers = 3, .n_heads = 2, .n_kv_heads = 1, .head_dim = 16, .d_ff = 64,
        .ctx = 32, .batch = 8, .steps = 200, .warmup = 10, .lr = 1e-2, .min_lr = 1e-3, .weight_decay = 0.1, .clip = 1,
        .seeds = 1, .n_mults = 3, .mults = {1, 2, 4}, .eval_tokens = 512, .analysis_tokens = 256,
        .reduced_theory = 1, .jobs = 0, .needs_data = 0,
    },
    {
        .name = "tiny",
        .about = "the demo: at most 10 minutes on 2 cores from a fresh clone, every figure from real runs",
        .vocab = 512, .d_model = 64, .n_layers = 4, .n_heads = 4, .n_kv_heads = 1, .head_dim = 16, .d_ff = 256,
        .ctx = 64, .batch = 16, .steps = 800, .warmup = 40, .lr = 3e-3, .min_lr = 3e-4, .weight_decay = 0.1,
        .clip = 1, .seeds = 3, .n_mults = 5, .mults = {1, 2, 4, 8, 16}, .eval_tokens = 8192,
        .analysis_tokens = 4096, .reduced_theory = 0, .jobs = 0, .needs_data = 0,
    },
    {
        .name = "small",
        .about = "hours on 2 cores: head dim 64, 6 layers, 5M tokens per run, so that encodings differ beyond the "
                 "seed noise",
        .vocab = 4096, .d_model = 128, .n_layers = 6, .n_heads = 2, .n_kv_heads = 1, .head_dim = 64, .d_ff = 512,
        .ctx = 256, .batch = 16, .steps = 1200, .warmup = 60, .lr = 2e-3, .min_lr = 2e-4, .weight_decay = 0.1,
        .clip = 1, .seeds = 3, .n_mults = 5, .mults = {1, 2, 4, 8, 16}, .eval_tokens = 32768,
        .analysis_tokens = 8192, .reduced_theory = 0, .jobs = 0, .needs_data = 0,
    },
    {
        .name = "paper",
        .about = "the paper's setting (Gemma 2B, 8k context, batch 512, 10k steps): for big machines, with --data",
        .vocab = 256000, .d_model = 2048, .n_layers = 18, .n_heads = 8, .n_kv_heads = 1, .head_dim = 256,
        .d_ff = 16384, .ctx = 8192, .batch = 512, .steps = 10000, .warmup = 1000, .lr = 3e-4, .min_lr = 3e-5,
        .weight_decay = 0.1, .clip = 1, .seeds = 3, .n_mults = 3, .mults = {1, 2, 4}, .eval_tokens = 1048576,
        .analysis_tokens = 81920, .reduced_theory = 0, .jobs = 1, .needs_data = 1,
    },
};

int rl_repro_scale_count(void) { return (int)RL_ARRAY_LEN(scales); }

const rl_repro_scale *rl_repro_scale_at(int i) {
    return i >= 0 && i < (int)RL_ARRAY_LEN(scales) ? &scales[i] : NULL;
}

const rl_repro_scale *rl_repro_scale_find(const char *name) {
    for (size_t i = 0; i < RL_ARRAY_LEN(scales); i++)
        if (strcmp(scales[i].name, name) == 0) return &scales[i];
    return NULL;
}

/* ---- variants ---------------------------------------------------------------------------------- */

static const struct {
    const char *name, *label, *pe;
    double wiki, flan;
} table2[] = {
    {"nope", "NoPE", "nope", 4.8594, 6.6429},
    {"rope", "RoPE theta=10k", "rope:theta=10000", 4.4627, 6.4429},
    {"rope500k", "RoPE theta=500k", "rope:theta=500000", 4.4485, 6.4593},
    {"p0.25", "0.25-RoPE", "prope:p=0.25,theta=10000", 4.5302, 6.5111},
    {"p0.75", "0.75-RoPE", "prope:p=0.75,theta=10000", 4.4414, 6.4422},
    {"p0.75-rev", "0.75-RoPE reversed", "prope-rev:p=0.75,theta=10000", 4.4592, 6.4683},
    {"p0.75-partial", "0.75-RoPE partial", "partial:p=0.75,theta=10000", 4.4537, 6.4562},
};

static void set_variant(rl_repro_variant *v, const char *name, const char *label, const char *pe, double wiki,
                        double flan) {
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(v->label, sizeof v->label, "%s", label);
    snprintf(v->pe, sizeof v->pe, "%s", pe);
    v->paper_wiki = wiki;
    v->paper_flan = flan;
}

int rl_repro_variants_default(rl_repro_variant *v, int max) {
    int n = (int)RL_ARRAY_LEN(table2);
    for (int i = 0; i < n && i < max; i++)
        set_variant(&v[i], table2[i].name, table2[i].label, table2[i].pe, table2[i].wiki, table2[i].flan);
    return n;
}

static int add_variant(const rl_repro_variant *x, rl_repro_variant *v, int max, int *n) {
    for (int i = 0; i < *n; i++)
        if (strcmp(v[i].name, x->name) == 0) return rl_fail("variant '%s' is listed twice", x->name);
    if (*n >= max) return rl_fail("too many variants (at most %d)", max);
    v[(*n)++] = *x;
    return 0;
}

/* Checks a per-layer PE list by parsing each spec ("nope;rope:theta=10000" etc.). */
static int check_pe(const char *pe) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", pe);
    for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        rl_rope_spec s;
        if (rl_rope_parse(tok, &s) != 0) return -1;
    }
    return 0;
}

int rl_repro_variants_parse(const char *entry, rl_repro_variant *v, int max, int *n) {
    const char *eq = strchr(entry, '=');
    const char *colon = strchr(entry, ':');
    if (eq && (!colon || eq < colon)) { /* NAME=SPEC */
        size_t k = (size_t)(eq - entry);
        rl_repro_variant x;
        if (k == 0 || k >= sizeof x.name) return rl_fail("--variants '%s': the name before '=' must have 1 to %d "
                                                         "characters", entry, (int)sizeof x.name - 1);
        for (size_t i = 0; i < k; i++) {
            char ch = entry[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '-' || ch == '_'))
                return rl_fail("--variants '%s': the name may only hold letters, digits, '.', '-' and '_'", entry);
        }
        if (strlen(eq + 1) == 0 || strlen(eq + 1) >= sizeof x.pe)
            return rl_fail("--variants '%s': the spec after '=' is empty or too long", entry);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)k, entry);
        if (check_pe(eq + 1) != 0) return rl_fail_prefix("--variants '%s'", entry);
        set_variant(&x, name, name, eq + 1, NAN, NAN);
        return add_variant(&x, v, max, n);
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", entry);
    int any = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        any = 1;
        size_t i = 0;
        for (; i < RL_ARRAY_LEN(table2); i++)
            if (strcmp(tok, table2[i].name) == 0) break;
        if (i == RL_ARRAY_LEN(table2))
            return rl_fail("--variants: unknown variant '%s' (known: nope rope rope500k p0.25 p0.75 p0.75-rev "
                           "p0.75-partial, or NAME=SPEC for your own, e.g. p0.5=prope:p=0.5,theta=10000)",
                           tok);
        rl_repro_variant x;
        set_variant(&x, table2[i].name, table2[i].label, table2[i].pe, table2[i].wiki, table2[i].flan);
        if (add_variant(&x, v, max, n) != 0) return -1;
    }
    if (!any) return rl_fail("--variants: empty entry");
    return 0;
}
