/* ropelab/train.h: the training part.
 *
 * Section 1: the optimizer and schedule, shared by the language-model trainer and the
 *   max-retrieval experiment.
 * Section 2: the training configuration (model keys + training keys, one JSON object).
 * Section 3: one optimizer step, and the training run (`ropelab train`): run folder, log,
 *   checkpoints, resume.
 * Section 4: evaluation (`ropelab eval`): the validation-loss protocol at several contexts.
 * docs/train.md documents the keys, the run folder, the checkpoint format and the protocol.
 */
#ifndef ROPELAB_TRAIN_H
#define ROPELAB_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ropelab/data.h"
#include "ropelab/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One AdamW step with decoupled weight decay, in PyTorch's exact order of operations
 * (torch.optim.AdamW, foreach=False): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 * p, g, m, v: [n]; t: the 1-based step number. Pass wd = 0 for parameters without decay (norms). */
void rl_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                   float eps, float wd, int64_t t);

/* Global L2 norm of a gradient buffer, summed in float64 in a fixed order (deterministic for a
 * given thread count). g: [n]. */
double rl_grad_norm(const float *g, size_t n);

/* In-place g *= s. g: [n]. */
void rl_scale(float *g, size_t n, float s);

/* Linear warm-up from 0 to lr_max over `warmup` steps, then cosine decay to lr_min at `total`.
 * step counts from 0. */
float rl_lr_at(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min);


/* ============================================================================================ */
/* Section 2: the training configuration                                                          */
/* ============================================================================================ */

/* One JSON object holds the model keys (rl_model_config, docs/model.md) and the training keys
 * below (docs/train.md lists both with their defaults). */
typedef struct {
    rl_model_config model;  /* model.vocab_size 0: taken from the dataset's tokenizer;
                               model.bos_id / eos_id -2: taken from the tokenizer */
    char data[4096];        /* "data": the prepared dataset folder (`ropelab data prepare`) */
    int64_t steps;          /* optimizer steps */
    int batch;              /* windows per micro-batch (B) */
    int grad_accum;         /* micro-batches per step; tokens per step = batch * grad_accum * max_seq */
    double lr, min_lr;      /* peak and final learning rate */
    int64_t warmup;         /* linear warm-up steps, then cosine decay to min_lr at `steps` */
    double weight_decay;    /* decoupled (AdamW); only on tensors whose table entry has decay = 1 */
    double beta1, beta2, eps;
    double clip;            /* global gradient-norm clipping threshold; 0 = off */
    int64_t eval_every;     /* validation every N steps (and after the last); 0 = only after the last */
    int64_t eval_tokens;    /* validation tokens read per evaluation; 0 = the whole split */
    int64_t ckpt_every;     /* checkpoint every N steps (and after the last); 0 = only after the last */
    int keep_ckpts;         /* complete checkpoints kept (the newest K) */
    int64_t seed;           /* initialisation and batch sampling, in [0, 2^53] */
    int threads;            /* OpenMP threads; 0 = OpenMP's default. Results are bit-identical only
                               for the same thread count. */
    int figures;            /* refresh OUT/loss.{png,svg} at evaluation points */
} rl_train_config;

/* The defaults (docs/train.md): the reference model (rl_model_config_default) with vocab_size and
 * BOS/EOS from the data, steps 2000, batch 16, grad_accum 1, lr 1e-3, min_lr 1e-4, warmup 100,
 * weight_decay 0.1, beta1 0.9, beta2 0.95, eps 1e-8, clip 1, eval_every 200, eval_tokens 65536,
 * ckpt_every 500, keep_ckpts 2, seed 1337, threads 0, figures true. */
void rl_train_config_default(rl_train_config *c);

/* Applies the keys of a JSON object on top of *c. Model keys go through
 * rl_model_config_from_json ("arch" resets the model keys to that preset first). Unknown keys,
 * wrong types and bad values fail with "SOURCE: key K: what is wrong". The result is validated. */
int rl_train_config_from_json(rl_train_config *c, const char *json, const char *source);
/* Reads a JSON file with from_json (on top of *c). */
int rl_train_config_load(rl_train_config *c, const char *path);
/* Checks every training key and the model (trainable, per rl_model_config_check_trainable);
 * the message names the key. */
int rl_train_config_validate(const rl_train_config *c);
/* Malloc'ed pretty JSON with every key, model keys first (free it). */
char *rl_train_config_to_json(const rl_train_config *c);

/* The training keys, for command lines and documentation. */
typedef enum { RL_TKEY_INT, RL_TKEY_NUM, RL_TKEY_BOOL, RL_TKEY_STR } rl_train_key_type;
typedef struct {
    const char *key;        /* JSON key, e.g. "grad_accum" (its flag is --grad-accum) */
    rl_train_key_type type;
    const char *help;       /* one line, with the default */
    int resumable;          /* 1: may change on --resume without breaking the continuation's
                               meaning (steps, threads, eval/checkpoint cadence, data path, figures) */
} rl_train_key;
/* The table; *n receives its length. */
const rl_train_key *rl_train_keys(int *n);

/* ============================================================================================ */
/* Section 3: training                                                                            */
/* ============================================================================================ */

/* What one optimizer step did. */
typedef struct {
    double loss;            /* mean next-token loss over the step's tokens (nats) */
    double grad_norm;       /* global L2 norm of the mean-loss gradient, before clipping */
    float lr;
    int clipped;            /* 1 when the gradient was scaled down to `clip` */
} rl_step_stats;

/* One optimizer step of the schedule's step `step` (0-based) on n_micro micro-batches:
 * windows: [n_micro][B][T+1] token ids (inputs [..][0..T-1], targets [..][1..T]), with B, T the
 * sizes of m's activation arena (rl_model_alloc_acts). Zeroes the gradients, accumulates the
 * gradient of the mean loss over all n_micro * B * T targets (each micro-batch's backward is
 * scaled by 1 / (n_micro B T), so k micro-batches of B windows give the gradient of one batch of
 * k B windows up to float32 summation order), computes the global norm, stops on a non-finite
 * loss or norm ("step S: loss is NaN (gradient norm ...)": the parameters are then unchanged),
 * clips as torch.nn.utils.clip_grad_norm_ does (scale by clip / (norm + 1e-6) when that is
 * below 1), and takes one AdamW step at rl_lr_at(step, ...). */
int rl_train_step(rl_model *m, const rl_train_config *c, int64_t step, const int32_t *windows, int n_micro,
                  rl_step_stats *st);

/* Progress of a run, given to the callback after every step. */
typedef struct {
    int64_t step;           /* steps done (1-based: the step just finished) */
    int64_t steps;          /* total */
    rl_step_stats s;
    double tokens_per_s;    /* of this step */
    double eta_s;           /* remaining time at the run's mean speed since it (re)started */
    double val_loss;        /* NaN unless validation ran after this step */
} rl_train_progress;

typedef struct {
    int resume;             /* continue the run in out_dir from its newest complete checkpoint */
    int quiet;              /* no progress line or messages (ROPELAB_QUIET=1 has the same effect) */
    void (*on_step)(void *ctx, const rl_train_progress *p); /* may be NULL */
    void *ctx;
} rl_train_opts;

typedef struct {
    int64_t start_step;     /* 0, or the checkpoint step a resumed run started from */
    int64_t steps_done;     /* == config steps on success */
    double loss;            /* the last step's training loss */
    double val_loss;        /* the last validation loss (NaN if none) */
    double seconds;         /* wall time of this call */
    double tokens_per_s;    /* training tokens per second over this call's steps */
    char checkpoint[4096];  /* the final checkpoint folder */
} rl_train_result;

/* Trains a model from scratch into out_dir, or (opts->resume) continues the run in out_dir.
 * Run folder (docs/train.md): train_config.json (the resolved config), log.csv, loss.{gp,png,svg},
 * checkpoint -> ckpt-NNNNNNN (symlink to the newest complete checkpoint), ckpt-NNNNNNN/ (a
 * Hugging Face folder: config.json + model.safetensors, plus tokenizer.bin,
 * optimizer.safetensors and trainer_state.json).
 * A fresh run fails if out_dir already holds one. Resuming checks that c equals the run's config
 * except for resumable keys (the message names the first differing key) and that the dataset is
 * the one the run used; it then continues bit-identically to an uninterrupted run at the same
 * thread count, even after a SIGKILL at any moment (partial checkpoint folders are removed).
 * A non-finite loss or gradient norm stops the run with an error naming the step; the last
 * complete checkpoint stays as it was. res may be NULL. */
int rl_train_run(const rl_train_config *c, const char *out_dir, const rl_train_opts *opts, rl_train_result *res);

/* The config of an existing run folder: out_dir/train_config.json on top of the defaults. */
int rl_train_config_of_run(rl_train_config *c, const char *out_dir);

/* ============================================================================================ */
/* Section 4: evaluation                                                                          */
/* ============================================================================================ */

/* The protocol (docs/train.md, "Evaluation protocol"): at context N the first
 * min(max_tokens, n) validation tokens (max_tokens 0 = all n) are cut into consecutive
 * non-overlapping windows of N + 1 tokens (a last partial window is dropped); positions restart
 * at 0 in every window; each window gives N predictions (token t+1 from tokens 0..t, t = 0..N-1);
 * the loss is the mean next-token cross-entropy (nats) over all N predictions of all windows,
 * perplexity = exp(loss). Position buckets are powers of two: [0,1), [1,2), [2,4), [4,8), ...,
 * the last one ending at N; a prediction's position is t, the position of its last input token. */
#define RL_EVAL_MAX_BUCKETS 33
typedef struct {
    int context;                        /* N */
    int64_t tokens_read;                /* tokens of the split the windows were cut from */
    int64_t windows;                    /* floor(tokens_read / (N + 1)) */
    int64_t predictions;                /* windows * N */
    double loss, ppl;
    int n_buckets;
    int64_t bucket_lo[RL_EVAL_MAX_BUCKETS], bucket_hi[RL_EVAL_MAX_BUCKETS]; /* [lo, hi) */
    int64_t bucket_count[RL_EVAL_MAX_BUCKETS];
    double bucket_loss[RL_EVAL_MAX_BUCKETS]; /* mean loss of the bucket's predictions */
} rl_eval_point;

/* Runs the protocol with rl_model_infer (memory linear in N). Fails when not one window fits.
 * show_progress: a progress line over the windows. */
int rl_eval_context(rl_model *m, const rl_shard *val, int context, int64_t max_tokens, int show_progress,
                    rl_eval_point *out);

/* A model sharing m's parameters (no copy) with another per-layer encoding list (the syntax of
 * rl_model_config_set_pe: one spec, one per layer, or a repeating pattern). Free it with
 * rl_model_free before m. */
rl_model *rl_model_with_pe(const rl_model *m, const char *pe_list);

/* One evaluation of a whole plan: every encoding and softmax variant at every context. */
typedef struct {
    const int *contexts;            /* NULL / 0: the training context (cfg.max_seq) x 1, 2, 4, 8, 16 */
    int n_contexts;
    const char *const *pe;          /* encoding overrides (each evaluated besides the model's own) */
    int n_pe;
    const char *const *softmax;     /* attention softmax overrides ("softmax", "adaptive",
                                       "adaptive-const"; each evaluated besides the model's own) */
    int n_softmax;
    int64_t max_tokens;             /* 0 = the whole validation split */
    int threads;                    /* 0 = OpenMP's default */
    int quiet;
} rl_eval_opts;

typedef struct {
    char pe[2048];                  /* the encoding list of this row (canonical, shortest pattern) */
    int overridden;                 /* 0: the checkpoint's own encoding; 1: an --pe override */
    char softmax[32];               /* the attention softmax of this row */
    int softmax_overridden;         /* 0: the checkpoint's own; 1: a --softmax override */
    rl_eval_point pt;
} rl_eval_row;

typedef struct {
    char checkpoint[4096];          /* the folder evaluated ("" for an in-memory model) */
    char data[4096];                /* the dataset folder */
    int train_context;
    int64_t max_tokens;
    int n_rows;
    rl_eval_row *rows;              /* for each encoding (the model's own first), each softmax (the
                                       model's own first), each context */
} rl_eval_report;

/* Evaluates an in-memory model on a validation shard (the shard's vocabulary must equal the
 * model's). data_dir only labels the report. */
int rl_eval_model(rl_model *m, const rl_shard *val, const char *data_dir, const rl_eval_opts *o, rl_eval_report *r);
/* `ropelab eval`: loads a checkpoint folder (a run folder follows its `checkpoint` link) with
 * rl_load_model, checks that its tokenizer is the dataset's (byte-identical tokenizer.bin when
 * the checkpoint has one, else the same vocabulary size), and runs rl_eval_model. */
int rl_eval_run(const char *checkpoint, const char *data_dir, const rl_eval_opts *o, rl_eval_report *r);
void rl_eval_report_free(rl_eval_report *r);
/* Malloc'ed JSON of the report (free it). */
char *rl_eval_report_json(const rl_eval_report *r);
/* Writes DIR/eval.json, DIR/eval.csv (one row per encoding and context) and DIR/buckets.csv (one
 * row per encoding, context and position bucket), each atomically; creates DIR. */
int rl_eval_report_write(const rl_eval_report *r, const char *dir);
/* Figures in DIR (rl_figure): eval_context.{png,svg} (loss against context, one line per encoding
 * and softmax) and eval_positions.{png,svg} (mean loss per position bucket at the longest context),
 * with their data eval_context.csv / eval_positions.csv (gnuplot blocks, one per variant). */
int rl_eval_report_figures(const rl_eval_report *r, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
