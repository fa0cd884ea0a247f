/* Encoding: special-token segments, normalisation, pre-tokenisation and the BPE merge engine.
 *
 * The engine serves every kind: a word is a doubly linked list of symbols; every adjacent pair
 * that has a merge goes into a min-heap keyed by (priority, position of its left symbol); the
 * smallest valid entry is merged, its neighbours' pairs are pushed, stale entries are skipped when
 * popped. Priority is the merge rank (ranked BPE, ropelab) or minus the score of the concatenated
 * token (sentencepiece scores), so the result equals the naive "merge the best pair, leftmost
 * first, until none is left" loop of llama2.c run.c and Hugging Face's BPE, in O(n log n). */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    double prio;
    int32_t pos, a, b, out;
} hent;

typedef struct {
    int64_t woff, ioff;
    int32_t wlen, ilen;
} centry;

typedef struct {
    const rl_tokenizer *t;
    rl_ids *out;
    /* symbols of the current word */
    int32_t *id, *prev, *next;
    size_t cap;
    hent *heap;
    size_t hn, hcap;
    char *buf; /* normalised text / concatenation scratch */
    size_t buf_cap;
} ws;

/* Word cache of the byte-level kinds (word bytes -> ids), one per thread, kept across calls for
 * the tokenizer it was filled by (identified by its uid), dropped when another tokenizer encodes
 * on that thread or when the tokenizer is freed on it. */
typedef struct {
    uint64_t uid;
    tk_u64map map; /* hash -> entry */
    centry *ent;
    size_t en, ecap;
    char *cw;
    size_t cwn, cwcap;
} wcache;
static _Thread_local wcache tls_cache;

#define CACHE_MAX_ENTRIES (1 << 18)
#define CACHE_MAX_WORD 256

static void cache_reset(wcache *c, uint64_t uid) {
    tk_u64map_free(&c->map);
    free(c->ent);
    free(c->cw);
    memset(c, 0, sizeof *c);
    c->uid = uid;
}

void tk_cache_forget(const rl_tokenizer *t) {
    if (tls_cache.uid == t->uid) cache_reset(&tls_cache, 0);
}

static void ws_free(ws *w) {
    free(w->id);
    free(w->prev);
    free(w->next);
    free(w->heap);
    free(w->buf);
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return rl_fail("out of memory while encoding (%zu bytes)", c * elem);
    *p = q;
    *cap = c;
    return 0;
}

static int ws_syms(ws *w, size_t n) {
    if (n <= w->cap) return 0;
    size_t c = w->cap;
    if (reserve((void **)&w->id, &c, n, sizeof *w->id)) return -1;
    c = w->cap;
    if (reserve((void **)&w->prev, &c, n, sizeof *w->prev)) return -1;
    c = w->cap;
    if (reserve((void **)&w->next, &c, n, sizeof *w->next)) return -1;
    w->cap = c;
    return 0;
}

/* ---- the heap ---------------------------------------------------------------------------------- */

static inline int before(const hent *x, const hent *y) { return x->prio < y->prio || (x->prio == y->prio && x->pos < y->pos); }

static int heap_push(ws *w, hent e) {
    if (reserve((void **)&w->heap, &w->hcap, w->hn + 1, sizeof *w->heap)) return -1;
    size_t i = w->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = e;
    return 0;
}

static hent heap_pop(ws *w) {
    hent top = w->heap[0], last = w->heap[--w->hn];
    size_t i = 0, n = w->hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Merge of (a, b): 1 and its priority / result, or 0 when the pair does not merge. */
static int pair_lookup(ws *w, int32_t a, int32_t b, double *prio, int32_t *out) {
    const rl_tokenizer *t = w->t;
    if (t->spm_scores) {
        size_t la, lb;
        const char *sa = tk_text(t, a, &la), *sb = tk_text(t, b, &lb);
        if (la + lb > t->max_text_len) return 0;
        memcpy(w->buf, sa, la);
        memcpy(w->buf + la, sb, lb);
        int id = tk_find_text(t, w->buf, la + lb);
        if (id < 0 || t->type[id] != RL_TOKT_NORMAL) return 0;
        *prio = -(double)t->score[id];
        *out = id;
        return 1;
    }
    const int64_t *v = tk_u64map_get(&t->pairs, tk_pair_key(a, b));
    if (!v) return 0;
    *prio = (double)(*v >> 32);
    *out = (int32_t)(uint32_t)(*v & 0xffffffff);
    return 1;
}

static int push_pair(ws *w, int32_t pos) {
    if (pos < 0) return 0;
    int32_t nx = w->next[pos];
    if (nx < 0) return 0;
    hent e = {0, pos, w->id[pos], w->id[nx], 0};
    if (!pair_lookup(w, e.a, e.b, &e.prio, &e.out)) return 0;
    return heap_push(w, e);
}

/* Merges the n symbols in w->id and appends the result to w->out. */
static int bpe(ws *w, size_t n) {
    if (n == 0) return 0;
    if (w->t->spm_scores && reserve((void **)&w->buf, &w->buf_cap, w->t->max_text_len + 1, 1)) return -1;
    for (size_t i = 0; i < n; i++) {
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    w->hn = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (push_pair(w, (int32_t)i)) return -1;
    while (w->hn) {
        hent e = heap_pop(w);
        int32_t nx = w->next[e.pos];
        if (w->id[e.pos] != e.a || nx < 0 || w->id[nx] != e.b) continue; /* stale */
        w->id[e.pos] = e.out;
        w->id[nx] = -1;
        w->next[e.pos] = w->next[nx];
        if (w->next[nx] >= 0) w->prev[w->next[nx]] = e.pos;
        if (push_pair(w, w->prev[e.pos]) || push_pair(w, e.pos)) return -1;
    }
    for (int32_t i = 0; i >= 0; i = w->next[i])
        if (rl_ids_push(w->out, w->id[i])) return -1;
    return 0;
}

/* ---- byte-level words ---------------------------------------------------------------------------- */

static int cache_get(ws *w, const uint8_t *s, size_t n, uint64_t h) {
    wcache *c = &tls_cache;
    if (!c->map.cap) return 0;
    const int64_t *v = tk_u64map_get(&c->map, h);
    if (!v) return 0;
    const centry *e = &c->ent[*v];
    if ((size_t)e->wlen != n || memcmp(c->cw + e->woff, s, n) != 0) return 0;
    const int32_t *ids = (const int32_t *)(const void *)(c->cw + e->ioff);
    for (int32_t i = 0; i < e->ilen; i++)
        if (rl_ids_push(w->out, ids[i])) return -1;
    return 1;
}

static void cache_put(const uint8_t *s, size_t n, uint64_t h, const int32_t *ids, size_t k) {
    wcache *c = &tls_cache;
    if (n > CACHE_MAX_WORD || c->en >= CACHE_MAX_ENTRIES) return;
    if (!c->map.cap && tk_u64map_init(&c->map, 4096)) {
        rl_clear_error();
        return;
    }
    size_t need = c->cwn + n + 4 + k * 4;
    if (reserve((void **)&c->cw, &c->cwcap, need, 1) || reserve((void **)&c->ent, &c->ecap, c->en + 1, sizeof *c->ent)) {
        rl_clear_error(); /* a cache that cannot grow just stops caching */
        return;
    }
    int64_t *v = tk_u64map_put(&c->map, h, -1);
    if (!v) {
        rl_clear_error();
        return;
    }
    if (*v != -1) return; /* a different word with the same hash: keep the first */
    centry *e = &c->ent[c->en];
    e->woff = (int64_t)c->cwn;
    e->wlen = (int32_t)n;
    memcpy(c->cw + c->cwn, s, n);
    c->cwn += n;
    c->cwn = (c->cwn + 3) & ~(size_t)3; /* align the ids */
    e->ioff = (int64_t)c->cwn;
    e->ilen = (int32_t)k;
    memcpy(c->cw + c->cwn, ids, k * 4);
    c->cwn += k * 4;
    *v = (int64_t)c->en++;
}

static int byte_word(const uint8_t *s, size_t n, void *ctx) {
    ws *w = ctx;
    const rl_tokenizer *t = w->t;
    uint64_t h = tk_hash(s, n);
    int hit = cache_get(w, s, n, h);
    if (hit) return hit < 0 ? -1 : 0;
    int64_t start = w->out->n;
    int done = 0;
    if (t->ignore_merges) { /* the word spelled in the byte alphabet may be a vocabulary entry */
        if (reserve((void **)&w->buf, &w->buf_cap, n * 2 + 1, 1)) return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += (size_t)tk_utf8_encode(tk_byte_to_cp(s[i]), w->buf + k);
        int id = tk_find_text(t, w->buf, k);
        if (id >= 0) {
            if (rl_ids_push(w->out, id)) return -1;
            done = 1;
        }
    }
    if (!done) {
        if (ws_syms(w, n)) return -1;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t id = t->byte_tok[s[i]];
            if (id < 0) id = t->unk;
            if (id < 0) return rl_fail("%s: byte 0x%02X has no token and the vocabulary has no unknown token", t->source, s[i]);
            w->id[m++] = id;
        }
        if (bpe(w, m)) return -1;
    }
    cache_put(s, n, h, w->out->v + start, (size_t)(w->out->n - start));
    return 0;
}

/* ---- sentencepiece words ------------------------------------------------------------------------- */

/* lead: length of a dummy-prefix symbol at the start, which stays one symbol on its own (run.c
 * looks the prefix " " up by itself, never grouped with continuation bytes that follow). */
static int spm_word(ws *w, const char *s, size_t n, size_t lead) {
    const rl_tokenizer *t = w->t;
    if (ws_syms(w, n)) return -1;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        /* one character: a byte and the continuation bytes after it (at most 4, as run.c) */
        size_t len = 1;
        if (i == 0 && lead) len = lead;
        else
            while (i + len < n && len < 4 && ((uint8_t)s[i + len] & 0xC0) == 0x80) len++;
        int id = tk_find_text(t, s + i, len);
        if (id >= 0 && (t->type[id] == RL_TOKT_NORMAL || t->type[id] == RL_TOKT_USER_DEFINED)) {
            w->id[m++] = id;
        } else if (t->byte_fallback) {
            for (size_t j = 0; j < len; j++) {
                int b = t->byte_tok[(uint8_t)s[i + j]];
                if (b < 0) b = t->unk;
                if (b < 0) return rl_fail("%s: byte 0x%02X has no <0x%02X> token and there is no unknown token", t->source,
                                          (uint8_t)s[i + j], (uint8_t)s[i + j]);
                w->id[m++] = b;
            }
        } else {
            if (t->unk < 0) return rl_fail("%s: character at byte %zu is not in the vocabulary and there is no unknown token", t->source, i);
            if (!(t->fuse_unk && m > 0 && w->id[m - 1] == t->unk)) w->id[m++] = t->unk;
        }
        i += len;
    }
    return bpe(w, m);
}

static int spm_segment(ws *w, const uint8_t *s, size_t n, int prefix) {
    const rl_tokenizer *t = w->t;
    size_t sl = (size_t)t->space_sym_len;
    size_t need = (n + 1) * sl + 1;
    if (reserve((void **)&w->buf, &w->buf_cap, need, 1)) return -1;
    /* pair_lookup reuses w->buf as scratch: normalise into a separate buffer */
    char *norm = malloc(need);
    if (!norm) return rl_fail("out of memory (%zu bytes of text)", need);
    size_t k = 0;
    if (prefix) memcpy(norm, t->space_sym, sl), k = sl;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') memcpy(norm + k, t->space_sym, sl), k += sl;
        else norm[k++] = (char)s[i];
    }
    int rc = 0;
    if (!t->metaspace_split) {
        rc = spm_word(w, norm, k, prefix ? sl : 0);
    } else { /* a new word starts at every space symbol */
        size_t a = 0;
        for (size_t i = 1; i <= k && rc == 0; i++)
            if (i == k || (i + sl <= k && memcmp(norm + i, t->space_sym, sl) == 0)) {
                rc = spm_word(w, norm + a, i - a, a == 0 && prefix ? sl : 0);
                a = i;
            }
    }
    free(norm);
    return rc;
}

/* ---- one segment of plain text ------------------------------------------------------------------- */

static int segment(ws *w, const uint8_t *s, size_t n, size_t offset, unsigned flags) {
    const rl_tokenizer *t = w->t;
    if (n == 0) return 0;
    if (t->byte_level) {
        if (t->add_prefix_space && s[0] != ' ') {
            uint8_t *p = malloc(n + 1);
            if (!p) return rl_fail("out of memory (%zu bytes of text)", n + 1);
            p[0] = ' ';
            memcpy(p + 1, s, n);
            int rc = tk_pretok_split(t->pre, p, n + 1, byte_word, w);
            free(p);
            return rc;
        }
        return tk_pretok_split(t->pre, s, n, byte_word, w);
    }
    int prefix = !(flags & RL_ENC_NO_PREFIX) &&
                 (t->prefix == TK_PREFIX_EVERY || (t->prefix == TK_PREFIX_FIRST && offset == 0)) &&
                 !(t->prefix_unless_space && s[0] == ' ');
    return spm_segment(w, s, n, prefix);
}

int rl_tok_encode(const rl_tokenizer *t, const void *text, size_t len, unsigned flags, rl_ids *out) {
    const uint8_t *s = text;
    if ((flags & RL_ENC_BOS) && t->bos < 0) return rl_fail("%s: cannot add BOS: the vocabulary has no BOS token", t->source);
    if ((flags & RL_ENC_EOS) && t->eos < 0) return rl_fail("%s: cannot add EOS: the vocabulary has no EOS token", t->source);
    int64_t n0 = out->n;
    ws w = {0};
    w.t = t;
    if (t->byte_level && tls_cache.uid != t->uid) cache_reset(&tls_cache, t->uid);
    w.out = out;
    int rc = 0;
    if (flags & RL_ENC_BOS) rc = rl_ids_push(out, t->bos);
    size_t seg = 0;
    if (rc == 0 && (flags & RL_ENC_SPECIAL) && t->n_specials) {
        for (size_t i = 0; i < len && rc == 0;) {
            int found = -1;
            size_t flen = 0;
            if (t->special_first[s[i] >> 3] & (1u << (s[i] & 7))) {
                for (int k = 0; k < t->n_specials; k++) {
                    size_t m;
                    const char *sp = tk_text(t, t->specials[k], &m);
                    if (m <= len - i && memcmp(sp, s + i, m) == 0) {
                        found = t->specials[k];
                        flen = m;
                        break; /* longest first */
                    }
                }
            }
            if (found < 0) {
                i++;
                continue;
            }
            rc = segment(&w, s + seg, i - seg, seg, flags);
            if (rc == 0) rc = rl_ids_push(out, found);
            i += flen;
            seg = i;
        }
    }
    if (rc == 0) rc = segment(&w, s + seg, len - seg, seg, flags);
    if (rc == 0 && (flags & RL_ENC_EOS)) rc = rl_ids_push(out, t->eos);
    ws_free(&w);
    if (rc) out->n = n0;
    return rc ? -1 : 0;
}
