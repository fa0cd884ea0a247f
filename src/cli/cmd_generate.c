/* `ropelab generate MODEL --prompt TEXT [-n N] [--greedy | --temperature T --seed S]`: text from a
 * checkpoint, streamed token by token with KV-cache decoding. */
#include "cli.h"
#include "commands.h"
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next token: argmax (temperature 0), else a draw from softmax(logits / T), restricted to the
 * smallest set of most likely tokens whose mass reaches top_p (top_p >= 1: all). logits: [V];
 * work: [V] doubles + [V] ints. */
static int next_token(const float *logits, int V, double temperature, double top_p, rl_rng *r, double *p, int *idx) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (temperature <= 0) return best;
    double z = 0;
    for (int i = 0; i < V; i++) z += p[i] = exp(((double)logits[i] - logits[best]) / temperature);
    for (int i = 0; i < V; i++) p[i] /= z;
    int n = V;
    for (int i = 0; i < V; i++) idx[i] = i;
    if (top_p < 1) { /* sort by probability (descending), keep the nucleus */
        for (int i = 1; i < V; i++) {
            int v = idx[i], j = i;
            while (j > 0 && p[idx[j - 1]] < p[v]) idx[j] = idx[j - 1], j--;
            idx[j] = v;
        }
        double cum = 0;
        for (n = 0; n < V && cum < top_p; n++) cum += p[idx[n]];
        z = cum;
    } else {
        z = 1;
    }
    double u = rl_rng_uniform(r) * z, cum = 0;
    for (int k = 0; k < n; k++) {
        cum += p[idx[k]];
        if (u < cum) return idx[k];
    }
    return idx[n - 1];
}

int cmd_generate(int argc, char **argv) {
    const char *tokenizer = NULL, *prompt = "";
    int64_t n_new = 256, seed = 1234;
    double temperature = 0, top_p = 1;
    int greedy = 0, quiet_prompt = 0;
    cli_opt opts[] = {
        {"tokenizer", CLI_STR, &tokenizer, "FILE", "tokenizer file (default: the checkpoint's own)", 0},
        {"prompt", CLI_STR, &prompt, "TEXT", "text to continue (default empty: start from BOS alone)", 0},
        {"tokens", CLI_INT, &n_new, "N", "new tokens at most (also -n N; default 256); stops early at EOS/BOS", 0},
        {"greedy", CLI_FLAG, &greedy, NULL, "always the most likely token (the default)", 0},
        {"temperature", CLI_DBL, &temperature, "T", "sample from softmax(logits / T) (0 = greedy)", 0},
        {"top-p", CLI_DBL, &top_p, "P", "sample from the smallest set of tokens with mass >= P (default 1: all)", 0},
        {"seed", CLI_INT, &seed, "S", "random seed for sampling (default 1234)", 0},
        {"no-echo", CLI_FLAG, &quiet_prompt, NULL, "print only the continuation, not the prompt", 0},
    };
    cli_spec spec = {"ropelab generate MODEL [--tokenizer FILE] [--prompt TEXT] [-n N] [--greedy | --temperature T "
                     "--seed S]",
                     "Continues a prompt with KV-cache decoding and prints the text as it is generated (the\n"
                     "prompt first, unless --no-echo). The prompt is encoded after BOS, as the model was trained;\n"
                     "an empty prompt starts from BOS alone. Generation stops after N tokens or at an end-of-text\n"
                     "token (EOS, or BOS, which llama2.c models emit between stories).",
                     opts, (int)RL_ARRAY_LEN(opts), 1, 1};
    /* -n N is an alias of --tokens N */
    char **av = malloc((size_t)(argc + 1) * sizeof *av);
    if (!av) return cli_usage_error("generate", "out of memory");
    for (int i = 0; i < argc; i++) av[i] = strcmp(argv[i], "-n") == 0 ? "--tokens" : argv[i];
    av[argc] = NULL;
    const char **pos;
    int np, rc = cli_parse(&spec, argc, av, &pos, &np);
    free(av);
    if (rc) return rc == 1 ? 0 : rc;
    const char *model_path = pos[0];
    free(pos);
    if (n_new < 1 || n_new > (1 << 20)) return cli_usage_error("generate", "-n %lld must be in [1, 1048576]", (long long)n_new);
    if (greedy && cli_given(&spec, "temperature") && temperature > 0)
        return cli_usage_error("generate", "--greedy and --temperature contradict each other");
    if (!(temperature >= 0 && temperature <= 100)) return cli_usage_error("generate", "--temperature must be in [0, 100]");
    if (!(top_p > 0 && top_p <= 1)) return cli_usage_error("generate", "--top-p must be in (0, 1]");
    if (greedy) temperature = 0;

    rl_loaded ld;
    if (rl_load_model(model_path, tokenizer, &ld) != 0) return cli_report("generate");
    rc = 1;
    rl_model *m = ld.model;
    const rl_tokenizer *tok = ld.tok;
    const int V = m->cfg.vocab_size;
    rl_ids ids = {0};
    float *logits = NULL;
    double *p = NULL;
    int *idx = NULL;
    rl_kv_cache kc = {0};
    if (!tok) {
        rl_fail("%s: no tokenizer (give one with --tokenizer FILE)", ld.source);
        goto fail;
    }
    int bos = rl_tok_bos(tok) >= 0 ? rl_tok_bos(tok) : m->cfg.bos_id, eos = rl_tok_eos(tok) >= 0 ? rl_tok_eos(tok) : m->cfg.eos_id;
    if (bos >= 0 && rl_ids_push(&ids, bos) != 0) goto fail;
    if (*prompt && rl_tok_encode(tok, prompt, strlen(prompt), 0, &ids) != 0) goto fail;
    if (ids.n == 0) {
        rl_fail("generate: an empty prompt needs a BOS token, and this vocabulary has none");
        goto fail;
    }
    for (int64_t i = 0; i < ids.n; i++)
        if (ids.v[i] < 0 || ids.v[i] >= V) {
            rl_fail("generate: prompt token %d is outside the model's vocabulary [0, %d): wrong tokenizer?", ids.v[i], V);
            goto fail;
        }
    logits = malloc((size_t)V * sizeof *logits);
    p = malloc((size_t)V * sizeof *p);
    idx = malloc((size_t)V * sizeof *idx);
    if (!logits || !p || !idx) {
        rl_fail("out of memory (vocabulary of %d)", V);
        goto fail;
    }
    if (rl_kv_cache_init(&kc, m, (int)(ids.n + n_new)) != 0) goto fail;
    if (rl_model_decode(m, &kc, ids.v, (int)ids.n, logits) != 0) goto fail;
    if (!quiet_prompt) fputs(prompt, stdout);
    fflush(stdout);
    rl_rng r;
    rl_rng_seed(&r, (uint64_t)seed);
    int32_t prev = ids.v[ids.n - 1];
    for (int64_t i = 0; i < n_new; i++) {
        int32_t t = next_token(logits, V, temperature, top_p, &r, p, idx);
        if (t == eos || t == bos) break;
        size_t len;
        const char *piece = rl_tok_piece(tok, prev, t, &len);
        if (piece) fwrite(piece, 1, len, stdout);
        fflush(stdout);
        prev = t;
        if (i + 1 < n_new && rl_model_decode(m, &kc, &t, 1, logits) != 0) goto fail;
    }
    fputc('\n', stdout);
    rc = 0;
fail:
    if (rc) rc = cli_report("generate");
    rl_kv_cache_free(&kc);
    free(ids.v);
    free(logits), free(p), free(idx);
    rl_loaded_free(&ld);
    return rc;
}
