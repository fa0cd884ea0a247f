/* formats: llama2.c legacy checkpoints (7 int32 header + float32 tensors) as llama2c.* tensors. */
#include "internal.h"

#include <string.h>

#define LLAMA2C_MAGIC 0x616b3432u /* "ak42": llama2.c's versioned exports (export.py version >= 1) */

/* One tensor of the file, in file order: its name and dims (outermost first; 0 ends the list). */
typedef struct {
    const char *name;
    int64_t dims[3];
} l2c_tensor;

int rl_llama2c_parse(rl_tensors *ts, const uint8_t *buf, size_t len, const char *name) {
    if (fmt_tensors_init(ts, RL_FMT_LLAMA2C, name, NULL) != 0) return -1;
    int32_t h[7];
    static const char *fields[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    if (len < sizeof h) {
        rl_tensors_free(ts);
        return rl_fail("%s: file is %zu bytes, shorter than the 28-byte llama2.c header", name, len);
    }
    memcpy(h, buf, sizeof h);
    if ((uint32_t)h[0] == LLAMA2C_MAGIC) {
        rl_tensors_free(ts);
        return rl_fail("%s: llama2.c version-%d export (magic \"ak42\" at offset 0) is not supported; export the legacy "
                       "format (export.py --version 0)", name, h[1]);
    }
    for (int i = 0; i < 7; i++)
        if (i != 5 && h[i] <= 0) {
            rl_tensors_free(ts);
            return rl_fail("%s: header field %s = %d at offset %d must be positive", name, fields[i], h[i], 4 * i);
        }
    if (h[5] == 0 || h[5] == INT32_MIN) {
        rl_tensors_free(ts);
        return rl_fail("%s: header field vocab_size = %d at offset 20 is invalid", name, h[5]);
    }
    int64_t dim = h[0], hidden = h[1], L = h[2], nh = h[3], nkv = h[4], seq = h[6];
    int shared = h[5] > 0;
    int64_t vocab = shared ? h[5] : -(int64_t)h[5];
    const char *bad = NULL;
    if (dim % nh) bad = "dim is not a multiple of n_heads";
    else if (nkv > nh || nh % nkv) bad = "n_heads is not a multiple of n_kv_heads";
    else if ((dim / nh) % 2) bad = "head size dim/n_heads is odd";
    if (bad) {
        rl_tensors_free(ts);
        return rl_fail("%s: header (dim %lld, n_heads %lld, n_kv_heads %lld): %s", name, (long long)dim, (long long)nh,
                       (long long)nkv, bad);
    }
    int64_t hs = dim / nh, kv_dim = nkv * hs;
    l2c_tensor list[] = {
        {"llama2c.tok_embeddings", {vocab, dim, 0}}, {"llama2c.rms_att", {L, dim, 0}},
        {"llama2c.wq", {L, dim, dim}},               {"llama2c.wk", {L, kv_dim, dim}},
        {"llama2c.wv", {L, kv_dim, dim}},            {"llama2c.wo", {L, dim, dim}},
        {"llama2c.rms_ffn", {L, dim, 0}},            {"llama2c.w1", {L, hidden, dim}},
        {"llama2c.w2", {L, dim, hidden}},            {"llama2c.w3", {L, hidden, dim}},
        {"llama2c.rms_final", {dim, 0, 0}},          {"llama2c.freq_cis_real", {seq, hs / 2, 0}},
        {"llama2c.freq_cis_imag", {seq, hs / 2, 0}}, {"llama2c.wcls", {vocab, dim, 0}},
    };
    const int FREQ0 = 11, WCLS = 13, N = (int)RL_ARRAY_LEN(list);
    /* each count is a product of up to three int32 values, which can overflow 64 bits: bound the
     * total in double first (exact below 2^53), then compute exactly in integers */
    uint64_t bytes[14];
    double total_d = 28;
    for (int i = 0; i < N; i++) {
        double n = 4;
        for (int d = 0; d < 3 && list[i].dims[d]; d++) n *= (double)list[i].dims[d];
        total_d += n;
        bytes[i] = n <= 9007199254740992.0 ? (uint64_t)n : 0;
    }
    if (total_d > 9007199254740992.0) {
        rl_tensors_free(ts);
        return rl_fail("%s: header values (dim %lld, hidden_dim %lld, n_layers %lld, vocab %lld) imply an impossible size",
                       name, (long long)dim, (long long)hidden, (long long)L, (long long)vocab);
    }
    uint64_t base = 28, freq = bytes[FREQ0] + bytes[FREQ0 + 1], wcls = shared ? 0 : bytes[WCLS];
    for (int i = 0; i < FREQ0; i++) base += bytes[i];
    /* The legacy cos/sin table sits between rms_final and wcls. We accept files with it (what
     * export.py writes) or without it; the exact file size tells which. */
    int has_freq;
    if (len == base + freq + wcls) has_freq = 1;
    else if (len == base + wcls) has_freq = 0;
    else {
        rl_tensors_free(ts);
        return rl_fail("%s: file is %zu bytes, but the header (dim %lld, hidden_dim %lld, n_layers %lld, n_heads %lld, "
                       "n_kv_heads %lld, vocab_size %d, seq_len %lld) implies %llu bytes with the freq_cis table or "
                       "%llu without it", name, len, (long long)dim, (long long)hidden, (long long)L, (long long)nh,
                       (long long)nkv, h[5], (long long)seq, (unsigned long long)(base + freq + wcls),
                       (unsigned long long)(base + wcls));
    }
    uint64_t off = 28;
    for (int i = 0; i < N; i++) {
        int present = i < FREQ0 || (i < WCLS && has_freq) || (i == WCLS && !shared);
        if (!present) continue;
        rl_tensor *t = fmt_tensors_push(ts, list[i].name, strlen(list[i].name), 0);
        if (!t) {
            rl_tensors_free(ts);
            return -1;
        }
        t->dtype = RL_DT_F32;
        for (int d = 0; d < 3 && list[i].dims[d]; d++) t->shape[t->ndim++] = list[i].dims[d];
        fmt_numel(t->shape, t->ndim, &t->numel);
        t->nbytes = bytes[i];
        t->offset = off;
        t->data = buf + off;
        off += bytes[i];
    }
    int rc = fmt_tensors_index(ts);
    for (int i = 0; i < 7 && rc == 0; i++) {
        char key[64];
        snprintf(key, sizeof key, "llama2c.%s", fields[i]);
        rc = rl_meta_add_i32(&ts->meta, key, i == 5 ? (int32_t)vocab : h[i]);
    }
    if (rc == 0) rc = rl_meta_add_i32(&ts->meta, "llama2c.head_dim", (int32_t)hs);
    if (rc == 0) rc = rl_meta_add_bool(&ts->meta, "llama2c.shared_classifier", shared);
    if (rc == 0) rc = rl_meta_add_bool(&ts->meta, "llama2c.has_freq_cis", has_freq);
    if (rc != 0) rl_tensors_free(ts);
    return rc;
}
