/* analysis on the real model: stories260K (llama2.c) loaded by rl_load_model, greedy generation is
 * fluent English, and `ropelab analyze` runs end to end on a few short texts with its output
 * contract; the CLI's errors. */
#include "helpers.h"
#include "ropelab/analysis.h"
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Words a children's story is made of: the check that generation is English, not garbage. */
static const char *common[] = {"once", "upon", "a", "time", "there", "was", "little", "girl", "boy", "named", "she",
                               "he", "her", "his", "the", "to", "and", "in", "it", "they", "with", "play", "loved",
                               "day", "one", "saw", "big", "very", "wanted", "of", "had", "said", "mom", "friend",
                               "happy", "is", "you", "i", "on", "for", "but", "so", "go", "park", "went", "at", "be",
                               "not", "we", "that", "can", "ball", "lily", "tom", "were", "too", "what", "do", "let's",
                               "all", "them", "red", "high", "outside", "sad", "didn't", "know", "your", "want", "s"};

static int is_common(const char *w) {
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        if (strcmp(w, common[i]) == 0) return 1;
    return 0;
}

/* Fraction of the words (letters and apostrophes, lower-cased) that are common story words. */
static double common_fraction(const char *text, int *n_words) {
    int n = 0, hit = 0;
    char w[64];
    for (const char *p = text; *p;) {
        while (*p && !isalpha((unsigned char)*p)) p++;
        int k = 0;
        while (*p && (isalpha((unsigned char)*p) || *p == '\'')) {
            if (k < 63) w[k++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (!k) continue;
        w[k] = '\0';
        n++;
        hit += is_common(w);
    }
    *n_words = n;
    return n ? (double)hit / n : 0;
}

static void paths(char *model, char *tok, size_t n) {
    snprintf(model, n, "%s/stories260K.bin", rt_models_dir());
    snprintf(tok, n, "%s/tok512.bin", rt_models_dir());
}

/* Greedy decoding from BOS: the model card says it tells "Once upon a time, there was a little
 * girl ..."; we require that start, and that >= 85% of the words are common story words (measured
 * 0.96 over 100 tokens; the wrong RoPE pair layout gives 0.55, see loaded_model_decodes). */
Test(analysis_real, greedy_generation_is_english) {
    RT_REQUIRE_MODELS();
    char model[4200], tok[4200], args[9000], *out;
    paths(model, tok, sizeof model);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' -n 80 --greedy", model, tok);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    int nw;
    double f = common_fraction(out, &nw);
    cr_assert(strncmp(out, "Once upon a time", 16) == 0, "greedy output: %s", out);
    cr_assert(nw >= 40 && f >= 0.85, "%d words, %.2f common: %s", nw, f, out);
    free(out);
    /* the check can fail: random tokens are not English */
    cr_assert(common_fraction("zq lorbit xxe pl qqv ninth orb", &nw) < 0.3);
    /* sampling is seeded: same seed, same text */
    char *a, *b;
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --prompt 'Tom had a dog' -n 30 --temperature 0.8 --seed 5",
             model, tok);
    cr_assert_eq(rt_run_tool(args, &a), 0, "%s", a);
    cr_assert_eq(rt_run_tool(args, &b), 0, "%s", b);
    cr_assert_str_eq(a, b);
    cr_assert(strncmp(a, "Tom had a dog", 13) == 0, "%s", a);
    free(a), free(b);
}

/* The library on the loaded model: the same greedy start through rl_model_decode, so the loader's
 * interleaved layout is right (with the half layout the text is garbage). */
Test(analysis_real, loaded_model_decodes) {
    RT_REQUIRE_MODELS();
    char model[4200], tok[4200];
    paths(model, tok, sizeof model);
    rl_loaded ld;
    cr_assert_eq(rl_load_model(model, tok, &ld), 0, "%s", rl_error());
    cr_assert_eq(ld.model->cfg.pe[0].layout, RL_LAYOUT_INTERLEAVED);
    /* variant 1: the same tensors with the wrong (half) pair layout */
    rl_model_config half = ld.model->cfg;
    for (int l = 0; l < half.n_layers; l++) half.pe[l].layout = RL_LAYOUT_HALF;
    rl_model *wrong = rl_model_new(&half, 0);
    cr_assert_not_null(wrong, "%s", rl_error());
    for (int i = 0; i < wrong->n_tensors; i++) *wrong->table[i].slot = *ld.model->table[i].slot;
    cr_assert_eq(rl_model_check_params(wrong), 0, "%s", rl_error());
    for (int variant = 0; variant < 2; variant++) {
        rl_model *m = variant ? wrong : ld.model;
        rl_kv_cache kc;
        cr_assert_eq(rl_kv_cache_init(&kc, m, 128), 0);
        const int V = m->cfg.vocab_size;
        float *lg = malloc((size_t)V * sizeof *lg);
        int32_t t = 1, prev = 1;
        char text[4096] = "";
        size_t k = 0;
        for (int i = 0; i < 100; i++) {
            cr_assert_eq(rl_model_decode(m, &kc, &t, 1, lg), 0, "%s", rl_error());
            int b = 0;
            for (int v = 1; v < V; v++)
                if (lg[v] > lg[b]) b = v;
            size_t n;
            const char *p = rl_tok_piece(ld.tok, prev, b, &n);
            if (k + n < sizeof text - 1) memcpy(text + k, p, n), k += n;
            prev = t = b;
        }
        text[k] = '\0';
        int nw;
        double f = common_fraction(text, &nw);
        if (variant == 0) cr_assert(f >= 0.85 && strncmp(text, "Once upon a time", 16) == 0, "%.2f: %s", f, text);
        else /* measured 0.55: it starts "Once upon a time, there was a little go" and derails */
            cr_assert(f < 0.7, "half layout: %.2f common words: %s", f, text);
        rl_kv_cache_free(&kc);
        free(lg);
    }
    rl_model_free(wrong);
    rl_loaded_free(&ld);
}

/* The whole analysis through the CLI on the three short stories of tests/data/stories (docs/analysis.md's
 * worked example): exit 0, the contract files, sane values
 * (loss of a trained model on its own domain well under log(512) = 6.2 nats; usage rows; at least
 * one previous-token head, as the model is known to have - docs/analysis.md). */
Test(analysis_real, analyze_cli_end_to_end) {
    RT_REQUIRE_MODELS();
    char model[4200], tok[4200], args[32768], *out;
    paths(model, tok, sizeof model);
    char *dir = rt_tmpdir(), t[3][4300];
    const char *names[3] = {"lily", "max", "cake"};
    for (int i = 0; i < 3; i++) snprintf(t[i], sizeof t[i], "%s/tests/data/stories/%s.txt", rt_root(), names[i]);
    snprintf(args, sizeof args, "analyze '%s' --tokenizer '%s' --text '%s' '%s' '%s' --out '%s/out' --threads 1", model,
             tok, t[0], t[1], t[2], dir);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "role heads"), "%s", out);
    free(out);
    char path[4400], *js;
    snprintf(path, sizeof path, "%s/out/summary.json", dir);
    cr_assert_eq(rl_read_file(path, &js, NULL), 0);
    cJSON *j = cJSON_Parse(js);
    cr_assert_not_null(j);
    double loss = cJSON_GetObjectItem(j, "loss")->valuedouble;
    cr_assert(loss > 0.3 && loss < 3.0, "loss %g", loss);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "n_layers")->valueint, 5);
    cJSON *roles = cJSON_GetObjectItem(j, "role_heads");
    int prev = 0;
    for (int i = 0; i < cJSON_GetArraySize(roles); i++)
        prev += !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(roles, i), "role")->valuestring, "previous");
    cr_assert(prev >= 1, "no previous-token head found");
    cJSON_Delete(j);
    free(js);
    snprintf(path, sizeof path, "%s/out/freq_usage.csv", dir);
    char *csv;
    cr_assert_eq(rl_read_file(path, &csv, NULL), 0);
    cr_assert(strncmp(csv, "layer,head,kind,chunk,frequency,mean_norm\n", 42) == 0);
    int lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 1 + 5 * (8 + 4 + 4) * 4, "%d lines", lines); /* L (H + 2 KV) C rows + header */
    free(csv);
    const char *figs[] = {"freq_usage_layers.png", "freq_usage_layers.svg", "head_scores.png", "ablations.png"};
    for (size_t i = 0; i < sizeof figs / sizeof *figs; i++) {
        snprintf(path, sizeof path, "%s/out/%s", dir, figs[i]);
        cr_assert(rl_file_exists(path), "%s missing", figs[i]);
    }
    rt_rmtree(dir);
    free(dir);
}

/* CLI errors: one message naming the culprit, exit 1 for runtime errors and 2 for usage errors. */
Test(analysis_real, cli_errors) {
    RT_REQUIRE_MODELS();
    char model[4200], tok[4200], args[32768], *out;
    paths(model, tok, sizeof model);
    char *dir = rt_tmpdir(), empty[4300], good[4300];
    snprintf(empty, sizeof empty, "%s/empty.txt", dir);
    cr_assert_eq(rl_write_atomic(empty, "", 0), 0);
    snprintf(good, sizeof good, "%s/good.txt", dir);
    cr_assert_eq(rl_write_atomic(good, "Once upon a time", 16), 0);
    snprintf(args, sizeof args, "analyze '%s' --tokenizer '%s' --text '%s/nope.txt' --out '%s/o'", model, tok, dir, dir);
    cr_assert_eq(rt_run_tool(args, &out), 1);
    cr_assert(strstr(out, "nope.txt") && strstr(out, "cannot open"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "analyze '%s' --tokenizer '%s' --text '%s' --out '%s/o'", model, tok, empty, dir);
    cr_assert_eq(rt_run_tool(args, &out), 1);
    cr_assert(strstr(out, "empty.txt") && strstr(out, "empty text"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "analyze '%s' --out '%s/o'", model, dir);
    cr_assert_eq(rt_run_tool(args, &out), 2);
    cr_assert(strstr(out, "--text"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "analyze '%s' --tokenizer '%s' --text '%s' --out '%s/o' --threshold 2", model, tok,
             good, dir);
    cr_assert_eq(rt_run_tool(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "analyze '%s/missing.bin' --text '%s' --out '%s/o'", dir, good, dir);
    cr_assert_eq(rt_run_tool(args, &out), 1);
    cr_assert(strstr(out, "missing.bin"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' -n 0", model, tok);
    cr_assert_eq(rt_run_tool(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "generate '%s' --tokenizer '%s' --greedy --temperature 0.7", model, tok);
    cr_assert_eq(rt_run_tool(args, &out), 2);
    cr_assert(strstr(out, "contradict"), "%s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}
