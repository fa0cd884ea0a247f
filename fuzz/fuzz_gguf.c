/* libFuzzer target: rl_gguf_parse on arbitrary bytes (build: make fuzz). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_tensors ts;
    if (rl_gguf_parse(&ts, data, size, "fuzz.gguf") == 0) {
        fuzz_use(&ts);
        rl_tensors_free(&ts);
    }
    return 0;
}
