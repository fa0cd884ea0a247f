/* Internals of the tokenizer part: the rl_tokenizer struct, hash maps, Unicode classes, splitters. */
#ifndef ROPELAB_TOK_INTERNAL_H
#define ROPELAB_TOK_INTERNAL_H

#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#include <stddef.h>
#include <stdint.h>

/* ---- hash maps ----------------------------------------------------------------------------- */

uint64_t tk_hash(const void *data, size_t n);

/* uint64 key -> int64 value, open addressing (linear probing), key UINT64_MAX reserved. */
typedef struct {
    uint64_t *keys;
    int64_t *vals;
    size_t cap, n; /* cap: power of two */
} tk_u64map;
int tk_u64map_init(tk_u64map *m, size_t expected);
void tk_u64map_free(tk_u64map *m);
/* Pointer to the value of key, or NULL. */
int64_t *tk_u64map_get(const tk_u64map *m, uint64_t key);
/* Pointer to the value of key, inserting it with value `init` when absent (NULL when out of memory). */
int64_t *tk_u64map_put(tk_u64map *m, uint64_t key, int64_t init);

static inline uint64_t tk_pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

/* ---- Unicode ------------------------------------------------------------------------------- */

enum { UC_OTHER = 0, UC_LETTER = 1, UC_NUMBER = 2, UC_SPACE = 3 };
extern const uint32_t rl_uc_letter[][2];
extern const int rl_uc_letter_n;
extern const uint32_t rl_uc_number[][2];
extern const int rl_uc_number_n;
int tk_uc_class(uint32_t cp);
/* Decodes one UTF-8 character at s[0..n) (n >= 1): returns its byte length (1..4) and sets *cp;
 * an invalid or truncated sequence gives length 1 and *cp = 0xFFFFFFFF (class UC_OTHER). */
int tk_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* UTF-8 encodes cp into out (4 bytes room); returns the length. */
int tk_utf8_encode(uint32_t cp, char *out);
/* GPT-2's byte-to-unicode alphabet: byte b is shown as code point tk_byte_to_cp(b). */
uint32_t tk_byte_to_cp(int b);
/* Inverse: the byte shown as code point cp, or -1. */
int tk_cp_to_byte(uint32_t cp);

/* ---- pre-tokenisation ---------------------------------------------------------------------- */

enum { TK_PRE_NONE = 0, TK_PRE_GPT2 = 1, TK_PRE_LLAMA3 = 2, TK_PRE_QWEN2 = 3 };
const char *tk_pre_name(int pre);
/* Splits s[0..n) into pieces; calls fn(s + start, len, ctx) for each piece in order and stops on a
 * non-zero return (which it returns). */
typedef int (*tk_piece_fn)(const uint8_t *piece, size_t len, void *ctx);
int tk_pretok_split(int pre, const uint8_t *s, size_t n, tk_piece_fn fn, void *ctx);

/* ---- the tokenizer ------------------------------------------------------------------------- */

enum { TK_PREFIX_NONE = 0, TK_PREFIX_FIRST = 1, TK_PREFIX_EVERY = 2 };

struct rl_tokenizer {
    rl_tok_kind kind;
    uint64_t uid;              /* unique per tokenizer in this process (keys the encode cache) */
    char source[512];          /* file name for messages */
    int n_vocab;
    /* token i: stored text text_blob[text_off[i] .. text_off[i+1]), printed bytes likewise */
    char *text_blob, *bytes_blob;
    int64_t *text_off, *bytes_off; /* [n_vocab + 1] */
    float *score;                  /* [n_vocab] */
    uint8_t *type;                 /* [n_vocab] rl_tok_type */
    size_t max_text_len;
    /* text -> id (open addressing over ids, -1 empty) */
    int32_t *slots;
    uint32_t *slot_hash;
    size_t n_slots;
    /* merges: pair key -> rank << 32 | result id (RL_TOK_ROPELAB and RL_TOK_BPE) */
    tk_u64map pairs;
    int n_merges;
    int32_t *merge_left, *merge_right; /* [n_merges], ropelab only (merge r makes id 257 + r) */
    int32_t byte_tok[256];     /* byte-level kinds: symbol of byte b; sentencepiece kinds: <0xXX> */
    int bos, eos, unk;
    /* how text becomes initial symbols */
    int pre;                   /* TK_PRE_*: split pattern before BPE (byte-level kinds) */
    int byte_level;            /* initial symbols are byte_tok[byte] (ropelab, HF ByteLevel, GGUF gpt2) */
    int spm_scores;            /* RL_TOK_SPM: merge priority = -score of the concatenation */
    char space_sym[4];         /* sentencepiece kinds: what a space becomes ("▁", or " " in llama2.c) */
    int space_sym_len;
    int prefix;                /* TK_PREFIX_*: dummy-prefix space (sentencepiece kinds) */
    int prefix_unless_space;   /* Metaspace: no prefix when the segment already starts with a space */
    int metaspace_split;       /* Metaspace split=true: a new word starts at every space */
    int add_prefix_space;      /* HF ByteLevel add_prefix_space */
    int byte_fallback;         /* unknown characters become <0xXX> tokens */
    int fuse_unk;
    int ignore_merges;         /* HF: a word that is a whole vocabulary entry is not merged */
    /* texts recognised with RL_ENC_SPECIAL, longest first */
    int32_t *specials;
    int n_specials;
    uint8_t special_first[32]; /* bitmap of their first bytes */
};

/* Drops this thread's encode cache if it belongs to t (rl_tok_free calls it). */
void tk_cache_forget(const rl_tokenizer *t);

/* Construction, in order: tk_new, fill texts (tk_set_vocab), set types/scores, tk_finish (derives
 * the printed bytes, builds the text index, byte tables and special list). */
rl_tokenizer *tk_new(rl_tok_kind kind, int n_vocab, const char *source);
/* Copies the stored texts: texts[i] of lens[i] bytes (NULL = empty, unused id). */
int tk_set_vocab(rl_tokenizer *t, const char *const *texts, const size_t *lens);
int tk_finish(rl_tokenizer *t);
static inline const char *tk_text(const rl_tokenizer *t, int id, size_t *len) {
    *len = (size_t)(t->text_off[id + 1] - t->text_off[id]);
    return t->text_blob + t->text_off[id];
}
int tk_find_text(const rl_tokenizer *t, const char *s, size_t len);
/* Adds merge (a, b) -> out with the given rank (lower merges first). Fails on a duplicate pair. */
int tk_add_merge(rl_tokenizer *t, int32_t a, int32_t b, int32_t out, int32_t rank);
/* A Hugging Face tokenizer.json from bytes text[0..len) (rl_tok_load_hf reads the file and calls
 * this; the fuzzer calls it directly). path names the file in messages and locates
 * tokenizer_config.json. */
rl_tokenizer *tk_hf_from_json(const char *text, size_t len, const char *path);
/* ropelab's tokenizer from its merge list (validated: parts are bytes or earlier merges, no repeats). */
rl_tokenizer *tk_ropelab_from_merges(const int32_t *left, const int32_t *right, int n_merges, const char *source);
/* Adds the ranked merge of two token texts (HF / GGUF merges); the concatenation must be a token.
 * `where` names the field in messages (e.g. "model.merges"). */
int tk_add_merge_texts(rl_tokenizer *t, const char *l, size_t ll, const char *r, size_t rl, int32_t rank, const char *where);
/* The same for "left right" (split at the first space). */
int tk_add_merge_line(rl_tokenizer *t, const char *s, size_t n, int32_t rank, const char *where);
/* Parses "<0xXX>" into a byte; -1 if the text is not of that form. */
int tk_parse_byte_token(const char *s, size_t len);

#endif
