/* A prepared dataset folder: its tokenizer and both shards, checked to belong together. */
#include "ropelab/data.h"

#include <string.h>

int rl_dataset_open(rl_dataset *d, const char *dir) {
    memset(d, 0, sizeof *d);
    char p[4200];
    if (rl_path(p, sizeof p, "%s/%s", dir, RL_DATA_TOKENIZER)) return -1;
    d->tok = rl_tok_load_ropelab(p);
    if (!d->tok) return -1;
    int V = rl_tok_vocab_size(d->tok);
    if (rl_path(p, sizeof p, "%s/%s", dir, RL_DATA_TRAIN) || rl_shard_open(&d->train, p, V)) goto fail;
    if (rl_path(p, sizeof p, "%s/%s", dir, RL_DATA_VAL) || rl_shard_open(&d->val, p, V)) {
        rl_shard_close(&d->train);
        goto fail;
    }
    return 0;
fail:
    rl_tok_free(d->tok);
    d->tok = NULL;
    return -1;
}

void rl_dataset_close(rl_dataset *d) {
    rl_shard_close(&d->train);
    rl_shard_close(&d->val);
    rl_tok_free(d->tok);
    d->tok = NULL;
}
