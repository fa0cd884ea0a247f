/* libFuzzer target: safetensors parse -> write (to memory) -> parse gives the same metadata and tensors. */
#include "fuzz_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_tensors a;
    if (rl_safetensors_parse(&a, data, size, "in.safetensors") != 0) return 0;
    roundtrip(&a, 0, rl_safetensors_parse, fmt_safetensors_write_fp);
    rl_tensors_free(&a);
    return 0;
}
