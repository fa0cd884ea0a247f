/* Analyser test fixtures: constructed and random models, windows, CSV reading (see the header). */
#include "analysis_fixture.h"
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void base_config(rl_model_config *c, int V, int KV) {
    cr_assert_eq(rl_model_config_preset(c, "llama"), 0, "%s", rl_error());
    c->vocab_size = V;
    c->d_model = 16;
    c->n_layers = 2;
    c->n_heads = 4;
    c->n_kv_heads = KV;
    c->head_dim = 16;
    c->d_ff = 32;
    c->max_seq = 64;
    c->norm_eps = 1e-5;
    c->bos_id = 1;
    c->eos_id = 2;
}

rl_model *af_constructed(double a, double b, const char *layout, uint64_t seed) {
    rl_model_config c;
    base_config(&c, 16, 4);
    char pe[64];
    snprintf(pe, sizeof pe, "rope:theta=10000,layout=%s", layout);
    cr_assert_eq(rl_model_config_set_pe(&c, pe), 0, "%s", rl_error());
    rl_model *m = rl_model_new(&c, 1);
    cr_assert_not_null(m, "%s", rl_error());
    ref_randomize(m, seed, 0.05);
    const int D = 16, hd = 16, V = 16;
    rl_rng r;
    rl_rng_seed(&r, seed ^ 0x5eed);
    for (int t = 0; t < V; t++) {
        float *e = m->p.wte + (size_t)t * D;
        for (int i = 0; i < D; i++) e[i] = rl_rng_below(&r, 2) ? 1.0f : -1.0f;
        e[0] = 1.0f;
        e[1] = t == 1 ? 1.0f : -1.0f;
    }
    rl_layer_params *p = &m->p.layer[0];
    for (int i = 0; i < D; i++) p->attn_norm[i] = 1.0f;
    rl_rope_freqs f;
    cr_assert_eq(rl_rope_freqs_init(&f, &c.pe[0], hd, 0), 0);
    /* heads 0..2: clear their q and k rows, then place the construction in column 0 / 1 */
    memset(p->wq, 0, (size_t)3 * hd * D * sizeof(float));
    memset(p->wk, 0, (size_t)3 * hd * D * sizeof(float));
    for (int ch = 0; ch < 2; ch++) {
        int i0, i1;
        rl_rope_chunk_dims(&f, ch, &i0, &i1);
        p->wq[(size_t)(0 * hd + i0) * D] = (float)a;
        p->wk[(size_t)(0 * hd + i0) * D] = (float)a;
        p->wq[(size_t)(1 * hd + i0) * D] = (float)a;
        p->wk[(size_t)(1 * hd + i0) * D] = (float)(a * cos(f.freq[ch]));
        p->wk[(size_t)(1 * hd + i1) * D] = (float)(a * sin(f.freq[ch]));
    }
    int i0, i1;
    rl_rope_chunk_dims(&f, 7, &i0, &i1);
    p->wq[(size_t)(2 * hd + i0) * D + 0] = (float)b;
    p->wk[(size_t)(2 * hd + i0) * D + 1] = (float)b;
    rl_rope_freqs_free(&f);
    return m;
}

double af_constructed_logit(const rl_model *m, double a, double b, int h, int i, int j) {
    rl_rope_freqs f;
    rl_rope_freqs_init(&f, &m->cfg.pe[0], m->cfg.head_dim, 0);
    const double u2 = 1.0 / (1.0 + m->cfg.norm_eps), s = 0.25;
    double v = 0;
    if (h == 0) v = s * a * a * u2 * (cos((j - i) * f.freq[0]) + cos((j - i) * f.freq[1]));
    if (h == 1) v = s * a * a * u2 * (cos((j + 1 - i) * f.freq[0]) + cos((j + 1 - i) * f.freq[1]));
    if (h == 2) v = s * b * b * u2 * (j == 0 ? 1 : -1) * cos((j - i) * f.freq[7]);
    rl_rope_freqs_free(&f);
    return v;
}

rl_model *af_random(const char *pe, double sd, uint64_t seed) {
    rl_model_config c;
    base_config(&c, 24, 2);
    cr_assert_eq(rl_model_config_set_pe(&c, pe), 0, "%s", rl_error());
    rl_model *m = rl_model_new(&c, 1);
    cr_assert_not_null(m, "%s", rl_error());
    ref_randomize(m, seed, sd);
    return m;
}

rl_analysis_text *af_id_texts(int n_texts, const int *lens, int V, uint64_t seed) {
    rl_analysis_text *t = calloc((size_t)n_texts, sizeof *t);
    rl_rng r;
    rl_rng_seed(&r, seed);
    for (int i = 0; i < n_texts; i++) {
        int32_t *ids = malloc((size_t)lens[i] * sizeof *ids);
        for (int k = 0; k < lens[i]; k++) ids[k] = 2 + (int32_t)rl_rng_below(&r, (uint64_t)(V - 2));
        char *name = malloc(32);
        snprintf(name, 32, "ids%d", i);
        t[i].name = name;
        t[i].ids = ids;
        t[i].n_ids = lens[i];
    }
    return t;
}

void af_texts_free(rl_analysis_text *t, int n) {
    for (int i = 0; i < n; i++) {
        free((void *)t[i].ids);
        free((void *)t[i].name);
    }
    free(t);
}

int af_windows(const rl_analysis_text *t, int n_texts, int W, int bos, int32_t *tok, int32_t *tgt, int *lens, int cap) {
    int nw = 0;
    for (int i = 0; i < n_texts; i++)
        for (int64_t s = 0; s < t[i].n_ids; s += W - 1) {
            cr_assert(nw < cap);
            int32_t *row = tok + (size_t)nw * W, *trow = tgt + (size_t)nw * W;
            int n = 0;
            row[n++] = bos;
            for (int64_t k = s; k < t[i].n_ids && k < s + W - 1; k++) row[n++] = t[i].ids[k];
            for (int k = 0; k < n; k++) trow[k] = k + 1 < n ? row[k + 1] : -1;
            lens[nw++] = n;
        }
    return nw;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

static char **split(char *line, int *n) {
    int cap = 8, k = 0;
    char **f = malloc((size_t)cap * sizeof *f);
    char *p = line;
    for (;;) {
        if (k == cap) f = realloc(f, (size_t)(cap *= 2) * sizeof *f);
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') *out++ = '"', p += 2;
                else if (*p == '"') {
                    p++;
                    break;
                } else if (!*p) break;
                else *out++ = *p++;
            }
        } else {
            while (*p && *p != ',') *out++ = *p++;
        }
        char end = *p;
        *out = '\0';
        f[k++] = start;
        if (end != ',') break;
        p++;
    }
    *n = k;
    return f;
}

int af_csv_load(const char *path, af_csv *c) {
    memset(c, 0, sizeof *c);
    char *data;
    size_t len;
    if (rl_read_file(path, &data, &len) != 0) return -1;
    char *save, *line = strtok_r(data, "\n", &save);
    if (!line) return -1;
    c->header = strdup(line);
    char *hcopy = strdup(line);
    int nc;
    free(split(hcopy, &nc));
    free(hcopy);
    c->n_cols = nc;
    int cap = 64;
    c->rows = malloc((size_t)cap * sizeof *c->rows);
    while ((line = strtok_r(NULL, "\n", &save))) {
        if (c->n_rows == cap) c->rows = realloc(c->rows, (size_t)(cap *= 2) * sizeof *c->rows);
        char *own = strdup(line);
        int n;
        char **f = split(own, &n);
        cr_assert_eq(n, nc, "%s: row %d has %d fields, header %d: %s", path, c->n_rows + 1, n, nc, line);
        c->rows[c->n_rows++] = f; /* f[0] == own: freed through it */
    }
    free(data);
    return 0;
}

void af_csv_free(af_csv *c) {
    for (int i = 0; i < c->n_rows; i++) {
        free(c->rows[i][0]);
        free(c->rows[i]);
    }
    free(c->rows);
    free(c->header);
    memset(c, 0, sizeof *c);
}

int af_csv_col(const af_csv *c, const char *name) {
    char *h = strdup(c->header);
    int n, idx = -1;
    char **f = split(h, &n);
    for (int i = 0; i < n; i++)
        if (strcmp(f[i], name) == 0) idx = i;
    free(f);
    free(h);
    return idx;
}

double af_csv_num(const af_csv *c, int row, const char *name) {
    int k = af_csv_col(c, name);
    cr_assert(k >= 0, "no column %s in %s", name, c->header);
    const char *v = c->rows[row][k];
    return *v ? strtod(v, NULL) : NAN;
}

static void noop_probs(void *ctx, int layer, int head, int row, const float *p, int n) {
    (void)ctx, (void)layer, (void)head, (void)row, (void)p, (void)n;
}

void af_probs_all(rl_infer_hooks *hk, int n_layers) {
    static uint8_t all[RL_MAX_LAYERS];
    cr_assert(n_layers <= RL_MAX_LAYERS);
    memset(all, 1, sizeof all);
    hk->probs_layers = all;
    hk->probs_fn = noop_probs;
}

double af_mean_loss(rl_model *m, const int32_t *tok, const int32_t *tgt, const int *lens, int n_win, int W,
                    const rl_infer_hooks *hk) {
    float loss[4096];
    double sum = 0;
    int64_t cnt = 0;
    for (int w = 0; w < n_win; w++) {
        cr_assert_eq(rl_model_infer(m, tok + (size_t)w * W, tgt + (size_t)w * W, lens[w], loss, NULL, hk), 0, "%s",
                     rl_error());
        for (int i = 0; i < lens[w]; i++)
            if (tgt[(size_t)w * W + i] >= 0) sum += loss[i], cnt++;
    }
    return sum / (double)cnt;
}
