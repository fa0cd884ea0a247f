/* libFuzzer target: GGUF parse -> write (to memory) -> parse gives the same metadata and tensors. */
#include "fuzz_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_tensors a, b;
    if (rl_gguf_parse(&a, data, size, "in.gguf") != 0) return 0;
    rl_write_tensor *w = as_writes(&a, 1);
    if (w && (a.gguf_alignment <= 65536)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);
        if (fmt_gguf_write_fp(fp, "out.gguf", w, a.n, &a.meta) != 0) abort(); /* a valid file must re-export */
        fclose(fp);
        if (rl_gguf_parse(&b, (const uint8_t *)buf, len, "out.gguf") != 0) abort();
        if (a.meta.n != b.meta.n) abort();
        for (int i = 0; i < a.meta.n; i++)
            if (!meta_equal(&a.meta.m[i], &b.meta.m[i])) abort();
        check_same_tensors(&a, &b);
        rl_tensors_free(&b);
        free(buf);
    }
    free(w);
    rl_tensors_free(&a);
    return 0;
}
