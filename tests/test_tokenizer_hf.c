/* tokenizer/Hugging Face tokenizer.json and GGUF arrays: small synthetic vocabularies whose expected
 * ids are worked out by hand in the comments (byte-level and sentencepiece flavours). */
#include "helpers.h"
#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#include <stdlib.h>
#include <string.h>

/* ---- fixtures -------------------------------------------------------------------------------------- */

/* GPT-2's byte alphabet, written independently of the library: printable bytes stand for
 * themselves, the 68 others map to U+0100.. in increasing byte order. */
static int alphabet_cp(int b) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    if (printable) return b;
    int k = 0;
    for (int x = 0; x < b; x++) k += !((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE));
    return 256 + k;
}

/* Appends the JSON string of byte b's alphabet character (escaped when needed). */
static size_t json_char(char *o, int b) {
    int cp = alphabet_cp(b);
    if (cp == '"' || cp == '\\') return (size_t)sprintf(o, "\\%c", cp);
    if (cp < 0x80) return (size_t)sprintf(o, "%c", cp);
    return (size_t)sprintf(o, "\\u%04X", cp);
}

/* Byte-level vocabulary: ids 0..255 the bytes; 256 he, 257 ll, 258 llo, 259 Ġt, 260 Ġthe, 261 Ġhe,
 * 262 <|endoftext|> (added, special), 263 Ġhello (reachable only with ignore_merges).
 * Merges in rank order: h e, l l, ll o, Ġ t, Ġt he, Ġ he. */
static char *bytelevel_json(int pairs_as_arrays, int llama3, int ignore_merges) {
    char *j = malloc(1 << 16), *o = j;
    o += sprintf(o, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":262,\"content\":\"<|endoftext|>\",\"special\":true}],"
                    "\"normalizer\":null,");
    if (llama3)
        o += sprintf(o, "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                        "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}"
                        "\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\","
                        "\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                        "\"use_regex\":false}]},");
    else
        o += sprintf(o, "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                        "\"use_regex\":true},");
    o += sprintf(o, "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"dropout\":null,"
                    "\"unk_token\":null,\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
                    "\"byte_fallback\":false,\"ignore_merges\":%s,\"vocab\":{",
                 ignore_merges ? "true" : "false");
    for (int b = 0; b < 256; b++) {
        *o++ = '"';
        o += json_char(o, b);
        o += sprintf(o, "\":%d,", b);
    }
    o += sprintf(o, "\"he\":256,\"ll\":257,\"llo\":258,\"\\u0120t\":259,\"\\u0120the\":260,\"\\u0120he\":261,"
                    "\"<|endoftext|>\":262,\"\\u0120hello\":263},\"merges\":[");
    if (pairs_as_arrays)
        o += sprintf(o, "[\"h\",\"e\"],[\"l\",\"l\"],[\"ll\",\"o\"],[\"\\u0120\",\"t\"],[\"\\u0120t\",\"he\"],[\"\\u0120\",\"he\"]");
    else
        o += sprintf(o, "\"h e\",\"l l\",\"ll o\",\"\\u0120 t\",\"\\u0120t he\",\"\\u0120 he\"");
    sprintf(o, "]}}");
    return j;
}

/* Sentencepiece-style vocabulary (Llama 2 layout): 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>,
 * 259 ▁, 260 h, 261 e, 262 l, 263 o, 264 ▁h, 265 ll, 266 ▁he, 267 llo, 268 ▁hello.
 * Merges in rank order: ▁ h, l l, ▁h e, ll o, ▁he llo. `normalizer` / `pre` are JSON fragments. */
static char *spm_json(const char *normalizer, const char *pre) {
    char *j = malloc(1 << 16), *o = j;
    o += sprintf(o, "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\","
                    "\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],\"normalizer\":%s,\"pre_tokenizer\":%s,"
                    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{"
                    "\"<unk>\":0,\"<s>\":1,\"</s>\":2,",
                 normalizer, pre);
    for (int b = 0; b < 256; b++) o += sprintf(o, "\"<0x%02X>\":%d,", b, 3 + b);
    o += sprintf(o, "\"\\u2581\":259,\"h\":260,\"e\":261,\"l\":262,\"o\":263,\"\\u2581h\":264,\"ll\":265,\"\\u2581he\":266,"
                    "\"llo\":267,\"\\u2581hello\":268},\"merges\":[\"\\u2581 h\",\"l l\",\"\\u2581h e\",\"ll o\",\"\\u2581he llo\"]}}");
    return j;
}

static const char *LLAMA2_NORM = "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
                                 "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]}";

static rl_tokenizer *load_json(const char *dir, const char *name, const char *json) {
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(rl_write_atomic(p, json, strlen(json)), 0);
    return rl_tok_load(p);
}

static void expect_ids(const rl_tokenizer *t, const char *text, unsigned flags, const int32_t *want, int n) {
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(t, text, strlen(text), flags, &ids), 0, "%s", rl_error());
    int same = ids.n == n;
    for (int i = 0; same && i < n; i++) same = ids.v[i] == want[i];
    if (!same) {
        char got[512] = "";
        for (int64_t i = 0; i < ids.n && strlen(got) < 480; i++) sprintf(got + strlen(got), " %d", ids.v[i]);
        cr_assert_fail("encode(\"%s\") gave [%s ]", text, got);
    }
    free(ids.v);
}

#define EXPECT(t, text, flags, ...)                                                                                   \
    do {                                                                                                              \
        const int32_t w_[] = {__VA_ARGS__};                                                                           \
        expect_ids(t, text, flags, w_, (int)RL_ARRAY_LEN(w_));                                                        \
    } while (0)

static void expect_round_trip(const rl_tokenizer *t, const char *text) {
    rl_ids ids = {0};
    cr_assert_eq(rl_tok_encode(t, text, strlen(text), 0, &ids), 0, "%s", rl_error());
    char *back;
    cr_assert_eq(rl_tok_decode(t, ids.v, ids.n, 0, &back, NULL), 0);
    cr_assert_str_eq(back, text);
    free(back);
    free(ids.v);
}

/* ---- byte-level ------------------------------------------------------------------------------------- */

/* "the hello there" splits (gpt2) into "the", " hello", " there":
 *   t h e            -> (h,e) rank 0                        -> t he          = 116 256
 *   Ġ h e l l o      -> he (0), ll (1), llo (2), Ġhe (5)    -> Ġhe llo       = 261 258
 *   Ġ t h e r e      -> he (0), Ġt (3), Ġthe (4)            -> Ġthe r e      = 260 114 101 */
Test(tokenizer_hf, bytelevel_gpt2_merges_as_strings_and_as_pairs) {
    char *dir = rt_tmpdir();
    for (int arrays = 0; arrays < 2; arrays++) {
        char *j = bytelevel_json(arrays, 0, 0);
        rl_tokenizer *t = load_json(dir, "tokenizer.json", j);
        free(j);
        cr_assert_not_null(t, "%s", rl_error());
        cr_assert_eq(rl_tok_kind_of(t), RL_TOK_BPE);
        cr_assert_eq(rl_tok_vocab_size(t), 264);
        cr_assert_eq(rl_tok_bos(t), 262); /* by name: <|endoftext|> */
        cr_assert_eq(rl_tok_eos(t), 262);
        EXPECT(t, "the hello there", 0, 116, 256, 261, 258, 260, 114, 101);
        EXPECT(t, "", 0);
        /* special tokens: recognised only with RL_ENC_SPECIAL; else "<|", "endoftext", "|>" as bytes */
        EXPECT(t, "<|endoftext|>the", RL_ENC_SPECIAL, 262, 116, 256);
        EXPECT(t, "<|endoftext|>the", 0, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>', 116, 256);
        /* bytes outside ASCII go through the alphabet: "é" = C3 A9 -> ids 0xC3 0xA9; a space is Ġ = id 32 */
        EXPECT(t, "\xc3\xa9 ", 0, 0xC3, 0xA9, 32);
        expect_round_trip(t, "the hello there \xc3\xa9\xff\x01\n\t");
        int32_t ids[] = {262, 261, 258};
        char *s;
        cr_assert_eq(rl_tok_decode(t, ids, 3, 0, &s, NULL), 0);
        cr_assert_str_eq(s, " hello");
        free(s);
        cr_assert_eq(rl_tok_decode(t, ids, 3, RL_DEC_SPECIAL, &s, NULL), 0);
        cr_assert_str_eq(s, "<|endoftext|> hello");
        free(s);
        rl_tok_free(t);
    }
    rt_rmtree(dir);
    free(dir);
}

/* Llama 3 layout: Split(llama3 regex) + ByteLevel(use_regex false). With ignore_merges a piece that
 * is a whole vocabulary entry ("Ġhello" = 263) is taken as is; without it the merges give 261 258. */
Test(tokenizer_hf, bytelevel_llama3_split_and_ignore_merges) {
    char *dir = rt_tmpdir();
    char *j = bytelevel_json(0, 1, 1);
    rl_tokenizer *t = load_json(dir, "tokenizer.json", j);
    free(j);
    cr_assert_not_null(t, "%s", rl_error());
    EXPECT(t, " hello", 0, 263);
    /* llama3 split: "I'VE" -> "I", "'VE" (case-insensitive contraction); digits in threes */
    EXPECT(t, "I'VE 1234", 0, 'I', '\'', 'V', 'E', 32, '1', '2', '3', '4');
    rl_tok_free(t);
    j = bytelevel_json(0, 1, 0);
    t = load_json(dir, "tokenizer.json", j);
    free(j);
    cr_assert_not_null(t, "%s", rl_error());
    EXPECT(t, " hello", 0, 261, 258);
    rl_tok_free(t);
    rt_rmtree(dir);
    free(dir);
}

/* ---- sentencepiece flavour ------------------------------------------------------------------------- */

/* "hello" -> "▁hello" -> ▁ h e l l o -> ▁h (0), ll (1), ▁he (2), llo (3), ▁hello (4) = 268.
 * "hello hé" -> ▁hello ▁h then é (not in the vocabulary) as bytes C3 A9 -> 3+0xC3, 3+0xA9.
 * " x" -> "▁▁x": ▁ ▁ and x as byte 0x78 -> 259 259 123. */
Test(tokenizer_hf, sentencepiece_llama2_style) {
    char *dir = rt_tmpdir();
    char *j = spm_json(LLAMA2_NORM, "null");
    rl_tokenizer *t = load_json(dir, "tokenizer.json", j);
    free(j);
    cr_assert_not_null(t, "%s", rl_error());
    cr_assert_eq(rl_tok_bos(t), 1);
    cr_assert_eq(rl_tok_eos(t), 2);
    EXPECT(t, "hello", 0, 268);
    EXPECT(t, "hello", RL_ENC_BOS | RL_ENC_EOS, 1, 268, 2);
    EXPECT(t, "hello h\xc3\xa9", 0, 268, 264, 3 + 0xC3, 3 + 0xA9);
    EXPECT(t, " x", 0, 259, 259, 3 + 'x');
    EXPECT(t, "", 0);
    EXPECT(t, "hello", RL_ENC_NO_PREFIX, 260, 261, 267);
    expect_round_trip(t, "hello h\xc3\xa9");
    expect_round_trip(t, " x\n\xff");
    /* byte tokens decode to their byte; the dummy-prefix space goes at the start and after BOS */
    int32_t ids[] = {1, 268, 3 + '\n', 1, 264, 3 + 0xC3, 3 + 0xA9};
    char *s;
    cr_assert_eq(rl_tok_decode(t, ids, 7, 0, &s, NULL), 0);
    cr_assert_str_eq(s, "hello\nh\xc3\xa9");
    free(s);
    cr_assert_eq(rl_tok_decode(t, ids, 7, RL_DEC_KEEP_PREFIX, &s, NULL), 0);
    cr_assert_str_eq(s, " hello\n h\xc3\xa9");
    free(s);
    size_t n;
    const char *p = rl_tok_piece(t, 1, 268, &n);
    cr_assert(n == 5 && memcmp(p, "hello", 5) == 0);
    p = rl_tok_piece(t, 268, 268, &n);
    cr_assert(n == 6 && memcmp(p, " hello", 6) == 0);
    p = rl_tok_piece(t, 268, 3 + 0xC3, &n);
    cr_assert(n == 1 && (uint8_t)p[0] == 0xC3);
    cr_assert_null(rl_tok_piece(t, 0, 9999, &n));
    rl_tok_free(t);
    rt_rmtree(dir);
    free(dir);
}

/* Gemma: Replace(" " -> ▁) without a prefix: "hello" -> h e l l o -> ll (1), llo (3) = 260 261 267. */
Test(tokenizer_hf, sentencepiece_gemma_and_metaspace) {
    char *dir = rt_tmpdir();
    char *j = spm_json("{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}", "null");
    rl_tokenizer *t = load_json(dir, "tokenizer.json", j);
    free(j);
    cr_assert_not_null(t, "%s", rl_error());
    EXPECT(t, "hello", 0, 260, 261, 267);
    EXPECT(t, "hello hello", 0, 260, 261, 267, 268);
    expect_round_trip(t, " hello");
    rl_tok_free(t);
    /* Metaspace(prepend_scheme first, split false): like Llama 2 for plain text */
    j = spm_json("null", "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":false}");
    t = load_json(dir, "tokenizer.json", j);
    free(j);
    cr_assert_not_null(t, "%s", rl_error());
    EXPECT(t, "hello hello", 0, 268, 268);
    rl_tok_free(t);
    rt_rmtree(dir);
    free(dir);
}

Test(tokenizer_hf, bos_eos_from_tokenizer_config) {
    char *dir = rt_tmpdir(), p[4300];
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    const char *cfg = "{\"bos_token\":{\"content\":\"</s>\"},\"eos_token\":\"<unk>\"}";
    cr_assert_eq(rl_write_atomic(p, cfg, strlen(cfg)), 0);
    char *j = spm_json(LLAMA2_NORM, "null");
    rl_tokenizer *t = load_json(dir, "tokenizer.json", j);
    free(j);
    cr_assert_not_null(t, "%s", rl_error());
    cr_assert_eq(rl_tok_bos(t), 2);
    cr_assert_eq(rl_tok_eos(t), 0);
    cr_assert_eq(rl_tok_set_special(t, 1, 2), 0);
    cr_assert_eq(rl_tok_bos(t), 1);
    cr_assert_eq(rl_tok_set_special(t, 999, 2), -1);
    rl_tok_free(t);
    rt_rmtree(dir);
    free(dir);
}

static void expect_load_error(const char *dir, const char *json, const char *frag) {
    rl_tokenizer *t = load_json(dir, "bad.json", json);
    cr_assert_null(t, "accepted: %s", json);
    cr_assert(strstr(rl_error(), "bad.json"), "message does not name the file: %s", rl_error());
    cr_assert(strstr(rl_error(), frag), "expected '%s' in: %s", frag, rl_error());
}

Test(tokenizer_hf, unsupported_and_broken_files) {
    char *dir = rt_tmpdir();
    expect_load_error(dir, "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}", "model type WordPiece is not supported");
    expect_load_error(dir, "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0.0]]}}", "model type Unigram is not supported");
    expect_load_error(dir, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a c\"]}}", "right part");
    expect_load_error(dir, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}", "merged token");
    expect_load_error(dir, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"ab\"]}}", "left right");
    expect_load_error(dir, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}", "id 0 is given to both");
    expect_load_error(dir, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", "not a valid id");
    expect_load_error(dir, "{\"normalizer\":{\"type\":\"Lowercase\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
                      "normalizer type Lowercase");
    expect_load_error(dir, "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":\"Isolated\"},"
                           "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
                      "is not one ropelab implements");
    expect_load_error(dir, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}", "not valid JSON");
    expect_load_error(dir, "{\"nomodel\":1}", "no \"model\"");
    rt_rmtree(dir);
    free(dir);
}

/* ---- GGUF arrays ------------------------------------------------------------------------------------- */

/* "llama": the sentencepiece vocabulary above with scores instead of ranks (▁h -1, ll -2, ▁he -3,
 * llo -4, ▁hello -5, others -10): "hello" -> ▁h, ll, ▁he, llo, ▁hello = 268 (best score first). */
Test(tokenizer_gguf, llama_scores) {
    const char *tok[269];
    uint64_t lens[269];
    float scores[269];
    int32_t types[269];
    char bytes[256][8];
    const char *named[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) tok[i] = named[i], types[i] = i == 0 ? 2 : 3;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], 8, "<0x%02X>", b);
        tok[3 + b] = bytes[b];
        types[3 + b] = 6;
    }
    const char *rest[] = {"\xe2\x96\x81", "h", "e", "l", "o", "\xe2\x96\x81h", "ll", "\xe2\x96\x81he", "llo", "\xe2\x96\x81hello"};
    for (int i = 0; i < 10; i++) tok[259 + i] = rest[i], types[259 + i] = 1;
    for (int i = 0; i < 269; i++) lens[i] = strlen(tok[i]), scores[i] = i >= 264 ? (float)(263 - i) : -10.0f;
    rl_tok_gguf g = {.model = "llama", .n_tokens = 269, .tokens = tok, .token_lens = lens, .scores = scores,
                     .token_types = types, .bos_id = 1, .eos_id = 2, .unk_id = 0, .pad_id = -1, .add_space_prefix = -1};
    rl_tokenizer *t = rl_tok_from_gguf(&g, "model.gguf");
    cr_assert_not_null(t, "%s", rl_error());
    cr_assert_eq(rl_tok_kind_of(t), RL_TOK_SPM);
    EXPECT(t, "hello", RL_ENC_BOS, 1, 268);
    EXPECT(t, "hello h\xc3\xa9", 0, 268, 264, 3 + 0xC3, 3 + 0xA9);
    expect_round_trip(t, "hello h\xc3\xa9 \x01");
    rl_tok_free(t);
    g.model = "bert";
    cr_assert_null(rl_tok_from_gguf(&g, "model.gguf"));
    cr_assert(strstr(rl_error(), "model.gguf") && strstr(rl_error(), "\"bert\" is not supported"), "%s", rl_error());
    g.model = "llama";
    g.bos_id = 269;
    cr_assert_null(rl_tok_from_gguf(&g, "model.gguf"));
    cr_assert(strstr(rl_error(), "bos_token_id 269"), "%s", rl_error());
    g.bos_id = 1;
    types[5] = 9;
    cr_assert_null(rl_tok_from_gguf(&g, "model.gguf"));
    cr_assert(strstr(rl_error(), "token_type[5] is 9"), "%s", rl_error());
}

/* "gpt2": the byte-level vocabulary and merges above -> the same ids as the tokenizer.json. */
Test(tokenizer_gguf, gpt2_merges) {
    char alpha[256][8];
    const char *tok[263];
    uint64_t lens[263];
    int32_t types[263];
    for (int b = 0; b < 256; b++) {
        int cp = alphabet_cp(b), n;
        if (cp < 0x80) alpha[b][0] = (char)cp, n = 1;
        else alpha[b][0] = (char)(0xC0 | cp >> 6), alpha[b][1] = (char)(0x80 | (cp & 0x3F)), n = 2;
        alpha[b][n] = '\0';
        tok[b] = alpha[b];
        types[b] = 1;
    }
    const char *rest[] = {"he", "ll", "llo", "\xc4\xa0t", "\xc4\xa0the", "\xc4\xa0he", "<|endoftext|>"};
    for (int i = 0; i < 7; i++) tok[256 + i] = rest[i], types[256 + i] = i == 6 ? 3 : 1;
    for (int i = 0; i < 263; i++) lens[i] = strlen(tok[i]);
    const char *merges[] = {"h e", "l l", "ll o", "\xc4\xa0 t", "\xc4\xa0t he", "\xc4\xa0 he"};
    uint64_t mlens[6];
    for (int i = 0; i < 6; i++) mlens[i] = strlen(merges[i]);
    rl_tok_gguf g = {.model = "gpt2", .pre = "default", .n_tokens = 263, .tokens = tok, .token_lens = lens, .token_types = types,
                     .n_merges = 6, .merges = merges, .merge_lens = mlens, .bos_id = 262, .eos_id = 262, .unk_id = -1,
                     .pad_id = -1, .add_space_prefix = -1};
    rl_tokenizer *t = rl_tok_from_gguf(&g, "model.gguf");
    cr_assert_not_null(t, "%s", rl_error());
    EXPECT(t, "the hello there", 0, 116, 256, 261, 258, 260, 114, 101);
    EXPECT(t, "<|endoftext|>the", RL_ENC_SPECIAL, 262, 116, 256);
    expect_round_trip(t, "the hello there \xc3\xa9\xff\x01\n\t");
    rl_tok_free(t);
    g.pre = "deepseek-coder";
    cr_assert_null(rl_tok_from_gguf(&g, "model.gguf"));
    cr_assert(strstr(rl_error(), "tokenizer.ggml.pre \"deepseek-coder\""), "%s", rl_error());
    g.pre = "default";
    merges[2] = "ll x";
    cr_assert_null(rl_tok_from_gguf(&g, "model.gguf"));
    cr_assert(strstr(rl_error(), "tokenizer.ggml.merges") && strstr(rl_error(), "merge 2"), "%s", rl_error());
}
