/* ropelab/data.h: training data: token shards, the batch sampler, and `ropelab data prepare`.
 *
 * A prepared dataset is a folder (written by `ropelab data prepare`, see docs/data.md):
 *   tokenizer.bin   ropelab byte-level BPE (rl_tok_load_ropelab)
 *   train.bin       training shard
 *   val.bin         validation shard (10% of the documents by default, chosen by document)
 *   data.json       counts: documents, bytes and tokens per split, vocabulary, sources
 *
 * Shard format (version 1), readable by any tool:
 *   header  256 little-endian int32 (1024 bytes):
 *           [0] magic 20241008, [1] version 1, [2] vocabulary size V, [3] token count N, [4..255] 0
 *   tokens  N little-endian uint16 when V <= 65535, else N uint32
 *   The file is exactly 1024 + N * (2 or 4) bytes. Every document starts with the BOS token (so
 *   the shard starts with BOS and documents are separated by BOS).
 * (llm.c uses 20240520 for its GPT-2 shards; 20241008 is the date "Round and Round We Go" was
 * submitted to arXiv, so the two kinds of file can never be mistaken for each other.)
 */
#ifndef ROPELAB_DATA_H
#define ROPELAB_DATA_H

#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_SHARD_MAGIC 20241008
#define RL_SHARD_VERSION 1
#define RL_SHARD_HEADER_INTS 256
#define RL_SHARD_HEADER_BYTES 1024

#define RL_DATA_TOKENIZER "tokenizer.bin"
#define RL_DATA_TRAIN "train.bin"
#define RL_DATA_VAL "val.bin"
#define RL_DATA_JSON "data.json"

/* ---- shards ------------------------------------------------------------------------------ */

/* An open shard: a read-only memory map, checked on open. */
typedef struct {
    char path[4096];
    rl_map map;
    int32_t vocab_size;
    int64_t n_tokens;
    int width;             /* bytes per token: 2 (uint16) or 4 (uint32) */
    const uint8_t *tokens; /* [n_tokens * width] little-endian, right after the header */
} rl_shard;

/* Opens and checks a shard: size >= header, magic, version, vocabulary (> 0; equal to
 * expect_vocab when expect_vocab > 0), token count (>= 0; file size exactly header + count *
 * width), header words 4..255 zero, and every token id < vocabulary. Each failure names the file,
 * the field and its byte offset. */
int rl_shard_open(rl_shard *s, const char *path, int32_t expect_vocab);
void rl_shard_close(rl_shard *s);
/* Token i (0 <= i < n_tokens). */
static inline int32_t rl_shard_token(const rl_shard *s, int64_t i) {
    const uint8_t *p = s->tokens + i * s->width;
    if (s->width == 2) return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8);
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}
/* Copies tokens [start, start + n) as int32. out: [n] */
void rl_shard_read(const rl_shard *s, int64_t start, int64_t n, int32_t *out);
/* Writes a shard atomically. Fails if any id is outside [0, vocab_size) or n exceeds INT32_MAX. */
int rl_shard_write(const char *path, int32_t vocab_size, const int32_t *tokens, int64_t n);

/* ---- batch sampler ----------------------------------------------------------------------- */

typedef enum {
    /* Training: every row of every batch is a window starting at an independent uniform random
     * offset in [0, N - T - 1] (with replacement, as nanoGPT). The offsets of batch `step` are a
     * pure function of (seed, step), so the whole state is the step counter. */
    RL_SAMPLE_RANDOM,
    /* Evaluation: consecutive windows 0, T, 2T, ... (row r of batch k is window k*B + r, modulo
     * the rl_sampler_windows() windows that fit), so B * steps windows cover the shard in order. */
    RL_SAMPLE_SEQUENTIAL,
} rl_sample_mode;

typedef struct {
    const rl_shard *shard;
    int batch, ctx;        /* B and T */
    uint64_t seed;
    rl_sample_mode mode;
    int64_t step;          /* batches drawn so far: the only state (save it to resume) */
} rl_sampler;

/* Fails when the shard is shorter than T + 1 tokens, or B / T are not positive. */
int rl_sampler_init(rl_sampler *sm, const rl_shard *s, int batch, int ctx, uint64_t seed, rl_sample_mode mode);
/* Fills out with the next batch and advances step. out: [B][T+1] token ids (inputs are
 * out[b][0..T-1], targets out[b][1..T]). */
void rl_sampler_next(rl_sampler *sm, int32_t *out);
/* Resume: the next rl_sampler_next() returns batch `step` (bit-identical to an unbroken run). */
void rl_sampler_seek(rl_sampler *sm, int64_t step);
/* Number of distinct sequential windows: floor((N - 1) / T). */
int64_t rl_sampler_windows(const rl_sampler *sm);

/* ---- a prepared dataset folder ------------------------------------------------------------ */

typedef struct {
    rl_tokenizer *tok;
    rl_shard train, val;
} rl_dataset;

/* Opens DIR/tokenizer.bin, DIR/train.bin, DIR/val.bin and checks that both shards' vocabulary
 * equals the tokenizer's. */
int rl_dataset_open(rl_dataset *d, const char *dir);
void rl_dataset_close(rl_dataset *d);

/* ---- preparing a dataset ----------------------------------------------------------------- */

typedef enum {
    RL_DOC_FORMFEED, /* split each file at form-feed characters (\f); a file without one is one document */
    RL_DOC_FILE,     /* each file is one document */
    RL_DOC_BLANK,    /* split at every run of two or more blank (whitespace-only) lines */
} rl_doc_split;
const char *rl_doc_split_name(rl_doc_split m);
int rl_doc_split_parse(const char *s, rl_doc_split *m);

typedef struct {
    const char *const *files;
    int n_files;
    int vocab_size;     /* default 4096 */
    double val_frac;    /* in (0, 1); default 0.1 */
    uint64_t seed;      /* default 1337 */
    rl_doc_split split; /* default RL_DOC_FORMFEED */
    const char *out_dir;
    int progress;       /* show progress bars */
} rl_prepare_opts;
void rl_prepare_defaults(rl_prepare_opts *o);

/* What rl_data_prepare did (also written, without the timings, to DIR/data.json). */
typedef struct {
    int64_t docs[2], bytes[2], tokens[2]; /* [0] train, [1] validation */
    int64_t docs_skipped;                 /* empty (whitespace-only) documents */
    int vocab_size;
    double bpe_seconds, encode_seconds;   /* wall time of BPE training and of encoding */
} rl_prepare_stats;

/* Reads the files, splits them into documents, holds out round(val_frac * documents) of them
 * (at least 1, at most documents - 1; chosen by a seeded shuffle) as validation, trains the BPE
 * on the training documents, encodes both splits and writes DIR/{tokenizer.bin,train.bin,val.bin,
 * data.json} atomically. Fails with fewer than 2 non-empty documents. */
int rl_data_prepare(const rl_prepare_opts *o, rl_prepare_stats *st);

#ifdef __cplusplus
}
#endif
#endif
