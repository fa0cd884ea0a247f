/* libFuzzer target: a GGUF file's metadata as a model -- the config (llama.cpp keys, rope_freqs)
 * and the tokenizer.ggml.* vocabulary (the tokenizer part's GGUF parser), then encode/decode. */
#include "../src/formats/model_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_tensors ts;
    if (rl_gguf_parse(&ts, data, size, "fuzz.gguf") != 0) return 0;
    rl_model_config c;
    if (ml_gguf_config(&ts, "fuzz.gguf", &c) == 0 && rl_model_config_validate(&c) != 0) abort();
    rl_tokenizer *tok = NULL;
    if (ml_gguf_vocab(&ts, "fuzz.gguf", &tok) == 0 && tok) {
        const char *text = "Once upon a time, caf\xc3\xa9 \xe2\x96\x81 <s> 123\n";
        rl_ids ids = {0};
        if (rl_tok_encode(tok, text, strlen(text), RL_ENC_SPECIAL, &ids) == 0) {
            for (int64_t i = 0; i < ids.n; i++)
                if (ids.v[i] < 0 || ids.v[i] >= rl_tok_vocab_size(tok)) abort();
            char *out;
            size_t n;
            if (rl_tok_decode(tok, ids.v, ids.n, RL_DEC_SPECIAL, &out, &n) == 0) free(out);
        }
        free(ids.v);
        rl_tok_free(tok);
    }
    rl_tensors_free(&ts);
    return 0;
}
