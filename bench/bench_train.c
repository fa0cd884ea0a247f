/* bench_train: training speed of the reference model (tokens/s, achieved GFLOP/s) against the
 * machine's OpenBLAS sgemm rate and PyTorch's speed on the same model and step, measured in the
 * same run; then checks that PyTorch's loss and gradients agree with ours on one batch.
 *
 *   build/bench/bench_train                 everything (make bench runs this)
 *   build/bench/bench_train --dump DIR ...  write weights, batch, loss and gradients for
 *                                           bench/check_torch.py (see docs/model.md, "Raw dump")
 * Options: --threads N (2), --steps N (5), --batch B (16), --pe SPEC (rope:theta=10000),
 * --softmax softmax|adaptive|adaptive-const (the attention softmax of --dump; default softmax).
 *
 * FLOPs per trained token (the formula of docs/model.md): 3 x forward, forward =
 *   2 (L (D QKV + H hd D + 3 D F) + V D)  matrix products (the embedding lookup is free)
 *   + 2 L H hd (T + 1)                    causal attention (q.k and p.v over the (T+1)/2 keys a
 *                                         query sees on average)
 * so GFLOP/s counts useful model work only (not the masked half of the score tiles). */
#include "bench_common.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static double flops_per_token(const rl_model_config *c, int T) {
    double L = c->n_layers, D = c->d_model, F = c->d_ff, V = c->vocab_size, HD = (double)c->n_heads * c->head_dim;
    double mm = 2 * (L * (D * rl_model_qkv_width(c) + HD * D + 3 * D * F) + V * D);
    double att = 2 * L * HD * (T + 1);
    return 3 * (mm + att);
}


static void batch(int32_t *tok, int32_t *tgt, int B, int T, int V, uint64_t seed) {
    /* random tokens: the speed does not depend on the text */
    rl_rng r;
    rl_rng_seed(&r, seed);
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)rl_rng_below(&r, (uint64_t)V);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) tgt[b * T + t] = t + 1 < T ? tok[b * T + t + 1] : (int32_t)rl_rng_below(&r, (uint64_t)V);
}

static int write_file(const char *dir, const char *name, const void *data, size_t n) {
    char path[4200];
    if (rl_path(path, sizeof path, "%s/%s", dir, name) != 0) return -1;
    return rl_write_atomic(path, data, n);
}

/* The raw dump check_torch.py reads (docs/model.md, "Raw dump"). */
static int dump(const char *dir, const rl_model_config *cfg, int B, int T) {
    if (rl_mkdirs(dir) != 0) return -1;
    rl_model *m = rl_model_new(cfg, 1);
    if (!m) return -1;
    rl_model_init_weights(m, 1234);
    /* perturb the norm gains so that (1+w) vs w mix-ups show */
    rl_rng r;
    rl_rng_seed(&r, 99);
    for (int i = 0; i < m->n_tensors; i++)
        if (m->table[i].ndim == 1)
            for (size_t j = 0; j < m->table[i].numel; j++) (*m->table[i].slot)[j] += (float)(0.1 * rl_rng_normal(&r));
    /* adaptive attention: q and k weights x5 so the attention rows are far from uniform (logit spread
     * ~2 instead of ~0.1): the entropy term of the backward then matters (through-beta and
     * constant-beta gradients differ by percents of their scale, not 0.4 %) */
    if (cfg->attn_softmax != RL_ATTN_PLAIN)
        for (int l = 0; l < cfg->n_layers; l++)
            for (size_t j = 0; j < (size_t)(cfg->n_heads + cfg->n_kv_heads) * cfg->head_dim * cfg->d_model; j++)
                m->p.layer[l].wq[j] *= 5.0f; /* wq and wk are adjacent */
    int32_t *io = malloc((size_t)2 * B * T * sizeof *io);
    batch(io, io + B * T, B, T, cfg->vocab_size, 5);
    io[B * T + 3] = -1; /* one ignored target */
    char *js = rl_model_config_to_json(cfg);
    FILE *f = NULL;
    int rc = -1;
    if (!js || write_file(dir, "config.json", js, strlen(js)) != 0) goto out;
    if (write_file(dir, "params.bin", m->params, m->n_params * sizeof(float)) != 0) goto out;
    if (write_file(dir, "batch.bin", io, (size_t)2 * B * T * sizeof *io) != 0) goto out;
    /* table and rotations as text */
    char path[4200];
    rl_path(path, sizeof path, "%s/params.txt", dir);
    rl_afile af;
    if (rl_afile_open(&af, path) != 0) goto out;
    for (int i = 0; i < m->n_tensors; i++)
        fprintf(af.fp, "%s %zu %lld %lld\n", m->table[i].name, m->table[i].offset, (long long)m->table[i].shape[0],
                (long long)m->table[i].shape[1]);
    if (rl_afile_commit(&af) != 0) goto out;
    rl_path(path, sizeof path, "%s/rope.txt", dir);
    if (rl_afile_open(&af, path) != 0) goto out;
    for (int l = 0; l < cfg->n_layers; l++) {
        rl_rope_freqs fr;
        if (rl_rope_freqs_init(&fr, &cfg->pe[l], cfg->head_dim, T) != 0) {
            rl_afile_abort(&af);
            goto out;
        }
        fprintf(af.fp, "%d %s %d %.17g", l, rl_layout_name(fr.layout), fr.rot_dims, fr.attn_factor);
        for (int k = 0; k < fr.n_chunks; k++) fprintf(af.fp, " %.17g", fr.freq[k]);
        fprintf(af.fp, "\n");
        rl_rope_freqs_free(&fr);
    }
    if (rl_afile_commit(&af) != 0) goto out;
    /* our loss and gradients of the mean loss */
    double loss;
    int64_t nv;
    if (rl_model_alloc_train(m) || rl_model_alloc_acts(m, B, T) ||
        rl_model_forward(m, io, io + B * T, B, T, &loss, &nv))
        goto out;
    rl_model_zero_grad(m);
    if (rl_model_backward(m, 1.0f / (float)nv) != 0) goto out;
    if (write_file(dir, "grads.bin", m->grads, m->n_params * sizeof(float)) != 0) goto out;
    char txt[256];
    int n = snprintf(txt, sizeof txt, "B %d\nT %d\nloss %.17g\n", B, T, loss / (double)nv);
    if (write_file(dir, "meta.txt", txt, (size_t)n) != 0) goto out;
    rc = 0;
out:
    (void)f;
    free(js);
    free(io);
    rl_model_free(m);
    return rc;
}

/* Times `steps` training steps (forward, backward, AdamW) after one warm-up step. */
static int train_steps(rl_model *m, int32_t *tok, int32_t *tgt, int B, int T, int steps, uint64_t seed, double *mean,
                       double *best, double *loss) {
    double total = 0;
    *best = 1e30;
    for (int s = 0; s <= steps; s++) {
        batch(tok, tgt, B, T, m->cfg.vocab_size, seed + (uint64_t)s);
        int64_t nv;
        double t0 = rl_now();
        if (rl_model_forward(m, tok, tgt, B, T, loss, &nv) != 0) {
            fprintf(stderr, "bench_train: %s\n", rl_error());
            return -1;
        }
        rl_model_zero_grad(m);
        rl_model_backward(m, 1.0f / (float)nv);
        rl_model_adamw(m, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);
        double dt = rl_now() - t0;
        if (s > 0) {
            *best = fmin(*best, dt);
            total += dt;
        }
        *loss /= (double)nv;
    }
    *mean = total / steps;
    return 0;
}

static void report_ours(const rl_model_config *cfg, int B, int T, double mean, double best, double loss, double sg) {
    double tps = B * T / mean, gf = flops_per_token(cfg, T) * tps / 1e9;
    printf("ropelab training: %.0f tokens/s (step %.3f s mean; best step %.3f s = %.0f tokens/s; loss %.3f), "
           "%.1f GFLOP/s = %.0f%% of sgemm\n",
           tps, mean, best, B * T / best, loss, gf, 100 * gf / sg);
}

/* The project root (for the bench scripts): $ROPELAB_ROOT, else the current folder (make bench runs there). */
static const char *root(void) {
    const char *r = getenv("ROPELAB_ROOT");
    return r && *r ? r : ".";
}

static int have_torch(void) { return system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

/* Runs bench/torch_train.py and returns its tokens/s (0 on failure). */
static double torch_tokens_per_s(int threads, int steps, int B, const char *pe, double *best) {
    char cmd[5000], line[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/bench/torch_train.py' --threads %d --steps %d --batch %d --pe '%s'",
             root(), threads, steps, B, pe);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    double tps = 0;
    while (fgets(line, sizeof line, p)) {
        fputs("   torch| ", stdout);
        fputs(line, stdout);
        sscanf(line, "tokens/s %lf best %lf", &tps, best);
    }
    return pclose(p) == 0 ? tps : 0;
}

int main(int argc, char **argv) {
    int threads = 2, steps = 5, B = 16, no_torch = 0;
    const char *pe = "rope:theta=10000", *dump_dir = NULL, *softmax = "softmax";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pe") && i + 1 < argc) pe = argv[++i];
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump_dir = argv[++i];
        else if (!strcmp(argv[i], "--softmax") && i + 1 < argc) softmax = argv[++i];
        else if (!strcmp(argv[i], "--no-torch")) no_torch = 1;
        else {
            fprintf(stderr, "usage: bench_train [--threads N] [--steps N] [--batch B] [--pe SPEC] [--dump DIR [--softmax "
                            "KIND]] [--no-torch]\n");
            return 2;
        }
    }
    if (threads < 1 || steps < 1 || B < 1) {
        fprintf(stderr, "bench_train: --threads, --steps and --batch must be >= 1\n");
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    rl_model_config cfg;
    rl_model_config_default(&cfg);
    if (rl_model_config_set_pe(&cfg, pe) != 0 || rl_model_config_validate(&cfg) != 0) {
        fprintf(stderr, "bench_train: %s\n", rl_error());
        return 2;
    }
    const int T = cfg.max_seq;
    if (dump_dir) {
        rl_model_config cd = cfg;
        if (rl_attn_softmax_from_name(softmax, &cd.attn_softmax) != 0) {
            fprintf(stderr, "bench_train: --softmax '%s': expected softmax, adaptive or adaptive-const\n", softmax);
            return 2;
        }
        if (dump(dump_dir, &cd, B, T) != 0) {
            fprintf(stderr, "bench_train: %s\n", rl_error());
            return 1;
        }
        return 0;
    }

    printf("reference model: vocab %d, d_model %d, %d layers, %d heads x %d, %d kv head, MLP %d, context %d, batch %d, "
           "%s, %d threads\n",
           cfg.vocab_size, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.head_dim, cfg.n_kv_heads, cfg.d_ff, T, B, pe,
           threads);
    rl_model *m = rl_model_new(&cfg, 1);
    if (!m || rl_model_alloc_train(m) || rl_model_alloc_acts(m, B, T)) {
        fprintf(stderr, "bench_train: %s\n", rl_error());
        return 1;
    }
    rl_model_init_weights(m, 1);
    int32_t *tok = malloc((size_t)B * T * sizeof *tok), *tgt = malloc((size_t)B * T * sizeof *tgt);
    const int torch = !no_torch && have_torch();
    if (no_torch) printf("PyTorch: skipped (--no-torch)\n");
    else if (!torch) printf("PyTorch: skipped (python3-torch is not installed; `sh scripts/setup.sh torch` installs it)\n");

    /* Two rounds of sgemm rate, ropelab and PyTorch, one after the other, so that each sees the
     * machine in the same conditions (other jobs on a shared machine come and go); the summary
     * keeps each one's better round. sgemm at the model's dominant shape: tokens x (gate|up) x D. */
    double sg = 0, mean = 1e30, best = 1e30, tt = 0, tt_best = 0;
    for (int round = 0; round < 2; round++) {
        double sgr = bench_sgemm_gflops(B * T, 2 * cfg.d_ff, cfg.d_model, 5);
        double sgh = bench_sgemm_gflops(B * T, cfg.vocab_size, cfg.d_model, 3);
        printf("round %d: OpenBLAS sgemm %.1f GFLOP/s at %d x %d x %d (%.1f at the head's %d x %d x %d)\n", round + 1,
               sgr, B * T, 2 * cfg.d_ff, cfg.d_model, sgh, B * T, cfg.vocab_size, cfg.d_model);
        double mr, br, loss;
        if (train_steps(m, tok, tgt, B, T, steps, 1 + 100 * (uint64_t)round, &mr, &br, &loss) != 0) return 1;
        report_ours(&cfg, B, T, mr, br, loss, sgr);
        fflush(stdout);
        sg = fmax(sg, sgr);
        mean = fmin(mean, mr);
        best = fmin(best, br);
        if (torch) {
            double tb = 0, tr = torch_tokens_per_s(threads, steps, B, pe, &tb);
            if (tr <= 0) {
                printf("PyTorch: bench/torch_train.py failed (see its output above)\n");
                return 1;
            }
            tt = fmax(tt, tr);
            tt_best = fmax(tt_best, tb);
        }
    }
    double tps = B * T / mean, gf = flops_per_token(&cfg, T) * tps / 1e9;
    printf("summary: ropelab %.0f tokens/s, %.1f GFLOP/s = %.0f%% of the best sgemm rate %.1f GFLOP/s (target >= 40%%)\n",
           tps, gf, 100 * gf / sg, sg);
    if (torch) {
        printf("summary: ropelab / PyTorch training tokens/s: %.2f (%.0f vs %.0f; best single steps: %.2f; target >= 1.5)\n",
               tps / tt, tps, tt, B * T / best / tt_best);
        /* loss and gradients on one batch, for three encodings, then adaptive-temperature
         * attention in both beta modes (the twin's autograd through beta, or beta detached) */
        const char *encs[] = {"rope:theta=10000", "prope:p=0.25,theta=10000;nope",
                              "partial:p=0.5,theta=10000,layout=interleaved", "rope:theta=10000", "rope:theta=10000"};
        const rl_attn_softmax kinds[] = {RL_ATTN_PLAIN, RL_ATTN_PLAIN, RL_ATTN_PLAIN, RL_ATTN_ADAPTIVE,
                                         RL_ATTN_ADAPTIVE_CONST};
        int ok = 1;
        for (size_t e = 0; e < 5; e++) {
            char dir[] = "/tmp/ropelab-check-XXXXXX";
            if (!mkdtemp(dir)) return 1;
            rl_model_config cc = cfg;
            rl_model_config_set_pe(&cc, encs[e]);
            cc.attn_softmax = kinds[e];
            if (dump(dir, &cc, 2, T) != 0) {
                fprintf(stderr, "bench_train: %s\n", rl_error());
                return 1;
            }
            char cmd[4400];
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/bench/check_torch.py' %s", root(), dir);
            fflush(stdout);
            int st = system(cmd);
            ok &= st == 0;
            snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
            if (system(cmd) != 0) fprintf(stderr, "bench_train: could not remove %s\n", dir);
        }
        printf("PyTorch agreement (loss and every gradient, 3 encodings, adaptive attention in both beta modes): %s\n",
               ok ? "OK" : "FAILED");
        if (!ok) return 1;
    }
    free(tok), free(tgt);
    rl_model_free(m);
    return 0;
}
