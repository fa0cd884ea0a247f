/* libFuzzer target: a Hugging Face tokenizer.json (the tokenizer part's parser), then encode and
 * decode a fixed text and the input itself with the tokenizer it built. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a folder that does not exist, so no tokenizer_config.json is read beside it */
    rl_tokenizer *t = tk_hf_from_json((const char *)data, size, "/nonexistent-fuzz/tokenizer.json");
    if (!t) return 0;
    const char *texts[2] = {"Hello world, caf\xc3\xa9 12345 <s> \xe2\x96\x81x\n", (const char *)data};
    size_t lens[2] = {strlen(texts[0]), size < 512 ? size : 512};
    for (int k = 0; k < 2; k++) {
        rl_ids ids = {0};
        if (rl_tok_encode(t, texts[k], lens[k], RL_ENC_SPECIAL, &ids) == 0) {
            for (int64_t i = 0; i < ids.n; i++)
                if (ids.v[i] < 0 || ids.v[i] >= rl_tok_vocab_size(t)) abort();
            char *out;
            size_t n;
            if (rl_tok_decode(t, ids.v, ids.n, RL_DEC_SPECIAL, &out, &n) == 0) free(out);
            size_t pl;
            for (int64_t i = 0; i < ids.n; i++) rl_tok_piece(t, i ? ids.v[i - 1] : -1, ids.v[i], &pl);
        }
        free(ids.v);
    }
    rl_tok_free(t);
    return 0;
}
