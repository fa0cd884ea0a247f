/* tokenizer/pre-tokenisers: the hand-written GPT-2, Llama 3 and Qwen2 split patterns against pieces
 * worked out by hand from the regexes (alternatives tried in order at each position). */
#include "../src/tokenizer/tok_internal.h"
#include "helpers.h"

#include <string.h>

typedef struct {
    char pieces[64][64];
    int n;
} collected;

static int collect(const uint8_t *p, size_t n, void *ctx) {
    collected *c = ctx;
    cr_assert(c->n < 64 && n < 64);
    memcpy(c->pieces[c->n], p, n);
    c->pieces[c->n][n] = '\0';
    c->n++;
    return 0;
}

static void check(int pre, const char *text, const char *const *want, int n_want) {
    collected c = {.n = 0};
    cr_assert_eq(tk_pretok_split(pre, (const uint8_t *)text, strlen(text), collect, &c), 0);
    for (int i = 0; i < RL_MIN(c.n, n_want); i++)
        cr_assert_str_eq(c.pieces[i], want[i], "%s split of \"%s\": piece %d is \"%s\", expected \"%s\"", tk_pre_name(pre), text,
                         i, c.pieces[i], want[i]);
    cr_assert_eq(c.n, n_want, "%s split of \"%s\": %d pieces, expected %d", tk_pre_name(pre), text, c.n, n_want);
}

#define CHECK(pre, text, ...)                                                                                          \
    do {                                                                                                               \
        const char *w_[] = {__VA_ARGS__};                                                                              \
        check(pre, text, w_, (int)RL_ARRAY_LEN(w_));                                                                   \
    } while (0)

Test(tokenizer_pretok, gpt2) {
    /* "  end": \s+(?!\S) leaves the last space to the word; "\n\n  x" likewise */
    CHECK(TK_PRE_GPT2, "Hello world's  end\n\n  x 123abc", "Hello", " world", "'s", " ", " end", "\n\n ", " x", " 123", "abc");
    /* contractions are case-sensitive in GPT-2: "'VE" is punctuation + letters */
    CHECK(TK_PRE_GPT2, "I'VE 12345 tokens!!\n\nok", "I", "'", "VE", " 12345", " tokens", "!!", "\n", "\n", "ok");
    /* Unicode classes: ï, é letters (Ll), — punctuation (Pd), 日本語 letters (Lo), ١٢٣ digits (Nd) */
    CHECK(TK_PRE_GPT2, "naïve café—日本語 ١٢٣", "naïve", " café", "—", "日本語", " ١٢٣");
    /* invalid UTF-8 bytes are single "other" characters; trailing spaces stay together */
    CHECK(TK_PRE_GPT2, "ab\xff\xfe" "cd  ", "ab", "\xff\xfe", "cd", "  ");
    CHECK(TK_PRE_GPT2, " ?!x", " ?!", "x");
    /* U+00A0 (no-break space) is \s, but only U+0020 may lead a word in GPT-2's pattern */
    CHECK(TK_PRE_GPT2, "a\xc2\xa0\xc2\xa0" "b", "a", "\xc2\xa0", "\xc2\xa0", "b");
}

Test(tokenizer_pretok, llama3_and_qwen2) {
    /* case-insensitive contractions, digits in threes, punctuation takes the newlines after it */
    CHECK(TK_PRE_LLAMA3, "I'VE 12345 tokens!!\n\nok", "I", "'VE", " ", "123", "45", " tokens", "!!\n\n", "ok");
    /* any single non-letter/digit/newline character may lead a word: "(hello", "\tb" */
    CHECK(TK_PRE_LLAMA3, "(hello) a\tb", "(hello", ")", " a", "\tb");
    /* \s*[\r\n]+ ends at the last newline of a white-space run */
    CHECK(TK_PRE_LLAMA3, "x  \n \r\n  y", "x", "  \n \r\n", " ", " y");
    CHECK(TK_PRE_LLAMA3, "a \n", "a", " \n");
    CHECK(TK_PRE_QWEN2, "x 2024!", "x", " ", "2", "0", "2", "4", "!");
}
