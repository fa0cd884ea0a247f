/* Pre-tokenisers: the GPT-2, Llama 3 and Qwen2 split patterns, hand-written over code points.
 *
 * Each pattern is an alternation tried in order at the current position (leftmost-first, as in
 * regex engines); every character is covered by some alternative, so the pieces tile the text.
 *   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2:  llama3 with \p{N} instead of \p{N}{1,3}
 * Approximation: (?i) is ASCII case folding only (Unicode folding would also let e.g. U+017F
 * LONG S match 's'); classes come from Unicode 14 (src/tokenizer/unicode_tables.c). */
#include "tok_internal.h"

#include <stdlib.h>

typedef struct {
    uint32_t off; /* byte offset of the character */
    uint8_t cls;  /* UC_* */
    uint8_t ch;   /* the character if ASCII, else 0 */
} uchar;

const char *tk_pre_name(int pre) {
    switch (pre) {
    case TK_PRE_GPT2: return "gpt2";
    case TK_PRE_LLAMA3: return "llama3";
    case TK_PRE_QWEN2: return "qwen2";
    default: return "none";
    }
}

static inline int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Length (in characters) of a contraction at i, or 0. icase: ASCII case-insensitive. */
static size_t contraction(const uchar *c, size_t i, size_t n, int icase) {
    if (c[i].ch != '\'' || i + 1 >= n) return 0;
    int a = c[i + 1].ch, b = i + 2 < n ? c[i + 2].ch : 0;
    if (icase) a = lower(a), b = lower(b);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

static inline size_t run(const uchar *c, size_t i, size_t n, int cls) {
    size_t j = i;
    while (j < n && c[j].cls == cls) j++;
    return j;
}

static inline int crlf(const uchar *c) { return c->ch == '\r' || c->ch == '\n'; }

/* \s+(?!\S) then \s+ at i (c[i] is a space): the run minus its last character when a non-space
 * follows and the run is longer than one; else the whole run. */
static size_t spaces(const uchar *c, size_t i, size_t n) {
    size_t j = run(c, i, n, UC_SPACE);
    if (j < n && j - i >= 2) return j - 1;
    return j;
}

/* End (character index) of the piece starting at i. */
static size_t next_gpt2(const uchar *c, size_t i, size_t n) {
    size_t k = contraction(c, i, n, 0);
    if (k) return i + k;
    size_t s = i + (c[i].ch == ' ' && i + 1 < n && c[i + 1].cls != UC_SPACE); /* optional leading ' ' */
    if (c[s].cls == UC_LETTER) return run(c, s, n, UC_LETTER);
    if (c[s].cls == UC_NUMBER) return run(c, s, n, UC_NUMBER);
    if (c[s].cls == UC_OTHER) return run(c, s, n, UC_OTHER);
    return spaces(c, i, n);
}

static size_t next_llama3(const uchar *c, size_t i, size_t n, size_t max_digits) {
    size_t k = contraction(c, i, n, 1);
    if (k) return i + k;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (c[i].cls == UC_LETTER) return run(c, i, n, UC_LETTER);
    if (c[i].cls != UC_NUMBER && !crlf(&c[i]) && i + 1 < n && c[i + 1].cls == UC_LETTER)
        return run(c, i + 1, n, UC_LETTER);
    /* \p{N}{1,K} */
    if (c[i].cls == UC_NUMBER) {
        size_t j = run(c, i, n, UC_NUMBER);
        return j - i > max_digits ? i + max_digits : j;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t s = i + (c[i].ch == ' ' && i + 1 < n && c[i + 1].cls == UC_OTHER);
    if (c[s].cls == UC_OTHER) {
        size_t j = run(c, s, n, UC_OTHER);
        while (j < n && crlf(&c[j])) j++;
        return j;
    }
    /* c[i] is a space: \s*[\r\n]+ ends after the last CR/LF of the run, if it has one */
    size_t j = run(c, i, n, UC_SPACE);
    for (size_t m = j; m > i; m--)
        if (crlf(&c[m - 1])) return m;
    return spaces(c, i, n);
}

int tk_pretok_split(int pre, const uint8_t *s, size_t n, tk_piece_fn fn, void *ctx) {
    if (n == 0) return 0;
    if (pre == TK_PRE_NONE) return fn(s, n, ctx);
    if (n > UINT32_MAX) return rl_fail("text of %zu bytes is too long to split (limit 4 GiB)", n);
    uchar *c = malloc(n * sizeof *c);
    if (!c) return rl_fail("out of memory splitting %zu bytes of text", n);
    size_t nc = 0;
    for (size_t off = 0; off < n;) {
        uint8_t b = s[off];
        if (b < 0x80) { /* ASCII fast path */
            c[nc].off = (uint32_t)off;
            c[nc].cls = (unsigned)((b | 0x20) - 'a') < 26u ? UC_LETTER
                        : (unsigned)(b - '0') < 10u       ? UC_NUMBER
                        : b == ' ' || (unsigned)(b - 9) < 5u ? UC_SPACE
                                                          : UC_OTHER;
            c[nc++].ch = b;
            off++;
            continue;
        }
        uint32_t cp;
        int len = tk_utf8_decode(s + off, n - off, &cp);
        c[nc].off = (uint32_t)off;
        c[nc].cls = (uint8_t)tk_uc_class(cp);
        c[nc].ch = cp < 0x80 ? (uint8_t)cp : 0;
        nc++;
        off += (size_t)len;
    }
    int rc = 0;
    for (size_t i = 0; i < nc && rc == 0;) {
        size_t j = pre == TK_PRE_GPT2 ? next_gpt2(c, i, nc) : next_llama3(c, i, nc, pre == TK_PRE_QWEN2 ? 1 : 3);
        size_t b0 = c[i].off, b1 = j < nc ? c[j].off : n;
        rc = fn(s + b0, b1 - b0, ctx);
        i = j;
    }
    free(c);
    return rc;
}
