/* The analyser's inputs: text files read, tokenised with BOS first and cut into windows. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int rl_analysis_read_texts(const char *const *paths, int n, rl_analysis_text **texts) {
    *texts = NULL;
    if (n < 1) return rl_fail("analyze: no text given (--text FILE...)");
    rl_analysis_text *t = rl_calloc((size_t)n, sizeof *t, "texts");
    if (!t) return -1;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            rl_analysis_texts_free(t, i);
            return rl_fail("%s: is a folder, not a text file", paths[i]);
        }
        char *data;
        size_t len;
        if (rl_read_file(paths[i], &data, &len) != 0) {
            rl_analysis_texts_free(t, i);
            return -1;
        }
        t[i].name = paths[i];
        t[i].text = data;
        t[i].len = len;
        if (len == 0) {
            rl_analysis_texts_free(t, i + 1);
            return rl_fail("%s: empty text (0 bytes): every --text file must hold some text", paths[i]);
        }
    }
    *texts = t;
    return 0;
}

void rl_analysis_texts_free(rl_analysis_text *texts, int n) {
    if (!texts) return;
    for (int i = 0; i < n; i++) free((char *)texts[i].text);
    free(texts);
}

/* The ids of text i (without BOS): tokenised, or copied. */
static int text_ids(const an_ctx *x, int i, rl_ids *ids) {
    const rl_analysis_text *t = &x->texts[i];
    const char *name = t->name ? t->name : "text";
    if (t->text) {
        if (!x->tok)
            return rl_fail("%s: the model has no tokenizer to encode this text (give one with --tokenizer)", name);
        if (t->len == 0) return rl_fail("%s: empty text (0 bytes)", name);
        if (rl_tok_encode(x->tok, t->text, t->len, 0, ids) != 0) return rl_fail_prefix("%s", name);
    } else {
        if (!t->ids || t->n_ids < 1) return rl_fail("%s: neither text nor token ids", name);
        for (int64_t j = 0; j < t->n_ids; j++)
            if (rl_ids_push(ids, t->ids[j]) != 0) return -1;
    }
    if (ids->n == 0) return rl_fail("%s: the text encodes to no tokens", name);
    const int V = x->m->cfg.vocab_size;
    for (int64_t j = 0; j < ids->n; j++)
        if (ids->v[j] < 0 || ids->v[j] >= V)
            return rl_fail("%s: token %d (index %lld) is outside the model's vocabulary [0, %d): wrong tokenizer?", name,
                           ids->v[j], (long long)j, V);
    return 0;
}

int an_make_windows(an_ctx *x) {
    const int W = x->window_len, bos = x->bos;
    const int body = bos >= 0 ? W - 1 : W; /* text tokens per window */
    x->text_tokens = rl_calloc((size_t)x->n_texts, sizeof *x->text_tokens, "text sizes");
    x->text_windows = rl_calloc((size_t)x->n_texts, sizeof *x->text_windows, "text windows");
    if (!x->text_tokens || !x->text_windows) return -1;
    int cap = 0;
    for (int i = 0; i < x->n_texts; i++) {
        rl_ids ids = {0};
        if (text_ids(x, i, &ids) != 0) {
            free(ids.v);
            return -1;
        }
        x->text_tokens[i] = ids.n;
        for (int64_t s = 0; s < ids.n; s += body) {
            int nb = (int)RL_MIN((int64_t)body, ids.n - s), n = nb + (bos >= 0);
            if (x->n_win == cap) {
                cap = cap ? 2 * cap : 16;
                an_window *nw = realloc(x->win, (size_t)cap * sizeof *nw);
                if (!nw) {
                    free(ids.v);
                    return rl_fail("out of memory (windows)");
                }
                x->win = nw;
            }
            an_window *w = &x->win[x->n_win];
            w->text = i;
            w->n = n;
            w->tok = malloc((size_t)n * sizeof *w->tok);
            w->tgt = malloc((size_t)n * sizeof *w->tgt);
            if (!w->tok || !w->tgt) {
                free(w->tok);
                free(w->tgt);
                free(ids.v);
                return rl_fail("out of memory (window of %d tokens)", n);
            }
            x->n_win++;
            int k = 0;
            if (bos >= 0) w->tok[k++] = bos;
            memcpy(w->tok + k, ids.v + s, (size_t)nb * sizeof(int32_t));
            for (int p = 0; p < n; p++) w->tgt[p] = p + 1 < n ? w->tok[p + 1] : -1;
            x->maxn = RL_MAX(x->maxn, n);
            x->n_tokens += n;
            x->n_targets += n - 1;
            x->text_windows[i]++;
        }
        free(ids.v);
    }
    return 0;
}

void an_free_windows(an_ctx *x) {
    for (int i = 0; i < x->n_win; i++) {
        free(x->win[i].tok);
        free(x->win[i].tgt);
    }
    free(x->win);
    free(x->text_tokens);
    free(x->text_windows);
    x->win = NULL;
    x->n_win = 0;
}
