/* Unicode for the pre-tokenisers: UTF-8 decoding, letter / number / space classes, GPT-2's byte alphabet. */
#include "tok_internal.h"

/* Binary search in a sorted table of inclusive ranges. */
static int in_ranges(const uint32_t (*r)[2], int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid - 1;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

/* \s: the Unicode White_Space property (what Oniguruma and Rust's regex match with \s). */
static int is_white(uint32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int tk_uc_class(uint32_t cp) {
    if (cp < 0x80) { /* ASCII fast path */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return UC_LETTER;
        if (cp >= '0' && cp <= '9') return UC_NUMBER;
        return is_white(cp) ? UC_SPACE : UC_OTHER;
    }
    if (cp > 0x10FFFF) return UC_OTHER;
    if (is_white(cp)) return UC_SPACE;
    if (in_ranges(rl_uc_letter, rl_uc_letter_n, cp)) return UC_LETTER;
    if (in_ranges(rl_uc_number, rl_uc_number_n, cp)) return UC_NUMBER;
    return UC_OTHER;
}

int tk_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) len = 2, v = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, v = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, v = c & 0x07, min = 0x10000;
    else goto invalid;
    if ((size_t)len > n) goto invalid;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) goto invalid;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) goto invalid;
    *cp = v;
    return len;
invalid:
    *cp = 0xFFFFFFFFu;
    return 1;
}

int tk_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2 (openai/gpt-2 encoder.py bytes_to_unicode): the printable bytes '!'..'~', 0xA1..0xAC and
 * 0xAE..0xFF stand for themselves; the other 68 bytes, in increasing order, map to 256, 257, ... */
static int printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

uint32_t tk_byte_to_cp(int b) {
    if (printable(b)) return (uint32_t)b;
    int k = 0;
    for (int x = 0; x < b; x++) k += !printable(x);
    return 256u + (uint32_t)k;
}

int tk_cp_to_byte(uint32_t cp) {
    if (cp < 256) return printable((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int k = (int)(cp - 256);
    for (int x = 0; x < 256; x++)
        if (!printable(x) && k-- == 0) return x;
    return -1;
}
