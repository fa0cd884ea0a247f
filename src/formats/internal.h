/* formats: helpers shared by the container readers and writers (not public API). */
#ifndef ROPELAB_FORMATS_INTERNAL_H
#define ROPELAB_FORMATS_INTERNAL_H

#include "ropelab/formats.h"

#include <stdio.h>

/* ---- metadata (meta.c) ---- */
size_t fmt_meta_scalar_size(rl_meta_type t);              /* 0 for STRING/ARRAY */
rl_meta *fmt_meta_push(rl_meta_list *l, const char *key, size_t key_len);
int fmt_meta_set_str(rl_meta *e, const char *s, size_t n);

/* ---- collections (tensors.c) ---- */
/* Starts an empty collection with one file (path copied; map may be empty). */
int fmt_tensors_init(rl_tensors *ts, rl_format f, const char *path, const rl_map *map);
/* Appends a tensor (name copied) and returns it zeroed except name/file; NULL on OOM. */
rl_tensor *fmt_tensors_push(rl_tensors *ts, const char *name, size_t name_len, int file);
/* Builds the name index; fails on a duplicate name (message names both). */
int fmt_tensors_index(rl_tensors *ts);
/* Moves src's files, tensors and (missing) metadata keys into dst; src is left empty. */
int fmt_tensors_append(rl_tensors *dst, rl_tensors *src);
/* Maps `path` read-only and runs `parse` on its bytes; on success the collection owns the map. */
typedef int (*fmt_parser)(rl_tensors *ts, const uint8_t *buf, size_t len, const char *name);
int fmt_open_mapped(rl_tensors *ts, const char *path, fmt_parser parse);
/* A tensor's byte span [begin, end) and its index; fmt_sort_spans orders by begin, then end. */
typedef struct {
    uint64_t begin, end;
    int idx;
} fmt_span;
void fmt_sort_spans(fmt_span *sp, int n);
/* Finds two equal strings among names[0..n): returns 1 and their indices (*a < *b), else 0. */
int fmt_find_duplicate(const char *const *names, int n, int *a, int *b);
/* JSON text checks cJSON does not make: no raw control bytes inside strings (JSON forbids them)
 * and no \u0000 escape (it would silently cut a C string short, e.g. a tensor name). `base` is
 * the file offset of json[0], for the message. */
int fmt_json_check_strings(const char *json, size_t n, const char *name, size_t base);
/* Sets numel (checking overflow against INT64_MAX) from ndim/shape; -1 on overflow. */
int fmt_numel(const int64_t *shape, int ndim, int64_t *numel);
/* Bytes of numel elements of dtype (ggml_type for RL_DT_GGML/Q8_0 blocks); -1 if not a whole
 * number of blocks or on overflow. */
int fmt_nbytes(rl_dtype dt, int ggml_type, int64_t numel, uint64_t *nbytes);

/* ---- writers (write.c) ---- */
/* Checks a write tensor (name, dims, data/raw present) and returns its element count and byte
 * size in `dtype`. */
int fmt_write_check(const rl_write_tensor *t, int64_t *numel, uint64_t *nbytes);
/* Writes tensor data to fp in its dtype, converting from float when t->data is given. */
int fmt_write_data(FILE *fp, const rl_write_tensor *t, int64_t numel, uint64_t nbytes, const char *path);

/* The writers' bodies on an open stream (no atomic file; the fuzzers write to memory).
 * `path` only names the output in messages. */
int fmt_gguf_write_fp(FILE *fp, const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta);
int fmt_safetensors_write_fp(FILE *fp, const char *path, const rl_write_tensor *t, int n, const rl_meta_list *meta);

#endif
