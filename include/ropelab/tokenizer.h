/* ropelab/tokenizer.h: one tokenizer type for every vocabulary ropelab meets.
 *
 * Kinds (rl_tok_kind), all behind the same encode / decode calls:
 *   RL_TOK_ROPELAB     ropelab's own byte-level BPE, trained by rl_bpe_train() and saved as a
 *                      versioned binary file (docs/data.md). Ids 0..255 are the 256 bytes, id 256 is
 *                      the special token "<|bos|>" (BOS, also the end-of-text / document separator,
 *                      like GPT-2's <|endoftext|>), ids 257.. are merges in training order.
 *                      Pre-tokenisation: the GPT-2 split pattern, hand-written (see below).
 *   RL_TOK_SPM         sentencepiece-style vocabulary with scores: llama2.c's tokenizer.bin and GGUF
 *                      tokenizer.ggml.model = "llama". Encode: dummy-prefix space, one symbol per
 *                      UTF-8 character (unknown characters fall back to <0xXX> byte tokens), then
 *                      repeatedly merge the adjacent pair whose concatenation is the highest-scoring
 *                      vocabulary entry (ties: leftmost), exactly as llama2.c run.c encode().
 *   RL_TOK_BPE         ranked-merge BPE: Hugging Face tokenizer.json (model.type "BPE"), both the
 *                      byte-level flavour (GPT-2 / Llama 3 / Qwen2: ByteLevel pre-tokenizer, byte-to-
 *                      unicode alphabet) and the sentencepiece flavour (Llama 2 / Gemma: "▁" for
 *                      spaces, byte_fallback <0xXX>), and GGUF tokenizer.ggml.model = "gpt2".
 *                      Encode: split (pre-tokenizer), then repeatedly merge the adjacent pair with the
 *                      lowest merge rank (ties: leftmost).
 *
 * Pre-tokenisers (regexes of the originals, implemented by hand over Unicode code points with
 * tables generated from the Unicode Character Database, see src/tokenizer/unicode.c):
 *   gpt2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2   as llama3 with \p{N} (one digit per piece)
 * Invalid UTF-8 bytes are single "other" characters (never letters, digits or spaces), so any byte
 * string splits and round-trips.
 *
 * Ids are int32. Every tokenizer is immutable after construction: encode/decode are thread-safe
 * (byte-level kinds keep a per-thread cache of encoded words, dropped by rl_tok_free).
 * File formats and approximations: docs/data.md.
 */
#ifndef ROPELAB_TOKENIZER_H
#define ROPELAB_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RL_TOK_ROPELAB, RL_TOK_SPM, RL_TOK_BPE } rl_tok_kind;

/* Token types (the GGUF / sentencepiece numbering). */
typedef enum {
    RL_TOKT_NORMAL = 1,
    RL_TOKT_UNKNOWN = 2,
    RL_TOKT_CONTROL = 3,      /* BOS, EOS, pad, <|...|> specials: decode to nothing by default */
    RL_TOKT_USER_DEFINED = 4, /* added tokens that are not special: decode to their text */
    RL_TOKT_UNUSED = 5,
    RL_TOKT_BYTE = 6,         /* <0xXX> byte-fallback tokens and ropelab's 256 byte tokens */
} rl_tok_type;

typedef struct rl_tokenizer rl_tokenizer;

/* The id list encode appends to. Start with {0}; free(ids->v) when done. */
typedef struct {
    int32_t *v;
    int64_t n, cap;
} rl_ids;
int rl_ids_push(rl_ids *ids, int32_t id);

/* ---- loading ----------------------------------------------------------------------------- */

/* Loads any supported file, by content: ropelab tokenizer file (its magic), Hugging Face
 * tokenizer.json (starts with '{'), else llama2.c tokenizer.bin. */
rl_tokenizer *rl_tok_load(const char *path);
/* ropelab's own format (rl_tok_save). Validates everything: magic, version, counts, merge ids,
 * special tokens, checksum, exact length. */
rl_tokenizer *rl_tok_load_ropelab(const char *path);
/* llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length,
 * bytes. vocab_size <= 0: read tokens until the end of the file. BOS 1, EOS 2, unknown 0
 * (llama2.c's conventions); tokens "<0xXX>" are byte tokens. */
rl_tokenizer *rl_tok_load_llama2c(const char *path, int vocab_size);
/* Hugging Face tokenizer.json with model.type "BPE". Other model types (WordPiece, Unigram,
 * WordLevel) fail with "FILE: model type X is not supported". BOS/EOS come from a
 * tokenizer_config.json next to the file when present, else from the post_processor template,
 * else from well-known names (<s>, </s>, <|begin_of_text|>, <|endoftext|>, <bos>, <eos>, ...). */
rl_tokenizer *rl_tok_load_hf(const char *path);

/* GGUF tokenizer metadata, as the GGUF reader finds it (arrays are borrowed, copied by the call).
 * Strings are length-counted (GGUF strings are not NUL-terminated). */
typedef struct {
    const char *model;            /* tokenizer.ggml.model: "llama" (scores) or "gpt2" (merges); NUL-terminated */
    const char *pre;              /* tokenizer.ggml.pre or NULL: "default"/"gpt2" -> gpt2 split, "llama-bpe"/
                                     "llama3" -> llama3 split, "qwen2" -> qwen2 split; others fail */
    int64_t n_tokens;
    const char *const *tokens;    /* [n_tokens] token text as stored (▁ for spaces / byte-level alphabet) */
    const uint64_t *token_lens;   /* [n_tokens] byte lengths */
    const float *scores;          /* [n_tokens] or NULL (required for "llama") */
    const int32_t *token_types;   /* [n_tokens] rl_tok_type values, or NULL (all normal) */
    int64_t n_merges;
    const char *const *merges;    /* [n_merges] "left right" (required for "gpt2") */
    const uint64_t *merge_lens;   /* [n_merges] */
    int32_t bos_id, eos_id;       /* -1 when absent */
    int32_t unk_id, pad_id;       /* -1 when absent */
    int add_space_prefix;         /* tokenizer.ggml.add_space_prefix; -1 = absent (default: 1 for llama) */
} rl_tok_gguf;
/* `source` names the file in error messages. */
rl_tokenizer *rl_tok_from_gguf(const rl_tok_gguf *g, const char *source);
/* The inverse, for GGUF writers: fills *g with arrays it owns (free with rl_tok_gguf_free) such
 * that rl_tok_from_gguf(g) encodes every text to the same ids. ropelab BPE and byte-level BPE
 * become model "gpt2" (tokens in GPT-2's byte alphabet, merges in rank order), sentencepiece
 * vocabularies model "llama" (scores; llama2.c's stored spaces become "▁"). Fails, naming the
 * reason, for what a GGUF vocabulary cannot express: sentencepiece-style BPE (tokenizer.json with
 * "▁" and merges), add_prefix_space / ignore_merges, two tokens with the same text. */
int rl_tok_to_gguf(const rl_tokenizer *t, rl_tok_gguf *g);
void rl_tok_gguf_free(rl_tok_gguf *g);

void rl_tok_free(rl_tokenizer *t);

/* ---- properties -------------------------------------------------------------------------- */

rl_tok_kind rl_tok_kind_of(const rl_tokenizer *t);
const char *rl_tok_kind_name(rl_tok_kind k); /* "ropelab-bpe", "sentencepiece", "bpe" */
int rl_tok_vocab_size(const rl_tokenizer *t);
int rl_tok_bos(const rl_tokenizer *t); /* -1 when the vocabulary has none */
int rl_tok_eos(const rl_tokenizer *t); /* -1 when none; ropelab: same as BOS */
/* Overrides BOS / EOS (e.g. from a model's config); ids must be in range or -1. */
int rl_tok_set_special(rl_tokenizer *t, int bos, int eos);
/* Token text as stored in the vocabulary (byte-level alphabet / ▁ kept) and its length. */
const char *rl_tok_text(const rl_tokenizer *t, int id, size_t *len);
rl_tok_type rl_tok_type_of(const rl_tokenizer *t, int id);
/* Looks a token up by its stored text; -1 when absent. */
int rl_tok_find(const rl_tokenizer *t, const char *text, size_t len);

/* ---- encode / decode --------------------------------------------------------------------- */

enum {
    RL_ENC_BOS = 1,           /* prepend BOS (fails if the vocabulary has none) */
    RL_ENC_EOS = 2,           /* append EOS */
    RL_ENC_SPECIAL = 4,       /* recognise special / added token texts inside `text` (HF's default);
                                 without it they are encoded as plain text */
    RL_ENC_NO_PREFIX = 8,     /* sentencepiece kinds: no dummy-prefix space */
};
/* Appends the ids of `text` (any bytes, NUL included) to *out. */
int rl_tok_encode(const rl_tokenizer *t, const void *text, size_t len, unsigned flags, rl_ids *out);

enum {
    RL_DEC_SPECIAL = 1,       /* also print control tokens (BOS/EOS/...) as their text */
    RL_DEC_KEEP_PREFIX = 2,   /* sentencepiece kinds: keep the leading dummy-prefix space */
};
/* Decodes ids into a NUL-terminated heap string (*len bytes, not counting the NUL). Ids out of
 * range fail with a message naming the position. For sentencepiece kinds the space that encode's
 * dummy prefix added is removed (at the start and after BOS), so decode(encode(x)) == x. */
int rl_tok_decode(const rl_tokenizer *t, const int32_t *ids, int64_t n, unsigned flags, char **text,
                  size_t *len);
/* Streaming: the bytes token `id` prints when it follows token `prev` (-1 at the start): byte
 * tokens give their byte, ▁ gives a space, the dummy-prefix space after BOS / at the start is
 * dropped, control tokens give "". May be a partial UTF-8 sequence (the next pieces complete it).
 * Points into the tokenizer (valid until rl_tok_free); NULL for an id out of range. */
const char *rl_tok_piece(const rl_tokenizer *t, int prev, int id, size_t *len);

/* ---- ropelab's own BPE --------------------------------------------------------------------- */

#define RL_TOK_ROPELAB_BOS 256
#define RL_TOK_ROPELAB_FIRST_MERGE 257

/* Trains a byte-level BPE of `vocab_size` tokens (>= 258: 256 bytes + BOS + at least one merge)
 * on documents docs[i] of doc_lens[i] bytes. Deterministic: at each step the most frequent adjacent
 * pair (counted over the words of the gpt2 split, weighted by word frequency) is merged; ties go to
 * the pair with the smaller first id, then the smaller second id. Fails with a clear message when
 * the corpus has fewer distinct pairs than the vocabulary needs. `progress` != 0 shows a bar. */
rl_tokenizer *rl_bpe_train(const char *const *docs, const size_t *doc_lens, int64_t n_docs, int vocab_size,
                           int progress);
/* Writes a ropelab tokenizer atomically (only RL_TOK_ROPELAB tokenizers). */
int rl_tok_save(const rl_tokenizer *t, const char *path);
/* The merge that made token id (>= 257): its two parts. */
int rl_tok_merge_parts(const rl_tokenizer *t, int id, int *left, int *right);

#ifdef __cplusplus
}
#endif
#endif
