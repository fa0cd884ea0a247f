/* formats: what the safetensors and GGUF writers share: checking a tensor to write, encoding its data. */
#include "internal.h"

#include <math.h>
#include <string.h>

int fmt_write_check(const rl_write_tensor *t, int64_t *numel, uint64_t *nbytes) {
    if (!t->name || !t->name[0]) return rl_fail("tensor to write has no name");
    if (t->ndim < 0 || t->ndim > RL_MAX_DIMS)
        return rl_fail("tensor '%s': %d dimensions (0 to %d supported)", t->name, t->ndim, RL_MAX_DIMS);
    if ((unsigned)t->dtype >= RL_DT_COUNT || t->dtype == RL_DT_GGML)
        return rl_fail("tensor '%s': dtype %d cannot be written", t->name, (int)t->dtype);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0) return rl_fail("tensor '%s': shape[%d] = %lld is negative", t->name, d, (long long)t->shape[d]);
    if (fmt_numel(t->shape, t->ndim, numel) != 0) return rl_fail("tensor '%s': element count overflows", t->name);
    if (fmt_nbytes(t->dtype, -1, *numel, nbytes) != 0)
        return rl_fail("tensor '%s': %lld elements cannot be stored as %s (Q8_0 needs whole blocks of 32)", t->name,
                       (long long)*numel, rl_dtype_name(t->dtype));
    if (*numel > 0 && !t->data && !t->raw) return rl_fail("tensor '%s': neither float data nor raw bytes given", t->name);
    if (t->data && t->raw) return rl_fail("tensor '%s': give float data or raw bytes, not both", t->name);
    if (t->data && t->dtype != RL_DT_F32 && t->dtype != RL_DT_F16 && t->dtype != RL_DT_BF16 && t->dtype != RL_DT_F64 &&
        t->dtype != RL_DT_Q8_0)
        return rl_fail("tensor '%s': float data cannot be converted to %s (pass raw bytes)", t->name,
                       rl_dtype_name(t->dtype));
    return 0;
}

#define CHUNK 8192 /* elements per conversion buffer; a multiple of the Q8_0 block */

int fmt_write_data(FILE *fp, const rl_write_tensor *t, int64_t numel, uint64_t nbytes, const char *path) {
    if (t->raw || t->dtype == RL_DT_F32) {
        const void *src = t->raw ? t->raw : (const void *)t->data;
        if (nbytes && fwrite(src, 1, (size_t)nbytes, fp) != nbytes)
            return rl_fail("%s: write failed (tensor '%s')", path, t->name);
        return 0;
    }
    static _Thread_local uint8_t buf[CHUNK * 8];
    for (int64_t i0 = 0; i0 < numel; i0 += CHUNK) {
        int64_t n = RL_MIN(CHUNK, numel - i0);
        const float *x = t->data + i0;
        size_t bytes = 0;
        switch (t->dtype) {
        case RL_DT_F16:
        case RL_DT_BF16:
            for (int64_t i = 0; i < n; i++) {
                uint16_t h = t->dtype == RL_DT_F16 ? rl_f32_to_f16(x[i]) : rl_f32_to_bf16(x[i]);
                if (isfinite(x[i]) && (h & 0x7fffu) == (t->dtype == RL_DT_F16 ? 0x7c00u : 0x7f80u))
                    return rl_fail("%s: tensor '%s' element %lld = %g overflows %s", path, t->name, (long long)(i0 + i),
                                   x[i], rl_dtype_name(t->dtype));
                memcpy(buf + 2 * i, &h, 2);
            }
            bytes = (size_t)n * 2;
            break;
        case RL_DT_F64:
            for (int64_t i = 0; i < n; i++) {
                double v = x[i];
                memcpy(buf + 8 * i, &v, 8);
            }
            bytes = (size_t)n * 8;
            break;
        case RL_DT_Q8_0:
            if (rl_q8_0_quantize(x, (size_t)n, buf) != 0)
                return rl_fail_prefix("%s: tensor '%s' (elements from %lld)", path, t->name, (long long)i0);
            bytes = (size_t)n / RL_Q8_0_BLOCK * RL_Q8_0_BYTES;
            break;
        default: return rl_fail("tensor '%s': cannot encode %s", t->name, rl_dtype_name(t->dtype));
        }
        if (fwrite(buf, 1, bytes, fp) != bytes) return rl_fail("%s: write failed (tensor '%s')", path, t->name);
    }
    return 0;
}
