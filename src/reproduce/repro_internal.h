/* Internal to src/reproduce: the run's context (options resolved, the plan's stage indices), the
 * stages' run functions, and the results gathered from the stage folders for the report. */
#ifndef ROPELAB_REPRO_INTERNAL_H
#define ROPELAB_REPRO_INTERNAL_H

#include "plan.h"
#include "ropelab/experiments.h"
#include "ropelab/train.h"

#include <cjson/cJSON.h>

#define RP_MAX_VARIANTS 32
#define RP_MAX_SEEDS 32
#define RP_MAX_MODELS 8
#define RP_MAX_MULTS 6
#define RP_MAX_FILES 64
enum { RP_PLAIN = 0, RP_ADAPTIVE = 1, RP_NSOFTMAX = 2 };

/* File names inside stage folders (besides config.json / stage.json). */
#define RP_UNIGRAM "unigram.json"   /* data stage: the unigram baseline */
#define RP_TRAIN_RUN "run"          /* train stage: the trainer's run folder */
#define RP_EVAL_FILE "eval.json"    /* eval stage: the trainer's evaluation report */
#define RP_ANALYSIS "summary.json"  /* analysis stages: the analyser's summary */

typedef struct {
    rl_repro_opts o;                   /* as given (pointers stay the caller's) */
    const rl_repro_scale *scale;
    rl_repro_variant variants[RP_MAX_VARIANTS];
    int n_variants;
    int seeds;
    int threads, jobs, threads_per_job;
    /* data */
    int data_prepared;                 /* 1: o.data is a prepared dataset used where it is */
    char data_dir[4096];               /* the prepared dataset the runs read */
    char data_id[17];                  /* hash of the dataset (or corpus) content and preparation */
    int n_files;
    char *files[RP_MAX_FILES];         /* corpus text files to prepare (owned) */
    /* what this build can run (the stages whose library parts exist) */
    int n_softmax;                     /* 1: plain only; 2: plain and adaptive */
    /* stage indices in the plan (-1 when not planned) */
    int st_data, st_theory;
    int st_train[RP_MAX_VARIANTS][RP_MAX_SEEDS];
    int st_eval[RP_MAX_VARIANTS][RP_MAX_SEEDS];
    int st_analysis[RP_MAX_VARIANTS][RP_MAX_SEEDS];
    int st_pretrained[RP_MAX_MODELS];
    plan plan;
} rp_ctx;

/* ---- the run (run.c) -------------------------------------------------------------------------- */

/* Resolves the options and the data, builds the plan (not yet scanned or executed), creates OUT. */
int rp_prepare(rp_ctx *x, const rl_repro_opts *o);
/* The same with trained = 0: the plan holds only the data, pretrained and theory stages (for tests
 * that add fabricated evaluation and analysis stages). */
int rp_prepare_stages(rp_ctx *x, const rl_repro_opts *o, int trained);
/* After the plan ran: gathers the results, computes the claims and writes OUT/report/ (summary.json,
 * index.html, figures/, timing.json). t0: rl_now() when the run started. */
int rp_finish(rp_ctx *x, double t0, rl_repro_result *res);
void rp_ctx_free(rp_ctx *x);

/* ---- stages (stage_*.c) ----------------------------------------------------------------------- */

/* Resolves the data source (o.data): a prepared dataset, or a folder / list of text files. Sets
 * data_prepared, files, data_id. */
int rp_data_resolve(rp_ctx *x);
/* The data stage's config (JSON text, malloc'ed) and run function. */
char *rp_data_config(const rp_ctx *x);
int rp_data_run(plan *p, plan_stage *s, const char *dir, void *user);
/* The unigram baseline of a prepared dataset: its validation loss under the training split's
 * token frequencies (add-one smoothed), written to DIR/unigram.json. */
int rp_unigram_write(const char *data_dir, const char *out_path);

/* The theory options of a scale (the defaults, or reduced sizes for micro). */
void rp_theory_opts(const rl_repro_scale *s, rl_theory_opts *o);
char *rp_theory_config(const rp_ctx *x);
int rp_theory_run(plan *p, plan_stage *s, const char *dir, void *user);

/* The train stage (stage_train.c): the trainer's config of variant v, seed index s; the stage's
 * config (the training config without paths, plus the data's content hash); the run function
 * (stage tags: [0] variant, [1] seed). */
int rp_train_config_of(const rp_ctx *x, int v, int s, rl_train_config *c);
char *rp_train_config(const rp_ctx *x, int v, int s);
int rp_train_run(plan *p, plan_stage *s, const char *dir, void *user);

/* The eval stage (stage_eval.c), of the run trained by stage train_stage (tag [2]). */
char *rp_eval_config(const rp_ctx *x, int train_stage);
int rp_eval_run(plan *p, plan_stage *s, const char *dir, void *user);

/* The analysis stages (stage_analysis.c): a trained run (tag [2] = its train stage) and pretrained
 * model m (tag [0]). */
char *rp_analysis_config(const rp_ctx *x, int train_stage);
int rp_analysis_run(plan *p, plan_stage *s, const char *dir, void *user);
char *rp_pretrained_config(const rp_ctx *x, int m);
int rp_pretrained_run(plan *p, plan_stage *s, const char *dir, void *user);

/* ---- results gathered from the stage folders (collect.c) --------------------------------------- */

/* A number read from a file of a stage folder: the value, the file (relative to the output folder)
 * and the RFC 6901 JSON pointer to it inside that file. */
typedef struct {
    double v;
    char src[96];
    char ptr[64];
} rp_val;

typedef struct {
    int have;                          /* eval.json read */
    int n_softmax;
    rp_val ppl[RP_NSOFTMAX][RP_MAX_MULTS];
} rp_eval;

typedef struct {
    int layer, head;
    char role[16];
    rp_val score, high_share, top_chunk, ko_high, ko_low;
} rp_head;

typedef struct {
    int have;
    char src[96];                      /* its summary.json, relative */
    char dir[96];                      /* its folder, relative */
    int L, C;
    double *usage;                     /* [L][C] (q + k) / 2 chunk norms averaged over heads */
    double *freq;                      /* [L][C] rad/token */
    rp_val loss;
    rp_val edge;                       /* the analyser's edge_fraction (size of the high / low band) */
    int n_heads;
    rp_head *heads;                    /* heads with a role */
    int n_ablations;
    char (*ablation_name)[40];
    rp_val *dloss;                     /* [n_ablations] */
} rp_analysis;

typedef struct {
    int have;
    char src[96];                      /* theory summary.json, relative */
    char dir[96];
    int n;
    char name[RL_THEORY_COUNT][16];
    rl_claim claim[RL_THEORY_COUNT];   /* verdict from the file (supported / not supported) */
    char verdict_ptr[RL_THEORY_COUNT][48];
    char figures[RL_THEORY_COUNT][8][64]; /* figure base names (NAME of NAME.png) */
    int n_figures[RL_THEORY_COUNT];
} rp_theory;

typedef struct {
    rp_theory theory;
    int have_unigram;
    rp_val unigram_loss;
    rp_val train_tokens, val_tokens;
    rp_eval eval[RP_MAX_VARIANTS][RP_MAX_SEEDS];
    rp_analysis an[RP_MAX_VARIANTS][RP_MAX_SEEDS];
    rp_analysis pre[RP_MAX_MODELS];
    /* claims */
    int n_claims;
    rl_claim claims[32];
    cJSON *claim_inputs[32];           /* per claim: the sourced numbers it used (owned) */
} rp_results;

/* Reads every finished stage folder of the plan into r. Returns 0, or -1 when a finished stage's
 * file is missing or malformed (the message names it). */
int rp_collect(const rp_ctx *x, rp_results *r);
void rp_results_free(rp_results *r);
/* Reads the number at `ptr` of the JSON file `rel` (relative to out) into *v. */
int rp_read_val(const char *out, const char *rel, const char *ptr, rp_val *v);
/* The value at an RFC 6901 pointer ("/a/0/b"; "~1" = "/", "~0" = "~"); NULL when absent. */
const cJSON *rp_pointer(const cJSON *root, const char *ptr);
/* {"value": v, "source": src, "pointer": ptr} */
cJSON *rp_val_json(const rp_val *v);

/* Writes j (pretty-printed) atomically to path and deletes it. */
int rp_write_json(const char *path, cJSON *j);
/* The perplexities of variant v, softmax k, context multiple m over the evaluated seeds: vals[0 .. n),
 * returns n. */
int rp_seed_ppl(const rp_ctx *x, const rp_results *r, int v, int k, int m, rp_val *vals);

/* Mean and 95% t-interval over the finite values of vals[0 .. n). */
void rp_agg(const rp_val *vals, int n, rl_ci *ci);

/* Index of the variant named `name`, or -1. */
int rp_variant(const rp_ctx *x, const char *name);

/* ---- claims, summary and report (claims_eval.c, summary.c, report.c) -------------------------- */

/* Computes every claim this run can test into r->claims (and their inputs). */
void rp_claims(const rp_ctx *x, rp_results *r);
/* OUT/report/summary.json: every number with its source. */
int rp_write_summary(const rp_ctx *x, const rp_results *r, const char *path);
/* OUT/report/index.html plus the figures (PNG, SVG, CSV, gnuplot script) in OUT/report/figures/. */
int rp_write_report(const rp_ctx *x, const rp_results *r, const char *report_dir);

#endif
