/* libFuzzer target: GGUF parse -> write (to memory) -> parse gives the same metadata and tensors. */
#include "fuzz_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_tensors a;
    if (rl_gguf_parse(&a, data, size, "in.gguf") != 0) return 0;
    if (a.gguf_alignment <= 65536) roundtrip(&a, 1, rl_gguf_parse, fmt_gguf_write_fp); /* the writer's limit */
    rl_tensors_free(&a);
    return 0;
}
