/* bench_tokenizer: BPE training time and encode throughput on the default corpus (data/corpus/).
 *
 * Times, best of REPS after a warm-up:
 *   train 4096   rl_bpe_train to a 4096 vocabulary on Moby-Dick (1.2 MB) and on the whole corpus (12 MB);
 *   encode       rl_tok_encode of the whole corpus in one call on one thread (MB/s), against
 *                memcpy of the same bytes (the ratio says how many memcpy's an encode costs), and
 *                the same encode split in 64 KB chunks (a fresh call each: what per-document use sees).
 *   decode       rl_tok_decode of the resulting ids (MB/s of text produced).
 * Needs the corpus: sh scripts/fetch_corpus.sh. Indicative only on a shared machine. */
#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 3 };

int main(void) {
    const char *root = getenv("ROPELAB_ROOT");
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/data/corpus/moby-dick.txt", root ? root : ".");
    snprintf(p2, sizeof p2, "%s/data/corpus/sotu.txt", root ? root : ".");
    char *moby, *sotu;
    size_t n1, n2;
    if (rl_read_file(p1, &moby, &n1) || rl_read_file(p2, &sotu, &n2)) {
        printf("bench_tokenizer: skipped (%s; run sh scripts/fetch_corpus.sh)\n", rl_error());
        return 0;
    }
    const char *both[2] = {moby, sotu};
    size_t lens[2] = {n1, n2}, total = n1 + n2;
    rl_tokenizer *t = NULL;
    for (int which = 0; which < 2; which++) {
        double best = 1e30;
        for (int r = 0; r < REPS; r++) {
            rl_tok_free(t);
            double t0 = rl_now();
            t = rl_bpe_train(both, lens, which ? 2 : 1, 4096, 0);
            double dt = rl_now() - t0;
            if (!t) {
                fprintf(stderr, "bench_tokenizer: %s\n", rl_error());
                return 1;
            }
            best = dt < best ? dt : best;
        }
        printf("bpe train 4096 on %s (%.1f MB): %.3f s\n", which ? "moby-dick + sotu" : "moby-dick",
               (double)(which ? total : n1) / 1e6, best);
    }
    char *text = malloc(total), *copy = malloc(total);
    memcpy(text, moby, n1);
    memcpy(text + n1, sotu, n2);
    rl_ids ids = {0};
    double enc = 1e30, chunked = 1e30, cpy = 1e30, dec = 1e30;
    rl_tok_encode(t, text, total, 0, &ids); /* warm-up: page faults of the id buffer */
    for (int r = 0; r < REPS; r++) {
        double t0 = rl_now();
        memcpy(copy, text, total);
        double t1 = rl_now();
        ids.n = 0;
        rl_tok_encode(t, text, total, 0, &ids);
        double t2 = rl_now();
        rl_tok_free(t); /* drop the word cache: chunks start cold, then share it as documents would */
        t = rl_bpe_train(both, lens, 2, 4096, 0);
        int64_t keep = ids.n;
        double t3 = rl_now();
        ids.n = 0;
        for (size_t o = 0; o < total; o += 65536) rl_tok_encode(t, text + o, RL_MIN(65536, total - o), 0, &ids);
        double t4 = rl_now();
        ids.n = keep;
        char *back;
        size_t m;
        double t5 = rl_now();
        rl_tok_decode(t, ids.v, ids.n, 0, &back, &m);
        double t6 = rl_now();
        free(back);
        cpy = RL_MIN(cpy, t1 - t0);
        enc = RL_MIN(enc, t2 - t1);
        chunked = RL_MIN(chunked, t4 - t3);
        dec = RL_MIN(dec, t6 - t5);
    }
    double mb = (double)total / 1e6;
    printf("encode (one call, 1 thread): ours %.1f MB/s, memcpy %.0f MB/s, ratio %.4f (%.2f bytes/token)\n", mb / enc,
           mb / cpy, cpy / enc, (double)total / (double)ids.n);
    printf("encode (64 KB calls, 1 thread): ours %.1f MB/s\n", mb / chunked);
    printf("decode: ours %.0f MB/s of text, memcpy %.0f MB/s, ratio %.3f\n", mb / dec, mb / cpy, cpy / dec);
    free(ids.v);
    free(text);
    free(copy);
    free(moby);
    free(sotu);
    rl_tok_free(t);
    return 0;
}
