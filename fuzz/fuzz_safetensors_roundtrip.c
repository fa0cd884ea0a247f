/* libFuzzer target: safetensors parse -> write (to memory) -> parse gives the same metadata and tensors. */
#include "fuzz_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_tensors a, b;
    if (rl_safetensors_parse(&a, data, size, "in.safetensors") != 0) return 0;
    rl_write_tensor *w = as_writes(&a, 0);
    if (w) {
        char *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);
        if (fmt_safetensors_write_fp(fp, "out.safetensors", w, a.n, &a.meta) != 0) abort();
        fclose(fp);
        if (rl_safetensors_parse(&b, (const uint8_t *)buf, len, "out.safetensors") != 0) abort();
        if (a.meta.n != b.meta.n) abort();
        for (int i = 0; i < a.meta.n; i++) {
            const rl_meta *m = rl_meta_find(&b.meta, a.meta.m[i].key);
            if (!m || !meta_equal(&a.meta.m[i], m)) abort();
        }
        check_same_tensors(&a, &b);
        rl_tensors_free(&b);
        free(buf);
    }
    free(w);
    rl_tensors_free(&a);
    return 0;
}
