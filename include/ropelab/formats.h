/* ropelab/formats.h: checkpoint containers (safetensors, GGUF, llama2.c) as neutral named tensors.
 *
 * This layer knows nothing about transformer architectures. It reads a file (or a Hugging Face
 * folder) into an `rl_tensors` collection: a list of named tensors with a dtype, a shape and a
 * pointer into a read-only memory map, plus the file's metadata. A later step maps names onto a
 * model. Weights stay memory-mapped; nothing is copied until a tensor is converted to float32.
 *
 * Shapes are always OUTERMOST FIRST (row-major, C order), the way PyTorch and safetensors write
 * them: a Hugging Face linear weight is [out_features, in_features], and element (i, j) of a 2-D
 * tensor is at flat index i * shape[1] + j. GGUF stores its dims innermost first (ne[0] is the row
 * length); the GGUF reader reverses them, so a GGUF tensor with ne = {4096, 32000} has
 * shape = {32000, 4096} here, exactly as the same tensor in a safetensors file would. The
 * writer reverses them back. (GGUF's llama q/k weights are additionally row-permuted for the
 * interleaved RoPE layout; this layer does not undo that: see docs/formats.md.)
 *
 * Formats:
 *   safetensors  read (single file, or a HF folder with model.safetensors.index.json shards)
 *                and write (F32/F16/BF16, single file or sharded folder + index), atomically.
 *   GGUF v2/v3   read (all metadata types, every ggml tensor type listed below; conversion to
 *                float32 for F32/F16/BF16/F64/Q8_0/integers) and write (F32/F16/BF16/Q8_0).
 *   llama2.c     read the legacy (version 0) float32 checkpoint; tensors are named llama2c.*.
 *
 * Validation is strict: every inconsistency (truncation, bad offsets, overlaps, unknown types,
 * duplicate names, sizes that disagree) fails with one rl_error() message naming the file, the
 * tensor or key, and the byte offset. Parsers also take (pointer, length) so fuzzers need no files.
 */
#ifndef ROPELAB_FORMATS_H
#define ROPELAB_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "ropelab/model.h"
#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dtypes ------------------------------------------------------------------------------ */

typedef enum {
    RL_DT_F32 = 0,
    RL_DT_F16,
    RL_DT_BF16,
    RL_DT_Q8_0,     /* ggml: blocks of 32 values, an fp16 scale d then 32 int8 q; x = d * q */
    RL_DT_F64,
    RL_DT_F8_E4M3,  /* safetensors F8_E4M3 (OCP "fn": no inf, 0x7f/0xff = NaN) */
    RL_DT_F8_E5M2,  /* safetensors F8_E5M2 (IEEE-like) */
    RL_DT_I8,
    RL_DT_I16,
    RL_DT_I32,
    RL_DT_I64,
    RL_DT_U8,
    RL_DT_U16,
    RL_DT_U32,
    RL_DT_U64,
    RL_DT_BOOL,
    RL_DT_GGML,     /* another ggml block type (Q4_K, IQ2_XS, ...): sizes known, no conversion;
                       rl_tensor.ggml_type says which */
    RL_DT_COUNT
} rl_dtype;

/* "F32", "F16", "BF16", "Q8_0", ... (safetensors spelling; "GGML" for RL_DT_GGML). */
const char *rl_dtype_name(rl_dtype dt);
/* Parses a safetensors dtype string; -1 if unknown (no error recorded). */
int rl_dtype_from_name(const char *name, rl_dtype *dt);
/* Bytes per element for element dtypes; 0 for the blocked ones (Q8_0, GGML). */
size_t rl_dtype_size(rl_dtype dt);

/* The ggml type ids GGUF uses (ggml.h enum ggml_type). */
enum {
    RL_GGML_F32 = 0, RL_GGML_F16 = 1, RL_GGML_Q4_0 = 2, RL_GGML_Q4_1 = 3, RL_GGML_Q5_0 = 6,
    RL_GGML_Q5_1 = 7, RL_GGML_Q8_0 = 8, RL_GGML_Q8_1 = 9, RL_GGML_Q2_K = 10, RL_GGML_Q3_K = 11,
    RL_GGML_Q4_K = 12, RL_GGML_Q5_K = 13, RL_GGML_Q6_K = 14, RL_GGML_Q8_K = 15,
    RL_GGML_IQ2_XXS = 16, RL_GGML_IQ2_XS = 17, RL_GGML_IQ3_XXS = 18, RL_GGML_IQ1_S = 19,
    RL_GGML_IQ4_NL = 20, RL_GGML_IQ3_S = 21, RL_GGML_IQ2_S = 22, RL_GGML_IQ4_XS = 23,
    RL_GGML_I8 = 24, RL_GGML_I16 = 25, RL_GGML_I32 = 26, RL_GGML_I64 = 27, RL_GGML_F64 = 28,
    RL_GGML_IQ1_M = 29, RL_GGML_BF16 = 30, RL_GGML_TQ1_0 = 34, RL_GGML_TQ2_0 = 35,
    RL_GGML_MXFP4 = 39,
};
/* Name ("Q4_K"), block length in elements and block size in bytes of a ggml type id.
 * Returns -1 for an id that is not a known ggml type. */
int rl_ggml_type_info(int ggml_type, const char **name, int *block_elems, int *block_bytes);

/* Exact scalar conversions. F16: subnormals, +-inf and NaN (payload kept) are handled.
 * float -> F16/BF16 rounds to nearest, ties to even; overflow gives +-inf; NaN stays NaN. */
float rl_f16_to_f32(uint16_t h);
uint16_t rl_f32_to_f16(float f);
float rl_bf16_to_f32(uint16_t h);
uint16_t rl_f32_to_bf16(float f);

/* Q8_0 blocks: 34 bytes per 32 values. n must be a multiple of 32.
 * Quantization uses the fp16-ROUNDED block scale d = fp16(max|x| / 127) (one fp16 step larger in
 * the rare case, subnormal scales, where rounding down would clip max|x| by more than d/2) and
 * q = round(x / d) clamped to [-127, 127], so |x - d*q| <= d/2 for every value (ggml's reference
 * divides by the unrounded scale, which can exceed d/2 by up to 127*|d - fp16(d)|). Fails (naming the
 * block) on a non-finite value or a scale beyond the fp16 range (|x| > 8.3e6). */
#define RL_Q8_0_BLOCK 32
#define RL_Q8_0_BYTES 34
int rl_q8_0_quantize(const float *x, size_t n, uint8_t *out); /* x: [n], out: [n/32 * 34] */
void rl_q8_0_dequantize(const uint8_t *in, size_t n, float *out); /* in: [n/32 * 34], out: [n] */

/* ---- metadata ---------------------------------------------------------------------------- */

/* Metadata value types: the GGUF numbering. safetensors __metadata__ values are all STRING;
 * llama2.c header values are I32 (plus a BOOL). */
typedef enum {
    RL_META_U8 = 0, RL_META_I8 = 1, RL_META_U16 = 2, RL_META_I16 = 3, RL_META_U32 = 4,
    RL_META_I32 = 5, RL_META_F32 = 6, RL_META_BOOL = 7, RL_META_STRING = 8, RL_META_ARRAY = 9,
    RL_META_U64 = 10, RL_META_I64 = 11, RL_META_F64 = 12,
} rl_meta_type;
const char *rl_meta_type_name(rl_meta_type t); /* "u32", "string", "array", ... */

typedef struct {
    char *key;
    rl_meta_type type;
    union {
        uint64_t u; /* U8..U64 */
        int64_t i;  /* I8..I64 */
        double f;   /* F32 (exactly the stored float), F64 */
        int b;      /* BOOL (0/1) */
    } v;
    char *str;        /* STRING: NUL-terminated copy (may contain inner NULs: use str_len) */
    size_t str_len;
    /* ARRAY: `count` elements of scalar type `elem`, kept in GGUF's little-endian encoding
     * (strings as u64 length + bytes). Read them with rl_meta_arr_*. */
    rl_meta_type elem;
    uint64_t count;
    uint8_t *arr;
    size_t arr_bytes;
    uint64_t *str_off; /* STRING arrays: byte offset of element i's length field in arr */
} rl_meta;

/* An ordered list of metadata entries (what a file carries, or what a writer writes). */
typedef struct {
    int n, cap;
    rl_meta *m;
} rl_meta_list;

/* Builders (copy their arguments). Fail only when out of memory. */
int rl_meta_add_u32(rl_meta_list *l, const char *key, uint32_t v);
int rl_meta_add_i32(rl_meta_list *l, const char *key, int32_t v);
int rl_meta_add_u64(rl_meta_list *l, const char *key, uint64_t v);
int rl_meta_add_i64(rl_meta_list *l, const char *key, int64_t v);
int rl_meta_add_f32(rl_meta_list *l, const char *key, float v);
int rl_meta_add_f64(rl_meta_list *l, const char *key, double v);
int rl_meta_add_bool(rl_meta_list *l, const char *key, int v);
int rl_meta_add_str(rl_meta_list *l, const char *key, const char *v);
/* values: n elements of the C type matching elem (uint8_t ... double; bool as uint8_t). */
int rl_meta_add_arr(rl_meta_list *l, const char *key, rl_meta_type elem, const void *values, uint64_t n);
int rl_meta_add_arr_str(rl_meta_list *l, const char *key, const char *const *values, uint64_t n);
/* Appends a deep copy of an existing entry (e.g. to re-export a file's metadata). */
int rl_meta_add_copy(rl_meta_list *l, const rl_meta *m);
const rl_meta *rl_meta_find(const rl_meta_list *l, const char *key);
void rl_meta_list_free(rl_meta_list *l);

/* Array element access (i < m->count; no error recorded, returns -1 on type mismatch/range). */
int rl_meta_arr_i64(const rl_meta *m, uint64_t i, int64_t *out);   /* any integer/bool elem */
int rl_meta_arr_f64(const rl_meta *m, uint64_t i, double *out);    /* any numeric elem */
int rl_meta_arr_str(const rl_meta *m, uint64_t i, const char **s, size_t *len); /* not NUL-ended */

/* ---- tensors ----------------------------------------------------------------------------- */

#define RL_MAX_DIMS 8

typedef struct {
    char *name;
    rl_dtype dtype;
    int ggml_type;               /* GGUF files: the ggml type id; -1 otherwise */
    int ndim;                    /* 0 = scalar */
    int64_t shape[RL_MAX_DIMS];  /* outermost first (row-major); unused dims are 1 */
    int64_t numel;
    uint64_t offset;             /* absolute byte offset of the data in its file */
    uint64_t nbytes;
    const uint8_t *data;         /* into the read-only map (or caller's buffer); do not write */
    int file;                    /* index into rl_tensors.files */
} rl_tensor;

typedef enum {
    RL_FMT_SAFETENSORS = 0,
    RL_FMT_SAFETENSORS_SHARDED,
    RL_FMT_GGUF,
    RL_FMT_LLAMA2C,
} rl_format;
const char *rl_format_name(rl_format f); /* "safetensors", "safetensors-sharded", "gguf", "llama2c" */

typedef struct {
    char *path;   /* as given (or "<buffer>" name for parse entry points) */
    rl_map map;   /* empty when the bytes belong to the caller */
} rl_tensor_file;

typedef struct {
    rl_format format;
    int n_files;
    rl_tensor_file *files;
    int n;
    rl_tensor *t;          /* in file order (safetensors: sorted by data offset) */
    rl_meta_list meta;     /* safetensors: __metadata__ (strings); GGUF: every KV; llama2c: header */
    uint32_t gguf_version; /* GGUF only */
    uint64_t gguf_alignment;
    uint64_t gguf_data_offset; /* absolute start of GGUF's data section */
    /* name lookup (open addressing) */
    int *slots;
    size_t n_slots;
} rl_tensors;

/* Opens a checkpoint, detecting its format: a folder (model.safetensors, else
 * model.safetensors.index.json: the order transformers uses), a *.index.json file, a GGUF file
 * (magic "GGUF"), a safetensors file (8-byte header length + '{'), else a llama2.c legacy
 * checkpoint. */
int rl_tensors_open(rl_tensors *ts, const char *path);
int rl_safetensors_open(rl_tensors *ts, const char *path);     /* one .safetensors file */
int rl_safetensors_open_dir(rl_tensors *ts, const char *dir);  /* HF folder, sharded or not */
int rl_safetensors_open_index(rl_tensors *ts, const char *index_json_path);
int rl_gguf_open(rl_tensors *ts, const char *path);
int rl_llama2c_open(rl_tensors *ts, const char *path);

/* The same parsers on bytes in memory; `name` appears in messages. The buffer must stay alive
 * and unchanged while ts is used (tensors point into it). */
int rl_safetensors_parse(rl_tensors *ts, const uint8_t *buf, size_t len, const char *name);
int rl_gguf_parse(rl_tensors *ts, const uint8_t *buf, size_t len, const char *name);
int rl_llama2c_parse(rl_tensors *ts, const uint8_t *buf, size_t len, const char *name);

/* A parsed model.safetensors.index.json: weight_map entries (tensor -> shard file name).
 * Shard names must be plain file names in the same folder (no '/', not "." or ".."). */
typedef struct {
    int n;
    char **tensor;
    int *shard;       /* index into shards */
    int n_shards;
    char **shards;    /* distinct shard names, in order of first appearance */
    int64_t total_size; /* metadata.total_size, -1 when absent */
} rl_st_index;
int rl_st_index_parse(rl_st_index *ix, const char *json, size_t len, const char *name);
void rl_st_index_free(rl_st_index *ix);

void rl_tensors_free(rl_tensors *ts);

/* Lookup by exact name; NULL when absent (no error recorded). */
const rl_tensor *rl_tensors_find(const rl_tensors *ts, const char *name);
/* Like find, but records "FILE: tensor NAME not found" when absent. */
const rl_tensor *rl_tensors_get(const rl_tensors *ts, const char *name);
/* The file a tensor lives in. */
const char *rl_tensor_path(const rl_tensors *ts, const rl_tensor *t);
/* "[32000, 4096]" into buf. */
const char *rl_shape_str(const rl_tensor *t, char *buf, size_t n);

/* Converts elements [first, first + count) of a tensor (flat row-major index) to float32.
 * Exact for F32/F16/BF16/F8/Q8_0 and integers up to 2^24; F64/large integers round to nearest.
 * Fails for RL_DT_GGML types (message names the tensor and type). out: [count] */
int rl_tensor_to_f32_range(const rl_tensor *t, int64_t first, int64_t count, float *out);
int rl_tensor_to_f32(const rl_tensor *t, float *out); /* out: [t->numel] */
/* Loads a named tensor into out after checking its shape equals `shape` (ndim dims, outermost
 * first); the message names file, tensor, expected and actual shape. out: [prod(shape)] */
int rl_tensors_load_f32(const rl_tensors *ts, const char *name, int ndim, const int64_t *shape, float *out);

/* Typed metadata getters: fail with "FILE: metadata KEY missing" or "... has type T, expected
 * integer" etc. get_i64 accepts any integer type (and u64 <= INT64_MAX); get_f64 any numeric. */
int rl_tensors_meta_i64(const rl_tensors *ts, const char *key, int64_t *out);
int rl_tensors_meta_f64(const rl_tensors *ts, const char *key, double *out);
int rl_tensors_meta_bool(const rl_tensors *ts, const char *key, int *out);
int rl_tensors_meta_str(const rl_tensors *ts, const char *key, const char **out);

/* ---- writers ----------------------------------------------------------------------------- */

/* One tensor to write. Give either `data` (float32 values, converted to `dtype` on write) or
 * `raw` (bytes already in `dtype`'s encoding, e.g. another file's rl_tensor.data). */
typedef struct {
    const char *name;
    rl_dtype dtype;                /* storage dtype in the file */
    int ndim;
    int64_t shape[RL_MAX_DIMS];    /* outermost first */
    const float *data;             /* [numel] or NULL */
    const void *raw;               /* [nbytes] or NULL */
} rl_write_tensor;

/* safetensors, HF-compatible: header JSON padded with spaces to a multiple of 8 bytes, tensors
 * sorted by (element size descending, then name) so every tensor is aligned to its element
 * size, as the safetensors library does; __metadata__ from `meta` (every value must be a
 * STRING; NULL for none). Dtypes F32/F16/BF16 (from float) or any element dtype via raw.
 * Float -> F16 fails on values beyond +-65504 (message names tensor and element). Atomic. */
int rl_safetensors_write(const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta);
/* A HF folder: shards of at most max_shard_bytes (a larger single tensor gets its own shard)
 * named model-0000K-of-0000N.safetensors plus model.safetensors.index.json; a single
 * model.safetensors without index when everything fits in one shard. Every file atomic. */
int rl_safetensors_write_dir(const char *dir, const rl_write_tensor *t, int n, const rl_meta_list *meta,
                             uint64_t max_shard_bytes);

/* GGUF v3: metadata in `meta` order (general.alignment, if present, must be a u32 power of two
 * and sets the alignment; default 32), tensor infos in the given order, data aligned.
 * Dtypes F32/F16/BF16/Q8_0 (Q8_0 needs the innermost dim to be a multiple of 32). Atomic. */
int rl_gguf_write(const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta);

/* ============================================================================================ */
/* Section 2: models. Any supported checkpoint into an rl_model (+ its tokenizer), and ropelab's  */
/* own checkpoints / exports out of one. Architecture mapping lives in src/formats/model_*.c.     */
/* ============================================================================================ */

typedef struct {
    rl_model *model;        /* ready for rl_model_infer / rl_model_decode */
    rl_tokenizer *tok;      /* NULL when the format has none and none was given */
    char format[32];        /* "hf", "gguf", "llama2c" (ropelab checkpoints are "hf" folders) */
    char source[4096];      /* the path loaded */
    void *priv;             /* maps and converted buffers kept alive for the model */
} rl_loaded;

/* Loads a Hugging Face folder (config.json + safetensors, sharded or not; ropelab's own
 * checkpoints are such folders), a GGUF file or a llama2.c checkpoint, detected from the path.
 * tokenizer_path: a tokenizer file overriding the format's own (NULL: the format's own, e.g.
 * tokenizer.json in the folder, the GGUF vocabulary; llama2.c needs one given or a
 * tokenizer.bin beside it). F32 weights are used in place from the map; others are converted
 * once. Every error names the file, the tensor or key, and the offset where it has one. */
int rl_load_model(const char *path, const char *tokenizer_path, rl_loaded *out);
void rl_loaded_free(rl_loaded *l);

/* A ropelab run folder (`ropelab train --out DIR`: no config.json of its own, a `checkpoint` entry
 * linking or naming its newest complete ckpt-NNNNNNN folder). Returns 1 with that checkpoint folder's
 * path in out[0..n), 0 when path is not a run folder (a file, a Hugging Face folder, anything else),
 * -1 when it is one whose `checkpoint` entry is dangling or unreadable (message names it). */
int rl_run_checkpoint(const char *path, char *out, size_t n);

/* Parses a Hugging Face config.json (bytes json[0..len)) into *c: the architecture from
 * "architectures" (else "model_type"), then transformers' keys and per-class defaults (head_dim,
 * num_key_value_heads, rms_norm_eps / layer_norm_eps, hidden_act / hidden_activation, rope_theta /
 * rotary_emb_base, partial_rotary_factor / rotary_pct, rope_scaling / rope_parameters of type
 * default, linear, dynamic, yarn, llama3 or proportional (p-RoPE), sliding windows, soft-caps,
 * query_pre_attn_scalar, biases, tie_word_embeddings, bos/eos). The sizes vocab_size, hidden_size,
 * num_hidden_layers, num_attention_heads and intermediate_size are required. Every error names
 * `source` and the key. docs/formats.md, "Models", lists what is honoured per architecture. */
int rl_hf_config_parse(rl_model_config *c, const char *json, size_t len, const char *source);

/* Writes `m` as a Hugging Face folder: DIR/config.json (the architecture's HF config keys; p-RoPE
 * as rope_scaling {"rope_type": "proportional", ...}) and DIR/model.safetensors with the
 * parameter table's HF names, in `dtype` (F32, F16 or BF16). The safetensors __metadata__ holds
 * "ropelab_config" (rl_model_config_to_json) plus the `extra` string entries (may be NULL).
 * Each file is written atomically; DIR must exist. */
int rl_hf_save(const char *dir, const rl_model *m, const rl_meta_list *extra, rl_dtype dtype);

/* Writes `m` (+ tokenizer, may be NULL) as a GGUF v3 file llama.cpp can read, permuting q/k rows
 * where the target layout needs it. dtype: F32, F16 or Q8_0. Atomic. */
int rl_gguf_export(const char *path, const rl_model *m, const rl_tokenizer *tok, rl_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
