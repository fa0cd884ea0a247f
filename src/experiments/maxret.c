/* `ropelab maxret`: train the max-retrieval network over several seeds, test plain vs adaptive softmax on
 * larger sets, and write the CSVs, summary.json, figures and the table beside the paper's numbers. */
#include "ropelab/experiments.h"
#include "ropelab/report.h"
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Items per evaluation forward pass (sets are batched up to this many items; one set at a time above). */
#define EVAL_ITEMS 32768

static const int paper_sizes[6] = {16, 64, 256, 1024, 4096, 16384};
static const double paper_plain[6] = {98.6, 94.3, 81.3, 53.8, 22.6, 12.4};
static const double paper_adapt[6] = {98.6, 94.5, 82.1, 57.7, 24.9, 14.0};

double rl_maxret_paper_acc(int size, int adaptive) {
    for (int i = 0; i < 6; i++)
        if (paper_sizes[i] == size) return adaptive ? paper_adapt[i] : paper_plain[i];
    return NAN;
}

void rl_maxret_default(rl_maxret_config *c) {
    memset(c, 0, sizeof *c);
    c->width = 64;
    c->depth = 2;
    c->n_classes = 10;
    c->train_size = 16;
    c->batch = 128;
    c->steps = 3000;
    c->warmup = 100;
    c->lr = 1e-3;
    c->lr_min = 1e-4;
    c->wd = 1e-3;
    c->clip = 1.0;
    c->seeds = 5;
    c->seed0 = 1;
    c->test_sets = 500;
    c->n_sizes = 6;
    memcpy(c->sizes, paper_sizes, sizeof paper_sizes);
    c->train_attn = RL_ATTN_PLAIN;
    c->out_dir = "out/maxret";
    c->figures = 1;
}

/* Deterministic seed for (a, b, c): FNV-1a over the three words. */
static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t w[3] = {a, b, c};
    return rl_hash64(w, sizeof w, 0x6d61787265747631ULL);
}

static int check_config(const rl_maxret_config *c) {
    if (c->width < 1 || c->width > 4096) return rl_fail("--width %d must be in 1..4096", c->width);
    if (c->depth < 1 || c->depth > RL_MAXRET_MAX_DEPTH)
        return rl_fail("--depth %d must be in 1..%d", c->depth, RL_MAXRET_MAX_DEPTH);
    if (c->n_classes < 2 || c->n_classes > 1000) return rl_fail("--classes %d must be in 2..1000", c->n_classes);
    if (c->train_size < 1 || c->train_size > 65536) return rl_fail("--train-size %d must be in 1..65536", c->train_size);
    if (c->batch < 1 || c->batch > 65536) return rl_fail("--batch %d must be in 1..65536", c->batch);
    if ((int64_t)c->batch * c->train_size > (1 << 22))
        return rl_fail("--batch x --train-size = %lld items per step is too large (max 4194304)",
                       (long long)c->batch * c->train_size);
    if (c->steps < 1) return rl_fail("--steps %d must be >= 1", c->steps);
    if (c->warmup < 0 || c->warmup > c->steps) return rl_fail("--warmup %d must be in 0..steps", c->warmup);
    if (!(c->lr > 0 && c->lr < 10) || !(c->lr_min >= 0 && c->lr_min <= c->lr))
        return rl_fail("--lr %g must be in (0, 10) and --lr-min %g in [0, lr]", c->lr, c->lr_min);
    if (!(c->wd >= 0 && c->wd < 1)) return rl_fail("--wd %g must be in [0, 1)", c->wd);
    if (!(c->clip >= 0)) return rl_fail("--clip %g must be >= 0 (0 = off)", c->clip);
    if (c->seeds < 1 || c->seeds > 1000) return rl_fail("--seeds %d must be in 1..1000", c->seeds);
    if (c->test_sets < 1 || c->test_sets > 10000000) return rl_fail("--test-sets %d must be in 1..1e7", c->test_sets);
    if (c->n_sizes < 1 || c->n_sizes > (int)RL_ARRAY_LEN(c->sizes))
        return rl_fail("between 1 and %d test sizes are needed", (int)RL_ARRAY_LEN(c->sizes));
    for (int i = 0; i < c->n_sizes; i++)
        if (c->sizes[i] < 1 || c->sizes[i] > (1 << 20))
            return rl_fail("test size %d must be in 1..1048576", c->sizes[i]);
    if (!c->out_dir || !*c->out_dir) return rl_fail("an output folder is needed");
    return 0;
}

typedef struct {
    int64_t right_p, right_a; /* correct predictions, plain / adaptive */
    int64_t only_a, only_p;   /* discordant pairs: adaptive right & plain wrong, and the reverse */
    double w_p, w_a, H, beta; /* sums over sets */
    int64_t sets;
} size_acc;

/* Progress from several seed threads at once. */
static void progress_add(rl_progress *pr, int64_t *done, int64_t k, const char *extra) {
#pragma omp critical(maxret_progress)
    {
        *done += k;
        rl_progress_update(pr, *done, extra);
    }
}

static double mean_of(const double *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}
static double sd_of(const double *x, int n) {
    if (n < 2) return 0;
    double m = mean_of(x, n), s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (n - 1));
}

/* Trains one model; appends its curve to `curve`. */
static int train_one(const rl_maxret_config *c, rl_maxret_model *m, int s, uint64_t seed, FILE *curve,
                     rl_progress *pr, int64_t *done, double *final_loss) {
    const int D = 1 + c->n_classes, B = c->batch, n = c->train_size;
    size_t np = m->n_params;
    float *items = rl_malloc(sizeof(float) * (size_t)B * n * D, "maxret training batch");
    float *query = rl_malloc(sizeof(float) * (size_t)B, "maxret queries");
    int32_t *target = rl_malloc(sizeof(int32_t) * (size_t)B, "maxret targets");
    float *grad = rl_alloc_aligned(np * sizeof(float), "maxret gradient");
    float *am = rl_alloc_aligned(np * sizeof(float), "AdamW m");
    float *av = rl_alloc_aligned(np * sizeof(float), "AdamW v");
    int rc = -1;
    if (!items || !query || !target || !grad || !am || !av) goto done;
    double ema_loss = NAN, ema_acc = NAN;
    int log_every = c->steps >= 100 ? c->steps / 100 : 1;
    for (int step = 0; step < c->steps; step++) {
        rl_maxret_sample(items, query, target, NULL, B, n, c->n_classes, mix3(seed, 0x747261696e, (uint64_t)step));
        memset(grad, 0, np * sizeof(float));
        int correct;
        double loss = rl_maxret_loss_grad(m, grad, items, query, target, B, n, c->train_attn, &correct);
        if (isnan(loss)) {
            if (!*rl_error()) rl_fail("seed %d step %d: the training loss became NaN (try a smaller --lr)", s, step);
            goto done;
        }
        double norm = rl_grad_norm(grad, np);
        if (!isfinite(norm)) {
            rl_fail("seed %d step %d: non-finite gradient norm (try a smaller --lr)", s, step);
            goto done;
        }
        if (c->clip > 0 && norm > c->clip) rl_scale(grad, np, (float)(c->clip / norm));
        float lr = rl_lr_at(step, c->warmup, c->steps, (float)c->lr, (float)c->lr_min);
        rl_adamw_step(m->params, grad, am, av, np, lr, 0.9f, 0.999f, 1e-8f, (float)c->wd, step + 1);
        double acc = (double)correct / B;
        ema_loss = isnan(ema_loss) ? loss : 0.98 * ema_loss + 0.02 * loss;
        ema_acc = isnan(ema_acc) ? acc : 0.98 * ema_acc + 0.02 * acc;
        if (step % log_every == 0 || step == c->steps - 1)
            fprintf(curve, "%d,%d,%.6f,%.6f,%.6g,%.6g\n", s, step, loss, acc, (double)lr, norm);
        char extra[128];
        snprintf(extra, sizeof extra, "seed %d/%d train loss %.4f acc %.3f", s + 1, c->seeds, ema_loss, ema_acc);
        progress_add(pr, done, (int64_t)B * n, extra);
    }
    *final_loss = ema_loss;
    rc = 0;
done:
    free(items);
    free(query);
    free(target);
    free(grad);
    free(am);
    free(av);
    return rc;
}

/* Evaluates one model on test_sets sets of every size; fills acc[k] and writes one row per set. */
static int eval_one(const rl_maxret_config *c, const rl_maxret_model *m, int s, uint64_t seed, size_acc *acc,
                    FILE *sets_csv, rl_progress *pr, int64_t *done) {
    const int D = 1 + c->n_classes;
    /* sets per forward pass for size n: as many as fit in EVAL_ITEMS items, at least one */
    int maxB = 1;
    size_t max_items = 0;
    for (int k = 0; k < c->n_sizes; k++) {
        int per = RL_MIN(c->test_sets, RL_MAX(1, EVAL_ITEMS / c->sizes[k]));
        maxB = RL_MAX(maxB, per);
        max_items = RL_MAX(max_items, (size_t)per * c->sizes[k]);
    }
    float *items = rl_malloc(sizeof(float) * max_items * D, "maxret test sets");
    float *query = rl_malloc(sizeof(float) * (size_t)maxB, "maxret test queries");
    int32_t *target = rl_malloc(sizeof(int32_t) * (size_t)maxB * 4, "maxret test targets");
    float *wf = rl_malloc(sizeof(float) * (size_t)maxB * 4, "maxret test weights");
    int rc = -1;
    if (!items || !query || !target || !wf) goto done;
    int32_t *argmax = target + maxB, *pp = argmax + maxB, *pa = pp + maxB;
    float *wp = wf, *wa = wf + maxB, *H = wa + maxB, *beta = H + maxB;
    for (int k = 0; k < c->n_sizes; k++) {
        int n = c->sizes[k], per = RL_MIN(c->test_sets, RL_MAX(1, EVAL_ITEMS / n));
        size_acc *a = &acc[k];
        memset(a, 0, sizeof *a);
        for (int i0 = 0, chunk = 0; i0 < c->test_sets; i0 += per, chunk++) {
            int B = RL_MIN(per, c->test_sets - i0);
            rl_maxret_sample(items, query, target, argmax, B, n, c->n_classes,
                             mix3(seed, 0x74657374ULL ^ ((uint64_t)n << 20), (uint64_t)chunk));
            if (rl_maxret_eval(m, items, query, argmax, B, n, pp, pa, wp, wa, H, beta) != 0) goto done;
            for (int b = 0; b < B; b++) {
                int rp = pp[b] == target[b], ra = pa[b] == target[b];
                a->right_p += rp;
                a->right_a += ra;
                a->only_a += ra && !rp;
                a->only_p += rp && !ra;
                a->w_p += wp[b];
                a->w_a += wa[b];
                a->H += H[b];
                a->beta += beta[b];
                a->sets++;
                fprintf(sets_csv, "%d,%d,%d,%d,%d,%d,%.6g,%.6g,%.6g,%.6g\n", s, n, i0 + b, target[b], pp[b], pa[b],
                        (double)wp[b], (double)wa[b], (double)H[b], (double)beta[b]);
            }
            char extra[96];
            snprintf(extra, sizeof extra, "seed %d/%d test size %d", s + 1, c->seeds, n);
            progress_add(pr, done, (int64_t)B * n, extra);
        }
    }
    rc = 0;
done:
    free(items);
    free(query);
    free(target);
    free(wf);
    return rc;
}

typedef struct {
    double acc_p, acc_p_sd, acc_a, acc_a_sd, diff, diff_sd, t, p_t, p_mc, w_p, w_p_sd, w_a, w_a_sd, H, beta;
    int64_t only_a, only_p;
} size_summary;

static int write_figures(const rl_maxret_config *c) {
    char body[4096];
    snprintf(body, sizeof body,
             "set logscale x 2\nset xlabel \"set size (items; trained on %d)\"\nset ylabel \"accuracy (%%)\"\n"
             "set yrange [0:100]\nset key bottom left\nset grid\n"
             "set title \"max-retrieval: plain vs adaptive-temperature softmax at inference (mean +- sd over %d seeds)\"\n"
             "plot 'maxret_summary.csv' skip 1 using 1:2:3 with yerrorlines lw 2 title \"ropelab softmax\", \\\n"
             "     'maxret_summary.csv' skip 1 using 1:4:5 with yerrorlines lw 2 title \"ropelab adaptive\", \\\n"
             "     'maxret_summary.csv' skip 1 using 1:22 with linespoints dt 2 lw 1.5 title \"paper softmax\", \\\n"
             "     'maxret_summary.csv' skip 1 using 1:23 with linespoints dt 2 lw 1.5 title \"paper adaptive\"\n",
             c->train_size, c->seeds);
    if (rl_figure(c->out_dir, "maxret_accuracy", body, NULL) != 0) return -1;
    snprintf(body, sizeof body,
             "set logscale x 2\nset logscale y\nset format y \"%%g\"\nset xlabel \"set size (items; trained on %d)\"\n"
             "set ylabel \"attention weight on the true maximum\"\nset key bottom left\nset grid\n"
             "set title \"dispersion: the head's weight on the highest-priority item (mean +- sd over seeds)\"\n"
             "plot 'maxret_summary.csv' skip 1 using 1:14:15 with yerrorlines lw 2 title \"softmax\", \\\n"
             "     'maxret_summary.csv' skip 1 using 1:16:17 with yerrorlines lw 2 title \"adaptive temperature\", \\\n"
             "     'maxret_summary.csv' skip 1 using 1:18 with lines dt 3 lc rgb \"gray\" title \"uniform 1/n\"\n",
             c->train_size);
    return rl_figure(c->out_dir, "maxret_dispersion", body, NULL);
}

static int write_summary_json(const rl_maxret_config *c, const size_summary *ss, double t_train, double t_eval,
                              double t_wall, int threads, const double *final_loss) {
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON_AddStringToObject(root, "experiment", "max-retrieval (Softmax is not enough, arXiv 2410.01104)");
    cJSON_AddNumberToObject(cfg, "width", c->width);
    cJSON_AddNumberToObject(cfg, "depth", c->depth);
    cJSON_AddNumberToObject(cfg, "classes", c->n_classes);
    cJSON_AddNumberToObject(cfg, "train_size", c->train_size);
    cJSON_AddNumberToObject(cfg, "batch", c->batch);
    cJSON_AddNumberToObject(cfg, "steps", c->steps);
    cJSON_AddNumberToObject(cfg, "warmup", c->warmup);
    cJSON_AddNumberToObject(cfg, "lr", c->lr);
    cJSON_AddNumberToObject(cfg, "lr_min", c->lr_min);
    cJSON_AddNumberToObject(cfg, "weight_decay", c->wd);
    cJSON_AddNumberToObject(cfg, "clip", c->clip);
    cJSON_AddNumberToObject(cfg, "seeds", c->seeds);
    cJSON_AddNumberToObject(cfg, "seed0", (double)c->seed0);
    cJSON_AddNumberToObject(cfg, "test_sets", c->test_sets);
    cJSON_AddStringToObject(cfg, "train_softmax", rl_attn_softmax_name(c->train_attn));
    cJSON_AddNumberToObject(root, "train_seconds", t_train);
    cJSON_AddNumberToObject(root, "eval_seconds", t_eval);
    cJSON_AddNumberToObject(root, "wall_seconds", t_wall);
    cJSON_AddNumberToObject(root, "seed_threads", threads);
    cJSON *fl = cJSON_AddArrayToObject(root, "final_train_loss");
    for (int s = 0; s < c->seeds; s++) cJSON_AddItemToArray(fl, cJSON_CreateNumber(final_loss[s]));
    cJSON_AddStringToObject(root, "p_ttest",
                            "paired t-test over seeds of (adaptive - softmax) accuracy, two-sided, df = seeds - 1");
    cJSON_AddStringToObject(root, "p_mcnemar",
                            "exact McNemar (sign) test on test sets where exactly one variant is right, pooled over "
                            "seeds, two-sided; conditional on the trained models");
    cJSON *arr = cJSON_AddArrayToObject(root, "sizes");
    for (int k = 0; k < c->n_sizes; k++) {
        const size_summary *q = &ss[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "size", c->sizes[k]);
#define NUM(name, v) cJSON_AddItemToObject(o, name, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull())
        NUM("acc_softmax", q->acc_p);
        NUM("acc_softmax_sd", q->acc_p_sd);
        NUM("acc_adaptive", q->acc_a);
        NUM("acc_adaptive_sd", q->acc_a_sd);
        NUM("diff", q->diff);
        NUM("diff_sd", q->diff_sd);
        NUM("t", q->t);
        NUM("p_ttest", q->p_t);
        cJSON_AddNumberToObject(o, "adaptive_only_right", (double)q->only_a);
        cJSON_AddNumberToObject(o, "softmax_only_right", (double)q->only_p);
        NUM("p_mcnemar", q->p_mc);
        NUM("weight_on_max_softmax", q->w_p);
        NUM("weight_on_max_adaptive", q->w_a);
        NUM("entropy_mean", q->H);
        NUM("beta_mean", q->beta);
        NUM("paper_softmax", rl_maxret_paper_acc(c->sizes[k], 0));
        NUM("paper_adaptive", rl_maxret_paper_acc(c->sizes[k], 1));
#undef NUM
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return rl_fail("summary.json: out of memory");
    char path[4096];
    int rc = rl_path(path, sizeof path, "%s/summary.json", c->out_dir);
    if (rc == 0) rc = rl_write_atomic(path, txt, strlen(txt));
    free(txt);
    return rc;
}

int rl_maxret_run(const rl_maxret_config *c) {
    if (check_config(c) != 0) return -1;
    if (rl_mkdirs(c->out_dir) != 0) return -1;
    const int S = c->seeds, K = c->n_sizes;
    char path[4096];
    rl_afile f_sets = {0}, f_curve = {0}, f_seed = {0}, f_sum = {0};
    size_acc *acc = rl_calloc((size_t)S * K, sizeof *acc, "maxret results");
    size_summary *ss = rl_calloc((size_t)K, sizeof *ss, "maxret summary");
    double *final_loss = rl_calloc((size_t)S, sizeof(double), "maxret losses");
    double *tmp = rl_calloc((size_t)S * 4, sizeof(double), "maxret scratch");
    int rc = -1;
    if (!acc || !ss || !final_loss || !tmp) goto fail;
    if (rl_path(path, sizeof path, "%s/maxret_sets.csv", c->out_dir) || rl_afile_open(&f_sets, path)) goto fail;
    if (rl_path(path, sizeof path, "%s/maxret_train.csv", c->out_dir) || rl_afile_open(&f_curve, path)) goto fail;
    fprintf(f_sets.fp, "seed,size,set,target,pred_softmax,pred_adaptive,weight_max_softmax,weight_max_adaptive,"
                       "entropy,beta\n");
    fprintf(f_curve.fp, "seed,step,loss,acc,lr,grad_norm\n");

    int64_t total = 0, done = 0;
    for (int k = 0; k < K; k++) total += (int64_t)c->test_sets * c->sizes[k];
    total = (int64_t)S * (total + (int64_t)c->steps * c->batch * c->train_size);
    rl_progress pr;
    rl_progress_start(&pr, "maxret", total, "item");
    /* Seeds are independent: with several seeds, run them concurrently, one thread each (the per-seed work is
     * small matrices, where threads inside a step gain little and collapse on a loaded machine). Each seed
     * writes its CSV rows to memory; they are written in seed order afterwards, so the files do not depend on
     * the thread count. Errors are thread-local, so a failing seed copies its message out. */
    int threads = S > 1 ? RL_MIN(S, omp_get_max_threads()) : 1;
    char **txt = rl_calloc((size_t)S * 2, sizeof(char *), "maxret per-seed output");
    size_t *txt_len = rl_calloc((size_t)S * 2, sizeof(size_t), "maxret per-seed output");
    char(*err)[512] = rl_calloc((size_t)S, 512, "maxret per-seed errors");
    double *tt = rl_calloc((size_t)S * 2, sizeof(double), "maxret timings");
    if (!txt || !txt_len || !err || !tt) {
        free(txt), free(txt_len), free(err), free(tt);
        goto fail;
    }
    double t_wall0 = rl_now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
    for (int s = 0; s < S; s++) {
        uint64_t seed = mix3(c->seed0, (uint64_t)s, 0x6d6f64656cULL);
        FILE *fc = open_memstream(&txt[2 * s], &txt_len[2 * s]), *fs = open_memstream(&txt[2 * s + 1], &txt_len[2 * s + 1]);
        rl_maxret_model m;
        int r = -1;
        if (!fc || !fs) rl_fail("seed %d: cannot open an in-memory buffer", s);
        else if (rl_maxret_model_init(&m, c->width, c->depth, c->n_classes, seed) == 0) {
            double t0 = rl_now();
            r = train_one(c, &m, s, seed, fc, &pr, &done, &final_loss[s]);
            double t1 = rl_now();
            if (r == 0) r = eval_one(c, &m, s, seed, acc + (size_t)s * K, fs, &pr, &done);
            tt[2 * s] = t1 - t0;
            tt[2 * s + 1] = rl_now() - t1;
            rl_maxret_model_free(&m);
        }
        if (fc) fclose(fc);
        if (fs) fclose(fs);
        if (r != 0) snprintf(err[s], 512, "%s", *rl_error() ? rl_error() : "failed");
    }
    double t_wall = rl_now() - t_wall0, t_train = 0, t_eval = 0;
    int bad = -1;
    for (int s = 0; s < S; s++) {
        t_train += tt[2 * s];
        t_eval += tt[2 * s + 1];
        if (bad < 0 && err[s][0]) bad = s;
        if (txt[2 * s]) fwrite(txt[2 * s], 1, txt_len[2 * s], f_curve.fp);
        if (txt[2 * s + 1]) fwrite(txt[2 * s + 1], 1, txt_len[2 * s + 1], f_sets.fp);
        free(txt[2 * s]);
        free(txt[2 * s + 1]);
    }
    if (bad >= 0) rl_fail("%s", err[bad]);
    free(txt), free(txt_len), free(err), free(tt);
    if (bad >= 0) goto fail;
    char extra[96];
    snprintf(extra, sizeof extra, "%.1f s wall (%d seed threads)", t_wall, threads);
    rl_progress_finish(&pr, extra);

    /* per-seed table */
    if (rl_path(path, sizeof path, "%s/maxret.csv", c->out_dir) || rl_afile_open(&f_seed, path)) goto fail;
    fprintf(f_seed.fp, "seed,size,sets,acc_softmax,acc_adaptive,diff,weight_max_softmax,weight_max_adaptive,"
                       "entropy_mean,beta_mean,adaptive_only_right,softmax_only_right\n");
    for (int s = 0; s < S; s++)
        for (int k = 0; k < K; k++) {
            const size_acc *a = &acc[(size_t)s * K + k];
            double ap = 100.0 * a->right_p / a->sets, aa = 100.0 * a->right_a / a->sets;
            fprintf(f_seed.fp, "%d,%d,%lld,%.4f,%.4f,%.4f,%.6g,%.6g,%.6g,%.6g,%lld,%lld\n", s, c->sizes[k],
                    (long long)a->sets, ap, aa, aa - ap, a->w_p / a->sets, a->w_a / a->sets, a->H / a->sets,
                    a->beta / a->sets, (long long)a->only_a, (long long)a->only_p);
        }
    /* per-size summary */
    for (int k = 0; k < K; k++) {
        size_summary *q = &ss[k];
        double *xp = tmp, *xa = tmp + S, *wp = tmp + 2 * S, *wa = tmp + 3 * S;
        double Hs = 0, bs = 0, diff[1000];
        int64_t nsets = 0;
        for (int s = 0; s < S; s++) {
            const size_acc *a = &acc[(size_t)s * K + k];
            xp[s] = 100.0 * a->right_p / a->sets;
            xa[s] = 100.0 * a->right_a / a->sets;
            diff[s] = xa[s] - xp[s];
            wp[s] = a->w_p / a->sets;
            wa[s] = a->w_a / a->sets;
            q->only_a += a->only_a;
            q->only_p += a->only_p;
            Hs += a->H;
            bs += a->beta;
            nsets += a->sets;
        }
        q->acc_p = mean_of(xp, S);
        q->acc_p_sd = sd_of(xp, S);
        q->acc_a = mean_of(xa, S);
        q->acc_a_sd = sd_of(xa, S);
        q->diff = mean_of(diff, S);
        q->diff_sd = sd_of(diff, S);
        q->p_t = rl_paired_t_pvalue(diff, S, &q->t);
        q->p_mc = rl_mcnemar_exact(q->only_a, q->only_p);
        q->w_p = mean_of(wp, S);
        q->w_p_sd = sd_of(wp, S);
        q->w_a = mean_of(wa, S);
        q->w_a_sd = sd_of(wa, S);
        q->H = Hs / nsets;
        q->beta = bs / nsets;
    }
    if (rl_path(path, sizeof path, "%s/maxret_summary.csv", c->out_dir) || rl_afile_open(&f_sum, path)) goto fail;
    /* column numbers are used by the figure scripts: keep the order */
    fprintf(f_sum.fp, "size,acc_softmax,acc_softmax_sd,acc_adaptive,acc_adaptive_sd,diff,diff_sd,t,p_ttest,"
                      "adaptive_only_right,softmax_only_right,p_mcnemar,seeds,weight_max_softmax,"
                      "weight_max_softmax_sd,weight_max_adaptive,weight_max_adaptive_sd,uniform,entropy_mean,"
                      "beta_mean,log_size,paper_softmax,paper_adaptive\n");
    for (int k = 0; k < K; k++) {
        const size_summary *q = &ss[k];
        double pp = rl_maxret_paper_acc(c->sizes[k], 0), pa = rl_maxret_paper_acc(c->sizes[k], 1);
        fprintf(f_sum.fp, "%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.6g,%.6g,%lld,%lld,%.6g,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
                          "%.6g,%.6g,",
                c->sizes[k], q->acc_p, q->acc_p_sd, q->acc_a, q->acc_a_sd, q->diff, q->diff_sd, q->t, q->p_t,
                (long long)q->only_a, (long long)q->only_p, q->p_mc, S, q->w_p, q->w_p_sd, q->w_a, q->w_a_sd,
                1.0 / c->sizes[k], q->H, q->beta, log((double)c->sizes[k]));
        if (isnan(pp)) fprintf(f_sum.fp, "NaN,NaN\n");
        else fprintf(f_sum.fp, "%.1f,%.1f\n", pp, pa);
    }
    if (rl_afile_commit(&f_sets) || rl_afile_commit(&f_curve) || rl_afile_commit(&f_seed) || rl_afile_commit(&f_sum))
        goto fail;
    if (write_summary_json(c, ss, t_train, t_eval, t_wall, threads, final_loss) != 0) goto fail;
    if (c->figures && write_figures(c) != 0) goto fail;

    /* the table beside the paper's numbers */
    printf("max-retrieval: %d seeds x %d test sets per size; trained on %d items with %s, %d steps (%.0f s wall: "
           "%.0f s train + %.0f s test summed over seeds)\n",
           S, c->test_sets, c->train_size,
           c->train_attn == RL_ATTN_PLAIN      ? "softmax"
           : c->train_attn == RL_ATTN_ADAPTIVE ? "adaptive temperature"
                                               : "adaptive temperature (constant-beta gradient)",
           c->steps, t_wall, t_train, t_eval);
    printf("accuracy %% (mean +- sd over seeds); diff = adaptive - softmax, paired by seed and test set\n");
    printf("%7s | %15s %15s %8s %9s %9s | %6s %6s | %8s %8s | %6s %5s\n", "size", "softmax", "adaptive", "diff",
           "p(t-test)", "p(McNem)", "paper", "paper", "w_max", "w_max", "H", "beta");
    printf("%7s | %15s %15s %8s %9s %9s | %6s %6s | %8s %8s | %6s %5s\n", "", "", "", "", "", "", "soft", "adapt",
           "soft", "adapt", "", "");
    for (int k = 0; k < K; k++) {
        const size_summary *q = &ss[k];
        char a1[32], a2[32], p1[16], p2[16];
        snprintf(a1, sizeof a1, "%.2f+-%.2f", q->acc_p, q->acc_p_sd);
        snprintf(a2, sizeof a2, "%.2f+-%.2f", q->acc_a, q->acc_a_sd);
        double pp = rl_maxret_paper_acc(c->sizes[k], 0), pa = rl_maxret_paper_acc(c->sizes[k], 1);
        if (isnan(pp)) snprintf(p1, sizeof p1, "-"), snprintf(p2, sizeof p2, "-");
        else snprintf(p1, sizeof p1, "%.1f", pp), snprintf(p2, sizeof p2, "%.1f", pa);
        printf("%7d | %15s %15s %+8.2f %9.3g %9.3g | %6s %6s | %8.4f %8.4f | %6.3f %5.3f\n", c->sizes[k], a1, a2,
               q->diff, q->p_t, q->p_mc, p1, p2, q->w_p, q->w_a, q->H, q->beta);
    }
    printf("wrote %s/{maxret.csv,maxret_summary.csv,maxret_sets.csv,maxret_train.csv,summary.json%s}\n", c->out_dir,
           c->figures ? ",maxret_accuracy.png,maxret_dispersion.png" : "");
    rc = 0;
fail:
    if (rc != 0) {
        if (f_sets.fp) rl_afile_abort(&f_sets);
        if (f_curve.fp) rl_afile_abort(&f_curve);
        if (f_seed.fp) rl_afile_abort(&f_seed);
        if (f_sum.fp) rl_afile_abort(&f_sum);
    }
    free(acc);
    free(ss);
    free(final_loss);
    free(tmp);
    return rc;
}
