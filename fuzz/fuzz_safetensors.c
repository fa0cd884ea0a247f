/* libFuzzer target: rl_safetensors_parse on arbitrary bytes (build: make fuzz). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_tensors ts;
    if (rl_safetensors_parse(&ts, data, size, "fuzz.safetensors") == 0) {
        fuzz_use(&ts);
        rl_tensors_free(&ts);
    }
    return 0;
}
