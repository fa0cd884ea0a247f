/* Internal to src/experiments/theory_*.c: shared helpers and the per-experiment output context. */
#ifndef ROPELAB_THEORY_INTERNAL_H
#define ROPELAB_THEORY_INTERNAL_H

#include "ropelab/experiments.h"
#include "ropelab/report.h"
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>

/* Random-stream tags: one per use, so streams never overlap. */
enum { TH_TAG_DECAY_B = 1, TH_TAG_DECAY_C, TH_TAG_MC, TH_TAG_ARGMAX, TH_TAG_HEADS };
/* Prop 3.2: Gaussian pairs per block (one random stream and one dgemm each). */
#define TH_MC_BLOCK 2048

/* A generator for block `index` of stream `tag` under `seed`. */
void th_rng(rl_rng *r, uint64_t seed, uint64_t tag, uint64_t index);
/* q, k: [dim] Gaussian; k = corr q + sqrt(1 - corr^2) z. */
void th_gaussian_pair(rl_rng *r, int dim, double corr, double *q, double *k);
/* ab: [n][2] = (a_j, b_j) of the pair, so that logit(r) = sum ab . trig_row(r). */
void th_pair_coeffs(int n, const double *q, const double *k, double *ab);
/* Inside an OpenMP loop: adds `add` to the shared counter *done; thread 0 redraws the progress line. */
void th_progress_add(rl_progress *p, int64_t *done, int64_t add);
/* t: [n][2] = (cos r g_j, -sin r g_j). */
void th_trig_row(const double *freq, int n, double r, double *t);

/* What one experiment writes and reports. */
typedef struct {
    const rl_theory_opts *o;
    cJSON *stats;            /* its "statistics" object in summary.json */
    cJSON *files;            /* its "files" array */
    int supported;
    char rule[1024];         /* the verdict rule, in words */
    char claim[512];         /* the claim tested */
    char line[640];          /* the one-line summary */
} th_ctx;

/* Opens OUT/name atomically and lists it among the experiment's files. */
int th_open(th_ctx *x, rl_afile *f, const char *name);
int th_commit(rl_afile *f);
/* rl_figure in OUT, listing name.gp, name.png, name.svg. */
int th_figure(th_ctx *x, const char *name, int width, int height, const char *body);
/* Adds a number / string / integer to the statistics. */
void th_stat(th_ctx *x, const char *key, double v);
void th_stat_str(th_ctx *x, const char *key, const char *v);

int th_run_decay(th_ctx *x);
int th_run_prop32(th_ctx *x);
int th_run_prop31(th_ctx *x);
int th_run_positional(th_ctx *x);
int th_run_semantic(th_ctx *x);

#endif
