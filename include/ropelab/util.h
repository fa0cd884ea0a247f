/* ropelab/util.h: the small shared services every part of ropelab uses.
 *
 *  - errors:   library functions return 0 on success and -1 on failure, after recording one
 *              human-readable message (naming file / field / offset) with rl_fail(); the caller
 *              reads it with rl_error(). The message is thread-local.
 *  - files:    whole-file reads, read-only memory maps, directory creation, and atomic writes
 *              (temp file in the same folder + fsync + rename + fsync of the folder), so that an
 *              interrupted run never leaves a half-written output.
 *  - progress: a one-line bar with rate and ETA on a terminal, plain lines otherwise.
 *  - rng:      xoshiro256** seeded by splitmix64; deterministic across machines.
 *  - time:     a monotonic clock in seconds.
 */
#ifndef ROPELAB_UTIL_H
#define ROPELAB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------------------------ */

/* Records a printf-style message as the current error and returns -1. */
int rl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends "prefix: " to the current error (e.g. the file name) and returns -1. */
int rl_fail_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The current error message ("" when none). */
const char *rl_error(void);
void rl_clear_error(void);

/* ---- memory ------------------------------------------------------------------------------ */

/* malloc/calloc that record "out of memory (N bytes for WHAT)" and return NULL on failure. */
void *rl_malloc(size_t n, const char *what);
void *rl_calloc(size_t count, size_t size, const char *what);
/* 64-byte aligned, zero-filled allocation; free with free(). */
void *rl_alloc_aligned(size_t n, const char *what);
char *rl_strdup(const char *s);

/* ---- files ------------------------------------------------------------------------------- */

/* Reads a whole file into a NUL-terminated heap buffer. */
int rl_read_file(const char *path, char **data, size_t *len);

/* A read-only memory map of a whole file (len may be 0, then data is NULL). */
typedef struct {
    const uint8_t *data;
    size_t len;
} rl_map;
int rl_map_file(const char *path, rl_map *m);
void rl_unmap(rl_map *m);

/* mkdir -p. */
int rl_mkdirs(const char *path);
int rl_file_exists(const char *path);
/* snprintf into buf; fails (with a message) when the result would be truncated. */
int rl_path(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Atomic output file. Write through fp, then rl_afile_commit() makes it appear at `path`
 * in one step; rl_afile_abort() (or a crash) leaves any previous file at `path` untouched. */
typedef struct {
    FILE *fp;
    char *path;
    char *tmp;
} rl_afile;
int rl_afile_open(rl_afile *f, const char *path);
int rl_afile_commit(rl_afile *f);
void rl_afile_abort(rl_afile *f);
/* Writes `n` bytes atomically. */
int rl_write_atomic(const char *path, const void *data, size_t n);
/* Renames a finished temp file onto `path` durably (fsync file + rename + fsync folder). */
int rl_commit_rename(const char *tmp, const char *path);

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct {
    char label[48];
    char unit[16];
    int64_t total;   /* 0 when unknown */
    int64_t done;
    double t0, last;
    int tty;
} rl_progress;
/* Starts a progress display on stderr. unit names what is counted ("step", "run", "tok"). */
void rl_progress_start(rl_progress *p, const char *label, int64_t total, const char *unit);
/* Updates it; `extra` (may be NULL) is appended, e.g. "loss 3.214 lr 6.0e-04". Throttled:
 * redraws at most 10 times a second on a terminal, a plain line every 10 s otherwise. */
void rl_progress_update(rl_progress *p, int64_t done, const char *extra);
/* Final line (always printed). */
void rl_progress_finish(rl_progress *p, const char *extra);
/* Set ROPELAB_QUIET=1 to silence progress output (tests do). */
int rl_quiet(void);

/* ---- random numbers ---------------------------------------------------------------------- */

typedef struct {
    uint64_t s[4];
    int has_spare;
    double spare;
} rl_rng;
void rl_rng_seed(rl_rng *r, uint64_t seed);
uint64_t rl_rng_u64(rl_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rl_rng_uniform(rl_rng *r);
/* Uniform integer in [0, n). */
uint64_t rl_rng_below(rl_rng *r, uint64_t n);
/* Standard normal (Marsaglia polar method). */
double rl_rng_normal(rl_rng *r);

/* ---- time, strings, numbers -------------------------------------------------------------- */

double rl_now(void); /* monotonic seconds */
/* Strict number parsing: the whole string must be a finite number. */
int rl_parse_double(const char *s, double *out);
int rl_parse_int64(const char *s, int64_t *out);
/* 64-bit FNV-1a hash (run folder names, checksums of configs). */
uint64_t rl_hash64(const void *data, size_t n, uint64_t seed);

#define RL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#ifdef __cplusplus
}
#endif
#endif
