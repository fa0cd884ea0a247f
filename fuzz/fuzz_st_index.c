/* libFuzzer target: rl_st_index_parse (model.safetensors.index.json) on arbitrary bytes (build: make fuzz). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_st_index ix;
    if (rl_st_index_parse(&ix, (const char *)data, size, "fuzz.index.json") == 0) {
        for (int i = 0; i < ix.n; i++) {
            if (ix.shard[i] < 0 || ix.shard[i] >= ix.n_shards) abort();
            if (strchr(ix.shards[ix.shard[i]], '/')) abort(); /* shard names never leave the folder */
        }
        rl_st_index_free(&ix);
    }
    return 0;
}
