/* tokenizer/llama2.c: tok512.bin against a naive transcription of llama2.c run.c encode() written
 * here (linear vocabulary search, O(n^2) best-pair loop), plus ids checked by hand in the vocab. */
#include "helpers.h"
#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int n;
    char **s;
    int *len;
    float *score;
} ref_vocab;

static void ref_load(const char *path, ref_vocab *v) {
    char *d;
    size_t n;
    cr_assert_eq(rl_read_file(path, &d, &n), 0, "%s", rl_error());
    v->n = 512;
    v->s = calloc(512, sizeof *v->s);
    v->len = calloc(512, sizeof *v->len);
    v->score = calloc(512, sizeof *v->score);
    size_t o = 4;
    for (int i = 0; i < 512; i++) {
        memcpy(&v->score[i], d + o, 4);
        memcpy(&v->len[i], d + o + 4, 4);
        v->s[i] = malloc((size_t)v->len[i] + 1);
        memcpy(v->s[i], d + o + 8, (size_t)v->len[i]);
        o += 8 + (size_t)v->len[i];
    }
    cr_assert_eq(o, n);
    free(d);
}

static void ref_free(ref_vocab *v) {
    for (int i = 0; i < v->n; i++) free(v->s[i]);
    free(v->s);
    free(v->len);
    free(v->score);
}

static int ref_lookup(const ref_vocab *v, const char *s, int n) {
    for (int i = 0; i < v->n; i++)
        if (v->len[i] == n && memcmp(v->s[i], s, (size_t)n) == 0) return i;
    return -1;
}

/* run.c encode(): BOS, dummy prefix " " (non-empty text), code points (a byte and its following
 * continuation bytes, at most 4) looked up or split into byte tokens id = byte + 3, then merge the
 * adjacent pair whose concatenation has the highest score (first such pair on ties) until none. */
static int ref_encode(const ref_vocab *v, const char *text, int n, int bos, int *out) {
    int k = 0;
    if (bos) out[k++] = 1;
    if (n > 0) out[k++] = ref_lookup(v, " ", 1);
    for (int i = 0; i < n;) {
        int len = 1;
        while (i + len < n && len < 4 && ((uint8_t)text[i + len] & 0xC0) == 0x80) len++;
        int id = ref_lookup(v, text + i, len);
        if (id >= 0) out[k++] = id;
        else
            for (int j = 0; j < len; j++) out[k++] = (uint8_t)text[i + j] + 3;
        i += len;
    }
    char buf[64];
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_i = -1;
        for (int i = 0; i + 1 < k; i++) {
            int la = v->len[out[i]], lb = v->len[out[i + 1]];
            if (la + lb > 60) continue;
            memcpy(buf, v->s[out[i]], (size_t)la);
            memcpy(buf + la, v->s[out[i + 1]], (size_t)lb);
            int id = ref_lookup(v, buf, la + lb);
            if (id != -1 && v->score[id] > best) best = v->score[id], best_id = id, best_i = i;
        }
        if (best_i < 0) break;
        out[best_i] = best_id;
        memmove(out + best_i + 1, out + best_i + 2, (size_t)(k - best_i - 2) * sizeof *out);
        k--;
    }
    return k;
}

static char *tok_path(void) {
    static char p[4200];
    snprintf(p, sizeof p, "%s/tok512.bin", rt_models_dir());
    return p;
}

static void compare(const rl_tokenizer *t, const ref_vocab *v, const char *text, int n, int bos) {
    int *want = malloc(((size_t)n + 2) * 4 * sizeof *want);
    int k = ref_encode(v, text, n, bos, want);
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(t, text, (size_t)n, bos ? RL_ENC_BOS : 0, &ids), 0, "%s", rl_error());
    int same = ids.n == k;
    for (int i = 0; same && i < k; i++) same = ids.v[i] == want[i];
    if (!same) {
        char msg[4096] = "";
        size_t o = 0;
        for (int i = 0; i < n && o < 3000; i++) o += (size_t)sprintf(msg + o, "%02x", (uint8_t)text[i]);
        o += (size_t)sprintf(msg + o, "\nours:");
        for (int64_t i = 0; i < ids.n && o < 3500; i++) o += (size_t)sprintf(msg + o, " %d", ids.v[i]);
        o += (size_t)sprintf(msg + o, "\nrun.c:");
        for (int i = 0; i < k && o < 4000; i++) o += (size_t)sprintf(msg + o, " %d", want[i]);
        cr_assert_fail("ids differ from run.c's for a %d-byte text: %s", n, msg);
    }
    /* and decoding gives the text back (the dummy-prefix space is removed) */
    char *back;
    size_t m;
    cr_assert_eq(rl_tok_decode(t, ids.v, ids.n, 0, &back, &m), 0);
    cr_assert(m == (size_t)n && memcmp(back, text, m) == 0, "round trip failed for a %d-byte text", n);
    free(back);
    free(ids.v);
    free(want);
}

Test(tokenizer_llama2c, tok512_matches_run_c) {
    RT_REQUIRE_MODELS();
    rl_tokenizer *t = rl_tok_load(tok_path());
    cr_assert_not_null(t, "%s", rl_error());
    cr_assert_eq(rl_tok_kind_of(t), RL_TOK_SPM);
    cr_assert_eq(rl_tok_vocab_size(t), 512);
    cr_assert_eq(rl_tok_bos(t), 1);
    cr_assert_eq(rl_tok_eos(t), 2);
    ref_vocab v;
    ref_load(tok_path(), &v);
    const char *texts[] = {"Once upon a time, there was a little girl named Lily. She loved to play outside.",
                           "", "a", "hello", " leading space", "two  spaces\tand a tab\n\nnew lines",
                           "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac", "The end.\n"};
    for (size_t i = 0; i < RL_ARRAY_LEN(texts); i++)
        for (int bos = 0; bos < 2; bos++) compare(t, &v, texts[i], (int)strlen(texts[i]), bos);
    /* random texts: story words, then arbitrary bytes (NUL and invalid UTF-8 included) */
    static const char *words[] = {"the", "cat", "sat", "on", "mat", "Lily", "happy", "!", ",", ".", "\n", "tree", "Tim",
                                  "said", "\"", "big", "red", "ball", "'", "12", "z", "qu", "\xc3\xa9"};
    rl_rng r;
    rl_rng_seed(&r, 5);
    char buf[400];
    for (int trial = 0; trial < 200; trial++) {
        int n = 0;
        if (trial % 2 == 0) {
            while (n < 300) {
                const char *w = words[rl_rng_below(&r, RL_ARRAY_LEN(words))];
                if (rl_rng_below(&r, 3)) buf[n++] = ' ';
                memcpy(buf + n, w, strlen(w));
                n += (int)strlen(w);
            }
        } else {
            n = (int)rl_rng_below(&r, 120);
            for (int i = 0; i < n; i++) buf[i] = (char)rl_rng_below(&r, 256);
        }
        compare(t, &v, buf, n, trial % 3 == 0);
    }
    ref_free(&v);
    rl_tok_free(t);
}

/* By hand from the vocabulary: 261 " a", 265 " the", 259 " t", 260 "he"; bytes are id byte + 3. */
Test(tokenizer_llama2c, known_ids_and_byte_tokens) {
    RT_REQUIRE_MODELS();
    rl_tokenizer *t = rl_tok_load_llama2c(tok_path(), 512);
    cr_assert_not_null(t, "%s", rl_error());
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(t, "a", 1, RL_ENC_BOS | RL_ENC_EOS, &ids), 0);
    cr_assert(ids.n == 3 && ids.v[0] == 1 && ids.v[1] == 261 && ids.v[2] == 2);
    ids.n = 0;
    cr_assert_eq(rl_tok_encode(t, "the", 3, 0, &ids), 0);
    cr_assert(ids.n == 1 && ids.v[0] == 265, "got %lld ids, first %d", (long long)ids.n, ids.v[0]);
    free(ids.v);
    /* byte tokens decode to their byte: <0x0A> is id 13, <0xE2> 0x82 0xAC is the euro sign */
    int32_t x[] = {1, 265, 13, 3 + 0xE2, 3 + 0x82, 3 + 0xAC};
    char *s;
    cr_assert_eq(rl_tok_decode(t, x, 6, 0, &s, NULL), 0);
    cr_assert_str_eq(s, "the\n\xe2\x82\xac");
    free(s);
    size_t n;
    const char *p = rl_tok_piece(t, 1, 265, &n); /* after BOS the leading space goes, as run.c */
    cr_assert(n == 3 && memcmp(p, "the", 3) == 0);
    p = rl_tok_piece(t, 265, 265, &n);
    cr_assert(n == 4 && memcmp(p, " the", 4) == 0);
    p = rl_tok_piece(t, 265, 13, &n);
    cr_assert(n == 1 && p[0] == '\n');
    p = rl_tok_piece(t, 265, 2, &n);
    cr_assert_eq(n, 0);
    rl_tok_free(t);
    /* the model's vocabulary size is checked against the file */
    cr_assert_null(rl_tok_load_llama2c(tok_path(), 600));
    cr_assert(strstr(rl_error(), "after 512 tokens, the model needs 600"), "%s", rl_error());
}

Test(tokenizer_llama2c, truncated_file_is_rejected) {
    RT_REQUIRE_MODELS();
    char *d;
    size_t n;
    cr_assert_eq(rl_read_file(tok_path(), &d, &n), 0);
    char *dir = rt_tmpdir(), p[4300];
    snprintf(p, sizeof p, "%s/tok.bin", dir);
    size_t cuts[] = {2, 9, 100, n - 1};
    for (size_t i = 0; i < RL_ARRAY_LEN(cuts); i++) {
        cr_assert_eq(rl_write_atomic(p, d, cuts[i]), 0);
        cr_assert_null(rl_tok_load_llama2c(p, 512));
        cr_assert(strstr(rl_error(), p) && strstr(rl_error(), "truncated"), "%s", rl_error());
    }
    /* a bad length field */
    memset(d + 4 + 4, 0xff, 4);
    cr_assert_eq(rl_write_atomic(p, d, n), 0);
    cr_assert_null(rl_tok_load_llama2c(p, 0));
    cr_assert(strstr(rl_error(), "field length of token 0 at offset 8"), "%s", rl_error());
    free(d);
    rt_rmtree(dir);
    free(dir);
}
