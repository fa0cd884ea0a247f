/* Training ropelab's byte-level BPE: word-type counts, incremental pair counts, a lazy max-heap.
 *
 * 1. Every document is split with the gpt2 pattern; identical pieces ("words") are counted once
 *    with their frequency, so the work depends on the number of distinct words, not the corpus size.
 * 2. Pair counts (over adjacent symbols of every word, weighted by its frequency) live in a hash
 *    map, each pair with the list of words it occurs in.
 * 3. Each step pops the best pair from a max-heap ordered by (count desc, left id asc, right id
 *    asc). Entries are lazy: an entry whose count no longer matches is re-pushed with the current
 *    count. Only counts of pairs that contain the new token can grow, and those are pushed after
 *    the step, so the first entry that matches its pair's count is the true maximum.
 * 4. The merge rewrites only the words on the pair's list (left to right, non-overlapping),
 *    subtracting their old pairs and adding their new ones.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t off;   /* symbols at syms[off .. off + len) */
    int32_t len;
    int64_t count; /* frequency in the corpus */
    int32_t stamp; /* last merge step that visited it */
} word;

typedef struct {
    int32_t a, b;
    int64_t count;
    int32_t *words; /* words that contain (or once contained) the pair */
    int32_t nw, cw;
    int32_t stamp;  /* last step it was touched */
} pair;

typedef struct {
    int64_t count;
    int32_t a, b, p;
} hentry;

typedef struct {
    /* word types */
    tk_u64map word_index; /* hash of the bytes -> word id */
    word *w;
    int64_t nw, cw;
    char *wbytes; /* the bytes of each word, for collision checks: at wb_off[id] */
    int64_t *wb_off, cwo;
    int64_t nwb, cwb;
    int32_t *syms;
    int64_t nsym, csym;
    /* pairs */
    tk_u64map pair_index; /* pair key -> pair id */
    pair *p;
    int32_t np, cp;
    hentry *heap;
    int64_t nh, ch;
    int32_t *touched;
    int32_t ntouched, ctouched;
} trainer;

static int grow(void **ptr, int64_t *cap, int64_t need, size_t elem, const char *what) {
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*ptr, (size_t)c * elem);
    if (!q) return rl_fail("out of memory (%lld %s)", (long long)c, what);
    *ptr = q;
    *cap = c;
    return 0;
}

static int grow32(void **ptr, int32_t *cap, int64_t need, size_t elem, const char *what) {
    int64_t c = *cap;
    if (need > INT32_MAX) return rl_fail("too many %s (more than 2^31)", what);
    if (grow(ptr, &c, need, elem, what)) return -1;
    *cap = (int32_t)(c > INT32_MAX ? INT32_MAX : c);
    return 0;
}

/* ---- step 1: word types ------------------------------------------------------------------------ */

static int count_word(const uint8_t *s, size_t n, void *ctx) {
    trainer *T = ctx;
    uint64_t h = tk_hash(s, n);
    /* probe the hash; on the (astronomically rare) collision of two different words, rehash */
    for (uint64_t salt = 0;; salt++) {
        uint64_t key = h + salt * 0x9E3779B97F4A7C15ULL;
        if (key == UINT64_MAX) continue;
        int64_t *v = tk_u64map_put(&T->word_index, key, -1);
        if (!v) return rl_fail("out of memory (word index)");
        if (*v >= 0) {
            word *w = &T->w[*v];
            int64_t len = T->wb_off[*v + 1] - T->wb_off[*v];
            if ((size_t)len == n && memcmp(T->wbytes + T->wb_off[*v], s, n) == 0) {
                w->count++;
                return 0;
            }
            continue;
        }
        if (n > INT32_MAX) return rl_fail("a single word of %zu bytes is too long", n);
        if (grow((void **)&T->w, &T->cw, T->nw + 1, sizeof *T->w, "word types") ||
            grow((void **)&T->wb_off, &T->cwo, T->nw + 2, sizeof *T->wb_off, "word types") ||
            grow((void **)&T->wbytes, &T->cwb, T->nwb + (int64_t)n, 1, "word bytes") ||
            grow((void **)&T->syms, &T->csym, T->nsym + (int64_t)n, sizeof *T->syms, "symbols"))
            return -1;
        *v = T->nw;
        word *w = &T->w[T->nw];
        w->off = T->nsym;
        w->len = (int32_t)n;
        w->count = 1;
        w->stamp = -1;
        if (T->nw == 0) T->wb_off[0] = 0;
        memcpy(T->wbytes + T->nwb, s, n);
        T->nwb += (int64_t)n;
        T->wb_off[T->nw + 1] = T->nwb;
        for (size_t i = 0; i < n; i++) T->syms[T->nsym++] = s[i];
        T->nw++;
        return 0;
    }
}

/* ---- pairs --------------------------------------------------------------------------------------- */

static int32_t pair_id(trainer *T, int32_t a, int32_t b) {
    int64_t *v = tk_u64map_put(&T->pair_index, tk_pair_key(a, b), -1);
    if (!v) return rl_fail("out of memory (pair index)");
    if (*v >= 0) return (int32_t)*v;
    if (grow32((void **)&T->p, &T->cp, (int64_t)T->np + 1, sizeof *T->p, "pairs")) return -1;
    pair *p = &T->p[T->np];
    memset(p, 0, sizeof *p);
    p->a = a;
    p->b = b;
    p->stamp = -1;
    *v = T->np;
    return T->np++;
}

static int pair_add_word(trainer *T, int32_t pid, int32_t wid) {
    pair *p = &T->p[pid];
    if (p->nw > 0 && p->words[p->nw - 1] == wid) return 0;
    if (grow32((void **)&p->words, &p->cw, (int64_t)p->nw + 1, sizeof *p->words, "pair occurrences")) return -1;
    p->words[p->nw++] = wid;
    return 0;
}

/* ---- the heap (max by count, then smallest pair) -------------------------------------------------- */

static inline int better(const hentry *x, const hentry *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(trainer *T, int32_t pid) {
    if (grow((void **)&T->heap, &T->ch, T->nh + 1, sizeof *T->heap, "heap entries")) return -1;
    hentry e = {T->p[pid].count, T->p[pid].a, T->p[pid].b, pid};
    int64_t i = T->nh++;
    while (i > 0) {
        int64_t up = (i - 1) / 2;
        if (!better(&e, &T->heap[up])) break;
        T->heap[i] = T->heap[up];
        i = up;
    }
    T->heap[i] = e;
    return 0;
}

static hentry heap_pop(trainer *T) {
    hentry top = T->heap[0], last = T->heap[--T->nh];
    int64_t i = 0, n = T->nh;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(&T->heap[c + 1], &T->heap[c])) c++;
        if (!better(&T->heap[c], &last)) break;
        T->heap[i] = T->heap[c];
        i = c;
    }
    if (n) T->heap[i] = last;
    return top;
}

/* ---- step 4: one merge ------------------------------------------------------------------------------ */

static int add_word_pairs(trainer *T, int32_t wid, int64_t sign, int32_t z, int32_t step) {
    word *w = &T->w[wid];
    const int32_t *s = T->syms + w->off;
    for (int32_t i = 0; i + 1 < w->len; i++) {
        int32_t pid = pair_id(T, s[i], s[i + 1]);
        if (pid < 0) return -1;
        pair *p = &T->p[pid];
        p->count += sign * w->count;
        if (sign > 0 && (s[i] == z || s[i + 1] == z)) {
            if (pair_add_word(T, pid, wid)) return -1;
            if (p->stamp != step) {
                p->stamp = step;
                if (grow32((void **)&T->touched, &T->ctouched, (int64_t)T->ntouched + 1, sizeof *T->touched, "pairs"))
                    return -1;
                T->touched[T->ntouched++] = pid;
            }
        }
    }
    return 0;
}

static int merge_step(trainer *T, int32_t pid, int32_t z, int32_t step) {
    int32_t a = T->p[pid].a, b = T->p[pid].b;
    T->ntouched = 0;
    for (int32_t k = 0; k < T->p[pid].nw; k++) {
        int32_t wid = T->p[pid].words[k];
        word *w = &T->w[wid];
        if (w->stamp == step) continue;
        w->stamp = step;
        int32_t *s = T->syms + w->off;
        int found = 0;
        for (int32_t i = 0; i + 1 < w->len; i++)
            if (s[i] == a && s[i + 1] == b) {
                found = 1;
                break;
            }
        if (!found) continue; /* the pair left this word in an earlier merge */
        if (add_word_pairs(T, wid, -1, z, step)) return -1;
        int32_t j = 0;
        for (int32_t i = 0; i < w->len;) {
            if (i + 1 < w->len && s[i] == a && s[i + 1] == b) {
                s[j++] = z;
                i += 2;
            } else {
                s[j++] = s[i++];
            }
        }
        w->len = j;
        if (add_word_pairs(T, wid, +1, z, step)) return -1;
    }
    for (int32_t k = 0; k < T->ntouched; k++)
        if (T->p[T->touched[k]].count > 0 && heap_push(T, T->touched[k])) return -1;
    return 0;
}

static void trainer_free(trainer *T) {
    tk_u64map_free(&T->word_index);
    tk_u64map_free(&T->pair_index);
    free(T->w);
    free(T->wbytes);
    free(T->wb_off);
    free(T->syms);
    for (int32_t i = 0; i < T->np; i++) free(T->p[i].words);
    free(T->p);
    free(T->heap);
    free(T->touched);
}

rl_tokenizer *rl_bpe_train(const char *const *docs, const size_t *doc_lens, int64_t n_docs, int vocab_size, int progress) {
    if (vocab_size < RL_TOK_ROPELAB_FIRST_MERGE + 1)
        return rl_fail("BPE vocabulary size %d is too small: it needs 256 bytes + BOS + at least one merge (>= 258)", vocab_size),
               NULL;
    int n_merges = vocab_size - RL_TOK_ROPELAB_FIRST_MERGE;
    trainer T;
    memset(&T, 0, sizeof T);
    int32_t *left = NULL, *right = NULL;
    rl_tokenizer *tok = NULL;
    if (tk_u64map_init(&T.word_index, 1 << 16) || tk_u64map_init(&T.pair_index, 1 << 16)) goto out;
    /* 1: word types */
    for (int64_t d = 0; d < n_docs; d++)
        if (tk_pretok_split(TK_PRE_GPT2, (const uint8_t *)docs[d], doc_lens[d], count_word, &T)) goto out;
    /* 2: initial pair counts */
    for (int64_t wid = 0; wid < T.nw; wid++) {
        const word *w = &T.w[wid];
        for (int32_t i = 0; i + 1 < w->len; i++) {
            int32_t pid = pair_id(&T, T.syms[w->off + i], T.syms[w->off + i + 1]);
            if (pid < 0 || pair_add_word(&T, pid, (int32_t)wid)) goto out;
            T.p[pid].count += T.w[wid].count;
        }
    }
    for (int32_t pid = 0; pid < T.np; pid++)
        if (heap_push(&T, pid)) goto out;
    /* 3-4: merges */
    left = rl_malloc((size_t)n_merges * sizeof *left, "merges");
    right = rl_malloc((size_t)n_merges * sizeof *right, "merges");
    if (!left || !right) goto out;
    rl_progress pg;
    if (progress) rl_progress_start(&pg, "BPE merges", n_merges, "merge");
    for (int m = 0; m < n_merges;) {
        if (T.nh == 0) {
            rl_fail("the training text has only enough distinct adjacent pairs for %d merges; vocabulary %d needs %d "
                    "(use --vocab %d or less, or more text)",
                    m, vocab_size, n_merges, RL_TOK_ROPELAB_FIRST_MERGE + m);
            if (progress) rl_progress_finish(&pg, "failed");
            goto out;
        }
        hentry e = heap_pop(&T);
        pair *p = &T.p[e.p];
        if (e.count != p->count) { /* stale: its count only went down */
            if (p->count > 0 && heap_push(&T, e.p)) goto out;
            continue;
        }
        if (p->count <= 0) continue;
        int32_t z = RL_TOK_ROPELAB_FIRST_MERGE + m;
        left[m] = p->a;
        right[m] = p->b;
        if (merge_step(&T, e.p, z, m)) goto out;
        m++;
        if (progress) {
            char extra[64];
            snprintf(extra, sizeof extra, "pair count %lld", (long long)e.count);
            rl_progress_update(&pg, m, extra);
        }
    }
    if (progress) rl_progress_finish(&pg, NULL);
    tok = tk_ropelab_from_merges(left, right, n_merges, "trained BPE");
out:
    free(left);
    free(right);
    trainer_free(&T);
    return tok;
}
