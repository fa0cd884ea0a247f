/* Internal to src/reproduce: the plan of stages, their folders and done markers, and the executor
 * (parallel workers, one progress bar, resume, the kill hook the tests use). Knows nothing about
 * what the stages do. */
#ifndef ROPELAB_REPRO_PLAN_H
#define ROPELAB_REPRO_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_MAX_DEPS 4
#define STAGE_MARKER "stage.json"   /* written last: its presence means the stage is done */
#define STAGE_CONFIG "config.json"  /* written first: the stage's full resolved configuration */

struct plan_stage;
struct plan;

/* A stage's work. `dir` is its folder (created, with config.json written). Report progress with
 * plan_tick. Returns 0, or -1 with rl_error() set. */
typedef int (*plan_run_fn)(struct plan *p, struct plan_stage *s, const char *dir, void *user);

typedef struct plan_stage {
    char kind[16];           /* "data", "train", ... : the folder OUT/<kind>/<hash> */
    char label[128];         /* shown in the progress line, e.g. "train p0.75 seed 2" */
    char *config;            /* canonical JSON text of everything the result depends on (owned) */
    char hash[17];           /* 16 hex digits of rl_hash64(config) */
    char rel[64];            /* "<kind>/<hash>", relative to the output folder */
    double weight;           /* estimated cost (any unit, the same for every stage) */
    int deps[PLAN_MAX_DEPS], n_deps;
    plan_run_fn run;
    void *user;              /* passed to run (not owned) */
    int tag[4];              /* the builder's indices (variant, seed, ...) */
    /* executor state */
    int state;               /* 0 waiting, 1 running, 2 done, 3 failed */
    int skipped;             /* was already done when the plan started */
    double seconds;          /* wall time of its run in this process */
    int threads;             /* threads it ran with */
    double tick_frac;        /* progress within the stage, 0..1 */
    int64_t state_ticks;     /* plan_tick calls so far (the kill hook counts them) */
    char note[96];           /* progress detail ("step 120/600") */
} plan_stage;

typedef struct plan {
    char out_dir[4096];
    int n, cap;
    plan_stage *st;
    /* progress */
    int progress;            /* show the bar / lines (also off under ROPELAB_QUIET=1) */
    int show;                /* progress && !rl_quiet() when the execution started */
    int tty;
    double t0, last_draw;
    double total_weight;     /* of the stages not done at the start */
    double done_weight;
    int n_done;
    /* the first failure */
    char error[1024];
    int failed;
} plan;

void plan_init(plan *p, const char *out_dir);
void plan_free(plan *p);
/* Adds a stage; takes ownership of config (malloc'ed). Returns its index, or -1 (out of memory). */
int plan_add(plan *p, const char *kind, const char *label, char *config, double weight, plan_run_fn run, void *user);
int plan_dep(plan *p, int stage, int on);
/* The folder of stage i: OUT/<kind>/<hash>. */
int plan_dir(const plan *p, int i, char *buf, size_t n);

/* Marks stages whose marker exists (with the same config) as done. Fails when a folder's
 * config.json differs from the stage's config (a hash collision or an edited file). */
int plan_scan(plan *p);

/* Runs every stage not done, `jobs` at a time (jobs > 1: OpenMP workers, each stage with
 * `threads_per_job` threads; nested parallelism is enabled only when that is > 1), in plan order
 * among the stages whose dependencies are done. On the first failure no new stage starts; running
 * ones finish; returns -1 with the failing stage's label and message. The stages' own progress lines
 * are silenced (ROPELAB_QUIET=1 is set for the duration, then restored): the plan's bar is the only one. */
int plan_execute(plan *p, int jobs, int threads_per_job);

/* From inside a stage: progress within it (frac in [0, 1], note may be NULL), and the kill hook. */
void plan_tick(plan *p, plan_stage *s, double frac, const char *note);

/* The test hook: ROPELAB_REPRO_KILL=INDEX:POINT raises SIGKILL in stage INDEX (its index in the
 * plan) at POINT: "start" (folder and config written, before its work), "tick=K" (at its K-th
 * plan_tick, K >= 1), "end" (work done, before the marker) or "done" (after the marker). */
void plan_kill_point(const plan_stage *s, int index, const char *point, int64_t k);

#endif
