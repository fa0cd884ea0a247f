/* Internal interfaces of the trainer: the run log, checkpoint folders, the test kill hook. */
#ifndef ROPELAB_TRAIN_INTERNAL_H
#define ROPELAB_TRAIN_INTERNAL_H

#include "ropelab/train.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* ---- run log (runlog.c) ------------------------------------------------------------------- */

/* One row of log.csv. val_loss is NaN when validation did not run after that step. */
typedef struct {
    int64_t step;
    double loss, lr, grad_norm, tokens_per_s, val_loss;
} log_row;

typedef struct {
    int64_t n, cap;
    log_row *r;
    int fd; /* log.csv opened for appending, -1 when closed */
} run_log;

#define LOG_CSV "log.csv"
#define LOG_HEADER "step,loss,lr,grad_norm,tokens_per_s,val_loss\n"

int runlog_push(run_log *l, const log_row *row);
void runlog_free(run_log *l);
/* Rewrites OUT/log.csv atomically from the rows, then opens it for appending. */
int runlog_open(run_log *l, const char *out_dir);
/* Pushes a row and appends it to log.csv (one write() of a whole line). */
int runlog_add(run_log *l, const log_row *row, const char *out_dir);
/* JSON form of the rows (trainer_state.json "log") and back; from_json names `src` on errors. */
cJSON *runlog_to_json(const run_log *l);
int runlog_from_json(run_log *l, const cJSON *j, const char *src);
/* OUT/loss.{gp,png,svg} from log.csv (train and validation loss against step). */
int runlog_figure(const char *out_dir);

/* ---- checkpoints (ckpt.c) ----------------------------------------------------------------- */

#define RUN_CONFIG "train_config.json"
#define CKPT_LINK "checkpoint"
#define CKPT_STATE "trainer_state.json"
#define CKPT_OPTIM "optimizer.safetensors"
#define CKPT_TOKENIZER "tokenizer.bin"

/* What identifies the data a run trains on. */
typedef struct {
    int vocab_size;
    int64_t train_tokens;
    uint64_t train_hash, tokenizer_hash; /* rl_hash64 of the whole files */
} data_id;

/* The trainer state of one checkpoint (besides weights and moments). */
typedef struct {
    int64_t step;          /* optimizer steps done */
    int64_t micro_batches; /* sampler batches drawn: step * grad_accum */
    int64_t adam_t;
    int threads;
    data_id data;
    char *config_json;     /* the run's train config (malloc'ed; NULL when not loaded) */
} ckpt_state;

int data_id_compute(data_id *id, const rl_dataset *d, const char *data_dir);

/* Writes OUT/ckpt-NNNNNNN (built as OUT/ckpt-NNNNNNN.partial, every file fsynced, renamed, then
 * OUT/checkpoint switched to it atomically) and prunes complete checkpoints beyond the newest
 * `keep`. tokenizer_path is copied in. */
int ckpt_save(const char *out_dir, const rl_model *m, const rl_train_config *c, const ckpt_state *s,
              const run_log *log, const char *tokenizer_path, char *written, size_t written_n);
/* The folder OUT/checkpoint points at: 1 and its path in dir, or 0 when there is none yet. */
int ckpt_current(const char *out_dir, char *dir, size_t n, int64_t *step);
/* Removes partial checkpoint folders, a stale temporary link and complete checkpoints newer than
 * the linked one (left by a kill between the rename and the link switch). */
int ckpt_clean(const char *out_dir);
/* Loads a checkpoint folder into m (weights, moments, adam_t), its state and log. */
int ckpt_load(const char *dir, rl_model *m, ckpt_state *s, run_log *log);
void ckpt_state_free(ckpt_state *s);

/* ---- config comparison (config.c) --------------------------------------------------------- */

/* Fails naming the first key, other than the resumable ones, whose value differs between two
 * train configs (JSON texts): "key lr: the run was started with 0.001, now 0.002". */
int train_config_same_run(const char *run_json, const char *now_json, const char *src);

/* ---- test hook ------------------------------------------------------------------------------ */

/* ROPELAB_TEST_KILL_AT=POINT or POINT@STEP: raise SIGKILL when the trainer reaches POINT (at
 * checkpoint / step STEP when given). Points: "step" (after the optimizer step), "model",
 * "tokenizer", "optimizer", "state" (after each checkpoint file), "rename" (after the folder
 * rename, before the link switch), "link" (after the link switch, before pruning). */
void train_kill_point(const char *point, int64_t step);

#endif
