/* tokenizer/ropelab BPE: hand-checked training, determinism, byte round trips, save/load, corrupt files. */
#include "helpers.h"
#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#include <stdlib.h>
#include <string.h>

/* A small English-like corpus, generated deterministically (words drawn from a fixed list). */
static char *make_corpus(int n_docs, int words_per_doc, uint64_t seed, const char ***docs, size_t **lens) {
    static const char *words[] = {"the", "whale", "ship", "sea", "captain", "Ahab", "white", "and", "of", "to", "a",
                                  "in", "that", "his", "it", "was", "harpoon", "boat", "Ishmael", "1851", "42",
                                  "don't", "it's", "naïve", "café", "—", ",", ".", "!", "\n", "  ", "\t"};
    rl_rng r;
    rl_rng_seed(&r, seed);
    size_t cap = (size_t)n_docs * (size_t)words_per_doc * 12 + 16, o = 0;
    char *buf = malloc(cap);
    *docs = malloc((size_t)n_docs * sizeof **docs);
    *lens = malloc((size_t)n_docs * sizeof **lens);
    for (int d = 0; d < n_docs; d++) {
        size_t start = o;
        for (int w = 0; w < words_per_doc; w++) {
            if (w) buf[o++] = ' ';
            if (rl_rng_below(&r, 2)) { /* a listed word, or a random lowercase one of 2..7 letters */
                const char *x = words[rl_rng_below(&r, RL_ARRAY_LEN(words))];
                memcpy(buf + o, x, strlen(x));
                o += strlen(x);
            } else {
                for (int k = 2 + (int)rl_rng_below(&r, 6); k > 0; k--) buf[o++] = (char)('a' + rl_rng_below(&r, 26));
            }
        }
        (*docs)[d] = buf + start;
        (*lens)[d] = o - start;
    }
    return buf;
}

/* Worked by hand. The gpt2 split of "aaab aab ab" is "aaab", " aab", " ab". Pair counts:
 * (a,a) 3, (a,b) 3, (' ',a) 2 -> tie at 3, smaller second id wins: (a,a) -> 257 "aa". Words become
 * [aa a b] [' ' aa b] [' ' a b]: (a,b) 2 is the only pair above 1 -> 258 "ab". Then all pairs have
 * count 1 and the smallest (first, second) wins each time: (' ',aa) -> 259, (' ',ab) -> 260,
 * (aa,ab) -> 261 "aaab", (259,b) -> 262 " aab". No pair is left after that. */
Test(tokenizer_bpe, hand_checked_toy_training) {
    const char *doc = "aaab aab ab";
    size_t len = strlen(doc);
    rl_tokenizer *t = rl_bpe_train(&doc, &len, 1, 263, 0);
    cr_assert_not_null(t, "%s", rl_error());
    const int want[6][2] = {{'a', 'a'}, {'a', 'b'}, {' ', 257}, {' ', 258}, {257, 258}, {259, 'b'}};
    for (int m = 0; m < 6; m++) {
        int l, r;
        cr_assert_eq(rl_tok_merge_parts(t, 257 + m, &l, &r), 0);
        cr_assert(l == want[m][0] && r == want[m][1], "merge %d is (%d,%d), expected (%d,%d)", m, l, r, want[m][0], want[m][1]);
    }
    size_t n;
    const char *s = rl_tok_text(t, 262, &n);
    cr_assert(n == 4 && memcmp(s, " aab", 4) == 0);
    /* encoding applies merges by rank, leftmost first: "aaaa" -> aa + aa (there is no aa+aa merge) */
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(t, "aaaa", 4, 0, &ids), 0);
    cr_assert(ids.n == 2 && ids.v[0] == 257 && ids.v[1] == 257);
    ids.n = 0;
    cr_assert_eq(rl_tok_encode(t, "aaab aab", 8, RL_ENC_BOS | RL_ENC_EOS, &ids), 0);
    cr_assert(ids.n == 4 && ids.v[0] == 256 && ids.v[1] == 261 && ids.v[2] == 262 && ids.v[3] == 256);
    free(ids.v);
    rl_tok_free(t);
    /* one merge more than the text supports fails with advice */
    cr_assert_null(rl_bpe_train(&doc, &len, 1, 264, 0));
    cr_assert(strstr(rl_error(), "6 merges") && strstr(rl_error(), "--vocab 263"), "%s", rl_error());
    cr_assert_null(rl_bpe_train(&doc, &len, 1, 257, 0));
    cr_assert(strstr(rl_error(), "258"), "%s", rl_error());
}

Test(tokenizer_bpe, round_trip_of_arbitrary_bytes) {
    const char **docs;
    size_t *lens;
    char *buf = make_corpus(20, 400, 1, &docs, &lens);
    rl_tokenizer *t = rl_bpe_train(docs, lens, 20, 600, 0);
    cr_assert_not_null(t, "%s", rl_error());
    rl_rng r;
    rl_rng_seed(&r, 99);
    for (int trial = 0; trial < 300; trial++) {
        uint8_t x[300];
        size_t n = rl_rng_below(&r, sizeof x);
        int mode = trial % 3;
        for (size_t i = 0; i < n; i++) {
            if (mode == 0) x[i] = (uint8_t)rl_rng_below(&r, 256); /* any bytes: NUL, invalid UTF-8 */
            else if (mode == 1) x[i] = (uint8_t)" aeht\n\xc3\xa9\xe2\x80\x94'"[rl_rng_below(&r, 12)]; /* broken UTF-8 pieces */
            else x[i] = (uint8_t)docs[trial % 20][i % lens[trial % 20]];
        }
        rl_ids ids = {0};
        cr_assert_eq(rl_tok_encode(t, x, n, 0, &ids), 0, "%s", rl_error());
        for (int64_t i = 0; i < ids.n; i++) cr_assert(ids.v[i] >= 0 && ids.v[i] < 600 && ids.v[i] != 256);
        char *back;
        size_t m;
        cr_assert_eq(rl_tok_decode(t, ids.v, ids.n, 0, &back, &m), 0);
        cr_assert(m == n && memcmp(back, x, n) == 0, "round trip failed (trial %d, %zu bytes)", trial, n);
        /* streaming pieces concatenate to the same bytes */
        size_t k = 0;
        for (int64_t i = 0; i < ids.n; i++) {
            size_t pl;
            const char *p = rl_tok_piece(t, i ? ids.v[i - 1] : -1, ids.v[i], &pl);
            cr_assert(k + pl <= n && memcmp(p, x + k, pl) == 0);
            k += pl;
        }
        cr_assert_eq(k, n);
        free(back);
        free(ids.v);
    }
    /* the trained vocabulary compresses its own text */
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(t, docs[0], lens[0], 0, &ids), 0);
    cr_assert(ids.n * 2 < (int64_t)lens[0], "%lld tokens for %zu bytes", (long long)ids.n, lens[0]);
    free(ids.v);
    rl_tok_free(t);
    free(buf);
    free(docs);
    free(lens);
}

static char *tmpfile_path(const char *dir, const char *name) {
    char *p = malloc(4200);
    snprintf(p, 4200, "%s/%s", dir, name);
    return p;
}

Test(tokenizer_bpe, deterministic_and_save_load_identity) {
    const char **docs;
    size_t *lens;
    char *buf = make_corpus(10, 500, 7, &docs, &lens);
    char *dir = rt_tmpdir(), *p1 = tmpfile_path(dir, "a.bin"), *p2 = tmpfile_path(dir, "b.bin"), *p3 = tmpfile_path(dir, "c.bin");
    rl_tokenizer *a = rl_bpe_train(docs, lens, 10, 700, 0), *b = rl_bpe_train(docs, lens, 10, 700, 0);
    cr_assert(a && b, "%s", rl_error());
    cr_assert_eq(rl_tok_save(a, p1), 0, "%s", rl_error());
    cr_assert_eq(rl_tok_save(b, p2), 0);
    char *d1, *d2;
    size_t n1, n2;
    cr_assert_eq(rl_read_file(p1, &d1, &n1), 0);
    cr_assert_eq(rl_read_file(p2, &d2, &n2), 0);
    cr_assert(n1 == n2 && memcmp(d1, d2, n1) == 0, "two trainings on the same text differ");
    cr_assert_eq(n1, 40 + 8 + 7 + (700 - 257) * 8 + 8, "file size %zu", n1);
    /* reload: same vocabulary, same encodings, and saving again gives the same bytes */
    rl_tokenizer *c = rl_tok_load(p1);
    cr_assert_not_null(c, "%s", rl_error());
    cr_assert_eq(rl_tok_kind_of(c), RL_TOK_ROPELAB);
    cr_assert_eq(rl_tok_vocab_size(c), 700);
    cr_assert_eq(rl_tok_bos(c), 256);
    for (int id = 0; id < 700; id++) {
        size_t la, lc;
        const char *sa = rl_tok_text(a, id, &la), *sc = rl_tok_text(c, id, &lc);
        cr_assert(la == lc && memcmp(sa, sc, la) == 0, "token %d differs after reload", id);
    }
    for (int d = 0; d < 10; d++) {
        rl_ids x = {0}, y = {0};
        cr_assert_eq(rl_tok_encode(a, docs[d], lens[d], 0, &x), 0);
        cr_assert_eq(rl_tok_encode(c, docs[d], lens[d], 0, &y), 0);
        cr_assert(x.n == y.n && memcmp(x.v, y.v, (size_t)x.n * 4) == 0);
        free(x.v);
        free(y.v);
    }
    cr_assert_eq(rl_tok_save(c, p3), 0);
    char *d3;
    size_t n3;
    cr_assert_eq(rl_read_file(p3, &d3, &n3), 0);
    cr_assert(n3 == n1 && memcmp(d1, d3, n1) == 0);
    free(d1);
    free(d2);
    free(d3);
    rl_tok_free(a);
    rl_tok_free(b);
    rl_tok_free(c);
    rt_rmtree(dir);
    free(dir);
    free(p1);
    free(p2);
    free(p3);
    free(buf);
    free(docs);
    free(lens);
}

/* Writes `data` (n bytes) to path, fixing the trailing checksum when fix != 0. */
static void write_variant(const char *path, const char *data, size_t n, int fix) {
    char *d = malloc(n + 1);
    memcpy(d, data, n);
    if (fix && n >= 8) {
        uint64_t h = rl_hash64(d, n - 8, 0);
        for (int i = 0; i < 8; i++) d[n - 8 + (size_t)i] = (char)(h >> (8 * i));
    }
    cr_assert_eq(rl_write_atomic(path, d, n), 0);
    free(d);
}

static void put32(char *p, int32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (char)((uint32_t)v >> (8 * i));
}

/* Loads path, expects failure with every fragment in the message. */
static void expect_reject(const char *path, const char *frag1, const char *frag2) {
    rl_tokenizer *t = rl_tok_load_ropelab(path);
    cr_assert_null(t, "corrupt file accepted (%s)", frag1);
    const char *e = rl_error();
    cr_assert(strstr(e, path), "message does not name the file: %s", e);
    cr_assert(strstr(e, frag1), "expected '%s' in: %s", frag1, e);
    if (frag2) cr_assert(strstr(e, frag2), "expected '%s' in: %s", frag2, e);
}

Test(tokenizer_bpe, corrupt_files_are_rejected) {
    const char **docs;
    size_t *lens;
    char *buf = make_corpus(4, 300, 3, &docs, &lens);
    rl_tokenizer *t = rl_bpe_train(docs, lens, 4, 300, 0);
    cr_assert_not_null(t);
    char *dir = rt_tmpdir(), *good = tmpfile_path(dir, "good.bin"), *bad = tmpfile_path(dir, "bad.bin");
    cr_assert_eq(rl_tok_save(t, good), 0);
    char *d;
    size_t n;
    cr_assert_eq(rl_read_file(good, &d, &n), 0);
    /* truncations anywhere */
    size_t cuts[] = {0, 7, 20, 47, 60, n - 9, n - 1};
    for (size_t i = 0; i < RL_ARRAY_LEN(cuts); i++) {
        write_variant(bad, d, cuts[i], 0);
        expect_reject(bad, "truncated", NULL);
    }
    /* trailing bytes */
    char *longer = malloc(n + 8);
    memcpy(longer, d, n);
    memset(longer + n, 0, 8);
    write_variant(bad, longer, n + 8, 0);
    expect_reject(bad, "trailing", NULL);
    free(longer);
    char *v = malloc(n);
    /* header fields, checksum fixed so that the field check is what fails */
    struct {
        size_t off;
        int32_t val;
        const char *field;
    } fields[] = {{8, 2, "version"}, {12, 301, "vocab_size"}, {16, -5, "n_merges"}, {20, 2, "n_special"},
                  {24, 0, "bos_id"}, {32, 7, "pretokenizer"}, {36, 1, "reserved"}, {40, 255, "special[0].id"}};
    for (size_t i = 0; i < RL_ARRAY_LEN(fields); i++) {
        memcpy(v, d, n);
        put32(v + fields[i].off, fields[i].val);
        write_variant(bad, v, n, 1);
        char off[32];
        snprintf(off, sizeof off, "offset %zu", fields[i].off);
        expect_reject(bad, fields[i].field, fields[i].off == 12 || fields[i].off == 16 ? NULL : off);
    }
    memcpy(v, d, n);
    v[0] = 'X';
    write_variant(bad, v, n, 1);
    expect_reject(bad, "magic", "offset 0");
    /* merge ids out of range: negative, the BOS, a later merge, beyond the vocabulary */
    size_t m0 = 40 + 8 + 7;
    int32_t bad_ids[] = {-1, 256, 260, 5000}; /* merge 3 may use 0..255 and 257..259 */
    for (size_t i = 0; i < RL_ARRAY_LEN(bad_ids); i++) {
        memcpy(v, d, n);
        put32(v + m0 + 8 * 3 + 4, bad_ids[i]); /* merge 3 (token 260), right part */
        write_variant(bad, v, n, 1);
        char off[32];
        snprintf(off, sizeof off, "offset %zu", m0 + 28);
        expect_reject(bad, "merge[3].right", off);
    }
    /* a flipped byte without a fixed checksum */
    memcpy(v, d, n);
    v[m0 + 4] ^= 1;
    write_variant(bad, v, n, 0);
    expect_reject(bad, "checksum", NULL);
    /* a repeated merge pair */
    memcpy(v, d, n);
    memcpy(v + m0 + 8, v + m0, 8);
    write_variant(bad, v, n, 1);
    expect_reject(bad, "repeats", NULL);
    /* the original still loads */
    rl_tokenizer *ok = rl_tok_load_ropelab(good);
    cr_assert_not_null(ok, "%s", rl_error());
    rl_tok_free(ok);
    free(v);
    free(d);
    rl_tok_free(t);
    rt_rmtree(dir);
    free(dir);
    free(good);
    free(bad);
    free(buf);
    free(docs);
    free(lens);
}

Test(tokenizer_bpe, decode_rejects_bad_ids_and_bos_needs_a_vocab) {
    const char *doc = "aaab aab ab";
    size_t len = strlen(doc);
    rl_tokenizer *t = rl_bpe_train(&doc, &len, 1, 260, 0);
    int32_t ids[] = {97, 260};
    char *s;
    cr_assert_eq(rl_tok_decode(t, ids, 2, 0, &s, NULL), -1);
    cr_assert(strstr(rl_error(), "260") && strstr(rl_error(), "position 1"), "%s", rl_error());
    /* BOS decodes to nothing unless asked */
    int32_t b[] = {256, 97, 256};
    size_t n;
    cr_assert_eq(rl_tok_decode(t, b, 3, 0, &s, &n), 0);
    cr_assert_str_eq(s, "a");
    free(s);
    cr_assert_eq(rl_tok_decode(t, b, 3, RL_DEC_SPECIAL, &s, &n), 0);
    cr_assert_str_eq(s, "<|bos|>a<|bos|>");
    free(s);
    /* special-token parsing only on request */
    rl_ids x = {0};
    cr_assert_eq(rl_tok_encode(t, "<|bos|>a", 8, RL_ENC_SPECIAL, &x), 0);
    cr_assert(x.n == 2 && x.v[0] == 256 && x.v[1] == 97);
    x.n = 0;
    cr_assert_eq(rl_tok_encode(t, "<|bos|>a", 8, 0, &x), 0);
    cr_assert(x.n > 2 && x.v[0] == '<');
    free(x.v);
    rl_tok_free(t);
}
