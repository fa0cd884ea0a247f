/* data/prepare: `ropelab data prepare` end to end on a small text: documents, split, shards, data.json, errors. */
#include "helpers.h"
#include "ropelab/data.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define N_DOCS 20

/* Document k: a few sentences that name k, so every decoded document can be identified. */
static void make_doc(int k, char *out, size_t cap) {
    static const char *s[] = {"The whale rose from the sea.", "Ishmael watched the white spray.",
                              "It was a cold, grey morning; the crew said nothing.", "Numbers: 1851, 42 and 7."};
    size_t o = (size_t)snprintf(out, cap, "Document %d.", k);
    for (int i = 0; i < 3 + k % 4; i++) o += (size_t)snprintf(out + o, cap - o, "%s%s", i % 2 ? "\n" : " ", s[(k + i) % 4]);
}

/* Writes docs 0..11 to a.txt and 12..19 to b.txt, separated by form feeds, plus two empty pieces. */
static void write_corpus(const char *dir, char docs[N_DOCS][512]) {
    for (int k = 0; k < N_DOCS; k++) make_doc(k, docs[k], sizeof docs[k]);
    char *buf = malloc(1 << 16), p[4300];
    for (int f = 0; f < 2; f++) {
        size_t o = 0;
        for (int k = f ? 12 : 0; k < (f ? N_DOCS : 12); k++) o += (size_t)sprintf(buf + o, "\n%s\n\f", docs[k]);
        o += (size_t)sprintf(buf + o, "  \n\f\n");
        snprintf(p, sizeof p, "%s/%s", dir, f ? "b.txt" : "a.txt");
        cr_assert_eq(rl_write_atomic(p, buf, o), 0);
    }
    free(buf);
}

static int run(const char *fmt, const char *a, const char *b, char **out) {
    char args[9000];
    snprintf(args, sizeof args, fmt, a, b);
    return rt_run_tool(args, out);
}

static cJSON *read_json(const char *dir) {
    char p[4300], *text;
    size_t n;
    snprintf(p, sizeof p, "%s/data.json", dir);
    cr_assert_eq(rl_read_file(p, &text, &n), 0, "%s", rl_error());
    cJSON *j = cJSON_ParseWithLength(text, n);
    free(text);
    cr_assert_not_null(j);
    return j;
}

static double num(const cJSON *j, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    cr_assert(cJSON_IsNumber(x), "data.json has no %s.%s", a, b ? b : "");
    return x->valuedouble;
}

/* Decodes a shard into documents (split at BOS) and marks which input document each one is. */
static int shard_docs(const rl_dataset *d, const rl_shard *s, char docs[N_DOCS][512], int *seen) {
    cr_assert_eq(rl_shard_token(s, 0), rl_tok_bos(d->tok), "a shard starts with BOS");
    int count = 0;
    int64_t a = 0;
    int32_t *all = malloc((size_t)s->n_tokens * sizeof *all);
    rl_shard_read(s, 0, s->n_tokens, all);
    for (int64_t i = 1; i <= s->n_tokens; i++) {
        if (i < s->n_tokens && all[i] != rl_tok_bos(d->tok)) continue;
        char *text;
        size_t n;
        cr_assert_eq(rl_tok_decode(d->tok, all + a + 1, i - a - 1, 0, &text, &n), 0);
        int found = -1;
        for (int k = 0; k < N_DOCS; k++)
            if (strlen(docs[k]) == n && memcmp(docs[k], text, n) == 0) found = k;
        cr_assert(found >= 0, "decoded document is not one of the inputs: \"%.80s\"", text);
        cr_assert_eq(seen[found], 0, "document %d appears twice", found);
        seen[found] = 1;
        free(text);
        count++;
        a = i;
    }
    free(all);
    return count;
}

Test(data_prepare, end_to_end) {
    char *dir = rt_tmpdir(), out1[1200], out2[1200], a[1200], b[1200];
    static char docs[N_DOCS][512];
    write_corpus(dir, docs);
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    snprintf(out1, sizeof out1, "%s/out1", dir);
    snprintf(out2, sizeof out2, "%s/out2", dir);
    char *out, args[9000];
    snprintf(args, sizeof args, "data prepare --text '%s' '%s' --vocab 300 --out '%s' --val-frac 0.25 --seed 3", a, b, out1);
    int rc = rt_run_tool(args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "15 train + 5 validation (2 empty skipped)"), "%s", out);
    free(out);
    rl_dataset d;
    cr_assert_eq(rl_dataset_open(&d, out1), 0, "%s", rl_error());
    cr_assert_eq(rl_tok_vocab_size(d.tok), 300);
    int seen[N_DOCS] = {0};
    int n_train = shard_docs(&d, &d.train, docs, seen), n_val = shard_docs(&d, &d.val, docs, seen);
    cr_assert(n_train == 15 && n_val == 5, "%d train, %d val documents", n_train, n_val);
    for (int k = 0; k < N_DOCS; k++) cr_assert(seen[k], "document %d is missing", k);
    /* data.json agrees with the shards */
    cJSON *j = read_json(out1);
    cr_assert_eq(num(j, "vocab_size", NULL), 300);
    cr_assert_eq(num(j, "train", "tokens"), (double)d.train.n_tokens);
    cr_assert_eq(num(j, "val", "tokens"), (double)d.val.n_tokens);
    cr_assert_eq(num(j, "train", "documents"), 15);
    cr_assert_eq(num(j, "documents_skipped_empty", NULL), 2);
    size_t bytes = 0;
    for (int k = 0; k < N_DOCS; k++) bytes += strlen(docs[k]);
    cr_assert_eq(num(j, "train", "bytes") + num(j, "val", "bytes"), (double)bytes);
    cJSON_Delete(j);
    rl_dataset_close(&d);
    /* deterministic: the same command writes the same bytes, with one thread as with several */
    const char *bin = getenv("ROPELAB_BIN");
    snprintf(args, sizeof args,
             "OMP_NUM_THREADS=1 ROPELAB_QUIET=1 '%s' data prepare --text '%s' '%s' --vocab 300 --out '%s' --val-frac 0.25 --seed 3",
             bin && *bin ? bin : "./ropelab", a, b, out2);
    cr_assert_eq(rt_sh(args, NULL), 0);
    const char *files[] = {"tokenizer.bin", "train.bin", "val.bin"};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "cmp '%s/%s' '%s/%s'", out1, files[i], out2, files[i]);
        cr_assert_eq(rt_sh(args, NULL), 0, "%s differs between two identical runs", files[i]);
    }
    /* another seed holds out other documents */
    snprintf(args, sizeof args, "data prepare --text '%s' '%s' --vocab 300 --out '%s' --val-frac 0.25 --seed 4", a, b, out2);
    cr_assert_eq(rt_run_tool(args, NULL), 0);
    j = read_json(out1);
    cJSON *k2 = read_json(out2);
    char *v1 = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "val_documents"));
    char *v2 = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(k2, "val_documents"));
    cr_assert(strcmp(v1, v2) != 0, "seeds 3 and 4 hold out the same documents %s", v1);
    free(v1);
    free(v2);
    cJSON_Delete(j);
    cJSON_Delete(k2);
    /* info describes the folder */
    rc = run("data info '%s'%s", out1, "", &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "magic 20241008, version 1, vocab_size 300"), "%s", out);
    free(out);
    /* encode / decode through the saved tokenizer */
    snprintf(args, sizeof args, "data encode --tokenizer '%s/tokenizer.bin' --text 'The whale rose.' --bos", out1);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert(strncmp(out, "256 ", 4) == 0, "%s", out);
    out[strcspn(out, "\n")] = '\0';
    snprintf(args, sizeof args, "data decode --tokenizer '%s/tokenizer.bin' %s", out1, out);
    free(out);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    cr_assert_str_eq(out, "The whale rose.\n");
    free(out);
    /* a tokenizer from another preparation does not fit these shards */
    snprintf(args, sizeof args, "data prepare --text '%s' '%s' --vocab 280 --out '%s' && cp '%s/tokenizer.bin' '%s/'", a, b, out2,
             out2, out1);
    cr_assert_eq(rt_run_tool(args, &out), 0, "%s", out);
    free(out);
    cr_assert_eq(rl_dataset_open(&d, out1), -1);
    cr_assert(strstr(rl_error(), "train.bin") && strstr(rl_error(), "vocab_size at offset 8 is 300") &&
                  strstr(rl_error(), "tokenizer has 280"),
              "%s", rl_error());
    rc = run("data info '%s'%s", out1, "", &out);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(out, "do not belong together"), "%s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}

Test(data_prepare, document_modes_and_bad_values) {
    char *dir = rt_tmpdir(), p[1200], o[1200], *out;
    snprintf(p, sizeof p, "%s/one.txt", dir);
    snprintf(o, sizeof o, "%s/out", dir);
    /* three paragraphs: two separated by one blank line (same document), then two blank lines */
    const char *text = "First paragraph of the first text.\n\nSecond paragraph, same document.\n\n\n"
                       "A new document after two blank lines.\n \n\t\nAnd a third one.\n";
    cr_assert_eq(rl_write_atomic(p, text, strlen(text)), 0);
    cr_assert_eq(run("data prepare --text '%s' --vocab 270 --out '%s' --doc-split blank", p, o, &out), 0, "%s", out);
    free(out);
    cJSON *j = read_json(o);
    cr_assert_eq(num(j, "train", "documents") + num(j, "val", "documents"), 3);
    cr_assert_eq(num(j, "val", "documents"), 1); /* round(0.1 * 3) = 0, raised to the minimum of 1 */
    cJSON_Delete(j);
    /* one document cannot be split */
    cr_assert_eq(run("data prepare --text '%s' --vocab 270 --out '%s'", p, o, &out), 1);
    cr_assert(strstr(out, "1 non-empty document") && strstr(out, "at least 2"), "%s", out);
    free(out);
    /* bad values: usage errors (exit 2) that name the option */
    const char *bad[][2] = {{"--vocab 100", "--vocab 100"},        {"--vocab 4096 --val-frac 1.5", "--val-frac 1.5"},
                            {"--val-frac 0", "--val-frac 0"},       {"--doc-split chapters", "unknown document split"},
                            {"--vocab abc", "--vocab: 'abc'"},     {"--seed -1", "--seed -1"}};
    for (size_t i = 0; i < RL_ARRAY_LEN(bad); i++) {
        char args[9000];
        snprintf(args, sizeof args, "data prepare --text '%s' --out '%s' %s", p, o, bad[i][0]);
        cr_assert_eq(rt_run_tool(args, &out), 2, "%s: %s", bad[i][0], out);
        cr_assert(strstr(out, bad[i][1]), "%s: %s", bad[i][0], out);
        free(out);
    }
    cr_assert_eq(run("data prepare --text '%s' %s", p, "", &out), 2);
    cr_assert(strstr(out, "--out DIR is required"), "%s", out);
    free(out);
    cr_assert_eq(run("data prepare --text '%s/missing.txt' --out '%s'", dir, o, &out), 1);
    cr_assert(strstr(out, "missing.txt") && strstr(out, "cannot open"), "%s", out);
    free(out);
    /* a corpus too small for the vocabulary says how far it can go */
    cr_assert_eq(run("data prepare --text '%s' --doc-split blank --vocab 5000 --out '%s'", p, o, &out), 1);
    cr_assert(strstr(out, "use --vocab"), "%s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}
