/* The batch sampler: seeded random windows (state = step counter) or consecutive evaluation windows. */
#include "ropelab/data.h"

int rl_sampler_init(rl_sampler *sm, const rl_shard *s, int batch, int ctx, uint64_t seed, rl_sample_mode mode) {
    if (batch <= 0) return rl_fail("batch size %d must be positive", batch);
    if (ctx <= 0) return rl_fail("context length %d must be positive", ctx);
    if (s->n_tokens < (int64_t)ctx + 1)
        return rl_fail("%s: %lld tokens are too few for one window of context %d (needs %d + 1)", s->path, (long long)s->n_tokens,
                       ctx, ctx);
    if (mode != RL_SAMPLE_RANDOM && mode != RL_SAMPLE_SEQUENTIAL) return rl_fail("unknown sample mode %d", (int)mode);
    sm->shard = s;
    sm->batch = batch;
    sm->ctx = ctx;
    sm->seed = seed;
    sm->mode = mode;
    sm->step = 0;
    return 0;
}

int64_t rl_sampler_windows(const rl_sampler *sm) { return (sm->shard->n_tokens - 1) / sm->ctx; }

void rl_sampler_seek(rl_sampler *sm, int64_t step) { sm->step = step; }

void rl_sampler_next(rl_sampler *sm, int32_t *out) {
    const rl_shard *s = sm->shard;
    int64_t T = sm->ctx;
    if (sm->mode == RL_SAMPLE_RANDOM) {
        /* batch `step` draws from its own generator, seeded by a hash of (seed, step) */
        uint64_t key[2] = {sm->seed, (uint64_t)sm->step};
        rl_rng r;
        rl_rng_seed(&r, rl_hash64(key, sizeof key, 0x726f70656c6162ULL));
        uint64_t n_off = (uint64_t)(s->n_tokens - T); /* offsets 0 .. N-T-1 */
        for (int b = 0; b < sm->batch; b++) {
            int64_t off = (int64_t)rl_rng_below(&r, n_off);
            rl_shard_read(s, off, T + 1, out + (int64_t)b * (T + 1));
        }
    } else {
        int64_t W = rl_sampler_windows(sm);
        for (int b = 0; b < sm->batch; b++) {
            int64_t w = (sm->step * sm->batch + b) % W;
            rl_shard_read(s, w * T, T + 1, out + (int64_t)b * (T + 1));
        }
    }
    sm->step++;
}
