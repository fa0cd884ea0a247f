/* Helpers for the trainer tests: a small prepared dataset, running `ropelab train`, comparing files. */
#ifndef ROPELAB_TEST_TRAIN_HELPERS_H
#define ROPELAB_TEST_TRAIN_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "ropelab/model.h"

/* A tiny trainable model and schedule as flags (2 layers, d_model 32, 2 heads of 16, MQA, MLP 64,
 * context 16, batch 4, warm-up 2, 1 thread). */
#define TT_TINY                                                                                          \
    "--layers 2 --d-model 32 --heads 2 --kv-heads 1 --head-dim 16 --mlp 64 --context 16 --batch 4 "       \
    "--warmup 2 --threads 1 --figures false"

/* A tiny model (vocab V, d_model 16, 2 layers, 2 heads of 8, 1 kv head, MLP 32, context T, BOS/EOS
 * 1) with weights from ref_randomize(seed, sd). */
rl_model *tt_tiny_model(int V, int T, uint64_t seed, double sd);

/* Prepares DIR/NAME from seeded synthetic text (40 documents of 400 words from a 24-word
 * vocabulary, so that a tiny model learns something) with a BPE of `vocab` tokens. Returns the
 * folder's path (malloc'ed). */
char *tt_make_data(const char *dir, const char *name, int vocab, uint64_t seed);

/* Runs `[ENV] $ROPELAB_BIN ARGS` (env may be NULL, e.g. "ROPELAB_TEST_KILL_AT=state@6"), output
 * captured into *out (may be NULL; free it). Returns the exit status (137 after SIGKILL). */
int tt_tool(const char *env, const char *args, char **out);

/* Whole file as a heap buffer (NULL when unreadable). */
char *tt_slurp(const char *path, size_t *n);
/* 1 when both files exist and have the same bytes. */
int tt_same_file(const char *a, const char *b);
/* The loss, lr, grad_norm and val_loss columns of a log.csv (everything but tokens/s), malloc'ed. */
char *tt_log_without_speed(const char *path);

#endif
