/* The training run: set up (fresh or resumed), loop over steps, validate, log, checkpoint. */
#include "internal.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdarg.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rl_train_config_of_run(rl_train_config *c, const char *out_dir) {
    char p[4200];
    if (rl_path(p, sizeof p, "%s/%s", out_dir, RUN_CONFIG) != 0) return -1;
    if (!rl_file_exists(p)) return rl_fail("%s: not a training run folder (no %s)", out_dir, RUN_CONFIG);
    rl_train_config_default(c);
    return rl_train_config_load(c, p);
}

/* Everything one run holds; freed by run_free. */
typedef struct {
    rl_train_config c;
    const char *out;
    int quiet, tty;
    rl_dataset data;
    int data_open;
    data_id did;
    rl_model *m;
    run_log log;
    int32_t *windows;        /* [grad_accum][B][T+1] */
    char last_ckpt[4200];    /* the newest complete checkpoint, "" before the first */
    int old_threads;
} run;

static void run_free(run *r) {
    rl_model_free(r->m);
    free(r->windows);
    runlog_free(&r->log);
    if (r->data_open) rl_dataset_close(&r->data);
    omp_set_num_threads(r->old_threads);
}

/* A message line on stderr (clearing a progress bar first), unless quiet. */
static void say(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const run *r, const char *fmt, ...) {
    if (r->quiet) return;
    if (r->tty) fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

/* The dataset: opened, and the vocabulary / BOS / EOS placeholders resolved from its tokenizer. */
static int open_data(run *r) {
    rl_train_config *c = &r->c;
    if (!c->data[0]) return rl_fail("key data: the prepared dataset folder is required (--data DIR)");
    if (rl_dataset_open(&r->data, c->data) != 0) return rl_fail_prefix("key data");
    r->data_open = 1;
    int V = rl_tok_vocab_size(r->data.tok);
    if (c->model.vocab_size == 0)
        c->model.vocab_size = V;
    else if (c->model.vocab_size != V)
        return rl_fail("key vocab_size: %d, but %s/%s has %d tokens (the model's vocabulary comes from the dataset: "
                       "leave vocab_size out, or prepare the data with --vocab %d)",
                       c->model.vocab_size, c->data, RL_DATA_TOKENIZER, V, c->model.vocab_size);
    if (c->model.bos_id == -2) c->model.bos_id = rl_tok_bos(r->data.tok);
    if (c->model.eos_id == -2) c->model.eos_id = rl_tok_eos(r->data.tok);
    if (rl_train_config_validate(c) != 0) return -1;
    const int T = c->model.max_seq;
    if (r->data.train.n_tokens < (int64_t)T + 1)
        return rl_fail("%s: %lld training tokens are too few for one window of max_seq %d (+1)", r->data.train.path,
                       (long long)r->data.train.n_tokens, T);
    if (r->data.val.n_tokens < (int64_t)T + 1)
        return rl_fail("%s: %lld validation tokens are too few for one window of max_seq %d (+1)", r->data.val.path,
                       (long long)r->data.val.n_tokens, T);
    return data_id_compute(&r->did, &r->data, c->data);
}

/* The run folder: a fresh one must not hold a run yet; a resumed one must be the same run. */
static int open_folder(run *r, int resume) {
    char p[4200];
    if (rl_path(p, sizeof p, "%s/%s", r->out, RUN_CONFIG) != 0) return -1;
    char *now = rl_train_config_to_json(&r->c);
    if (!now) return -1;
    int rc = 0;
    if (!resume) {
        if (rl_file_exists(p))
            rc = rl_fail("%s already holds a training run (%s): continue it with --resume %s, or choose another --out", r->out,
                         RUN_CONFIG, r->out);
        else if (rl_mkdirs(r->out) != 0)
            rc = -1;
    } else {
        char *was;
        rl_train_config prev;
        if (rl_train_config_of_run(&prev, r->out) != 0)
            rc = -1;
        else if (!(was = rl_train_config_to_json(&prev)))
            rc = -1;
        else {
            rc = train_config_same_run(was, now, p);
            free(was);
        }
    }
    free(now);
    return rc;
}

/* (Re)writes train_config.json: for a resumed run after its checkpoint was accepted, so that a
 * refused resume leaves the folder as it was. */
static int write_run_config(const run *r) {
    char p[4200];
    char *now = rl_train_config_to_json(&r->c);
    if (!now || rl_path(p, sizeof p, "%s/%s", r->out, RUN_CONFIG) != 0) {
        free(now);
        return -1;
    }
    int rc = rl_write_atomic(p, now, strlen(now));
    free(now);
    return rc;
}

/* A resumed run: the newest complete checkpoint's weights, moments, state and log. */
static int load_resume(run *r, int64_t *start) {
    char dir[4200];
    int64_t linked;
    *start = 0;
    if (ckpt_clean(r->out) != 0) return -1;
    int have = ckpt_current(r->out, dir, sizeof dir, &linked);
    if (have <= 0) {
        if (have == 0) say(r, "%s: no checkpoint yet: starting from step 0\n", r->out);
        return have;
    }
    ckpt_state s;
    if (ckpt_load(dir, r->m, &s, &r->log) != 0) return -1;
    int rc = 0;
    char *now = rl_train_config_to_json(&r->c);
    char src[4300];
    snprintf(src, sizeof src, "%s/%s", dir, CKPT_STATE);
    if (!now || train_config_same_run(s.config_json, now, src) != 0)
        rc = -1;
    else if (s.step != linked || s.micro_batches != s.step * r->c.grad_accum)
        rc = rl_fail("%s: step %lld / micro_batches %lld do not match the folder name (step %lld, grad_accum %d)", src,
                     (long long)s.step, (long long)s.micro_batches, (long long)linked, r->c.grad_accum);
    else if (s.data.vocab_size != r->did.vocab_size || s.data.train_tokens != r->did.train_tokens ||
             s.data.train_hash != r->did.train_hash || s.data.tokenizer_hash != r->did.tokenizer_hash)
        rc = rl_fail("%s: the dataset differs from the one the run was trained on (%s: vocabulary %d, %lld training "
                     "tokens, or the file contents); resume with the run's data",
                     r->c.data, src, s.data.vocab_size, (long long)s.data.train_tokens);
    else if (s.step > r->c.steps)
        rc = rl_fail("%s: the checkpoint is at step %lld, beyond steps = %lld", src, (long long)s.step, (long long)r->c.steps);
    if (rc == 0 && s.threads != omp_get_max_threads())
        say(r, "warning: the run used %d threads and now %d: the continuation is not bit-identical to an unbroken run\n",
            s.threads, omp_get_max_threads());
    /* the log is exactly the rows up to the checkpoint */
    while (rc == 0 && r->log.n > 0 && r->log.r[r->log.n - 1].step > s.step) r->log.n--;
    free(now);
    ckpt_state_free(&s);
    if (rc == 0) {
        *start = linked;
        snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", dir);
    }
    return rc;
}

static int save(run *r, int64_t step) {
    ckpt_state s = {step, step * r->c.grad_accum, r->m->adam_t, omp_get_max_threads(), r->did, NULL};
    char tok[4200];
    rl_path(tok, sizeof tok, "%s/%s", r->c.data, RL_DATA_TOKENIZER);
    return ckpt_save(r->out, r->m, &r->c, &s, &r->log, tok, r->last_ckpt, sizeof r->last_ckpt);
}

/* Adds where the last good checkpoint is to a failure message. */
static int stopped(const run *r) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", rl_error());
    if (r->last_ckpt[0]) return rl_fail("%s. Training stopped; the last good checkpoint %s is intact", msg, r->last_ckpt);
    return rl_fail("%s. Training stopped before its first checkpoint", msg);
}

int rl_train_run(const rl_train_config *cfg, const char *out_dir, const rl_train_opts *opts, rl_train_result *res) {
    static const rl_train_opts none = {0};
    const rl_train_opts *o = opts ? opts : &none;
    run r;
    memset(&r, 0, sizeof r);
    r.log.fd = -1;
    r.c = *cfg;
    r.out = out_dir;
    r.quiet = o->quiet || rl_quiet();
    r.tty = isatty(STDERR_FILENO);
    r.old_threads = omp_get_max_threads();
    double t_start = rl_now();
    int rc = -1;
    if (rl_train_config_validate(&r.c) != 0 || open_data(&r) != 0) goto done;
    if (r.c.threads > 0) omp_set_num_threads(r.c.threads);
    if (open_folder(&r, o->resume) != 0) goto done;
    const int B = r.c.batch, T = r.c.model.max_seq, K = r.c.grad_accum;
    if (!(r.m = rl_model_new(&r.c.model, 1))) goto done;
    rl_model_init_weights(r.m, (uint64_t)r.c.seed);
    if (rl_model_alloc_train(r.m) != 0 || rl_model_alloc_acts(r.m, B, T) != 0) goto done;
    int64_t start = 0;
    if (o->resume && load_resume(&r, &start) != 0) goto done;
    if (write_run_config(&r) != 0) goto done;
    if (runlog_open(&r.log, r.out) != 0) goto done;
    rl_sampler sm;
    if (rl_sampler_init(&sm, &r.data.train, B, T, (uint64_t)r.c.seed, RL_SAMPLE_RANDOM) != 0) goto done;
    rl_sampler_seek(&sm, start * K);
    const size_t win = (size_t)B * (size_t)(T + 1);
    if (!(r.windows = rl_malloc((size_t)K * win * sizeof *r.windows, "training windows"))) goto done;

    rl_progress pr;
    char label[48];
    if (start > 0)
        snprintf(label, sizeof label, "train (from step %lld)", (long long)start);
    else
        snprintf(label, sizeof label, "train");
    if (!r.quiet) rl_progress_start(&pr, label, r.c.steps - start, "step");
    const double tokens_per_step = (double)K * B * T;
    double last_val = NAN, loss = NAN, t_loop = rl_now();
    for (int64_t step = start; step < r.c.steps; step++) {
        double t0 = rl_now();
        for (int k = 0; k < K; k++) rl_sampler_next(&sm, r.windows + (size_t)k * win);
        rl_step_stats st;
        if (rl_train_step(r.m, &r.c, step, r.windows, K, &st) != 0) {
            stopped(&r);
            goto done;
        }
        train_kill_point("step", step + 1);
        const int64_t done_steps = step + 1;
        loss = st.loss;
        log_row row = {done_steps, st.loss, st.lr, st.grad_norm, tokens_per_step / (rl_now() - t0), NAN};
        int last = done_steps == r.c.steps;
        if ((r.c.eval_every > 0 && done_steps % r.c.eval_every == 0) || last) {
            rl_eval_point ep;
            if (rl_eval_context(r.m, &r.data.val, T, r.c.eval_tokens, 0, &ep) != 0) {
                stopped(&r);
                goto done;
            }
            if (!isfinite(ep.loss)) {
                rl_fail("step %lld: the validation loss is %s", (long long)done_steps, isnan(ep.loss) ? "NaN" : "infinite");
                stopped(&r);
                goto done;
            }
            row.val_loss = last_val = ep.loss;
        }
        if (runlog_add(&r.log, &row, r.out) != 0) goto done;
        double el = rl_now() - t_loop;
        rl_train_progress p = {done_steps, r.c.steps, st, row.tokens_per_s,
                               el / (double)(done_steps - start) * (double)(r.c.steps - done_steps), row.val_loss};
        if (o->on_step) o->on_step(o->ctx, &p);
        if (!r.quiet) {
            char extra[200];
            snprintf(extra, sizeof extra, "step %lld loss %.4f lr %.2e %.0f tok/s%s", (long long)done_steps, st.loss, st.lr,
                     row.tokens_per_s, isnan(last_val) ? "" : " val");
            if (!isnan(last_val)) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %.4f", last_val);
            if (last) {
                pr.done = done_steps - start;
                rl_progress_finish(&pr, extra);
            }
            else
                rl_progress_update(&pr, done_steps - start, extra);
            if (!isnan(row.val_loss) && !last)
                say(&r, "step %lld: validation loss %.4f (ppl %.2f)\n", (long long)done_steps, row.val_loss, exp(row.val_loss));
        }
        if (!isnan(row.val_loss) && r.c.figures && runlog_figure(r.out) != 0)
            say(&r, "warning: %s (the loss figure was not refreshed)\n", rl_error());
        if ((r.c.ckpt_every > 0 && done_steps % r.c.ckpt_every == 0) || last)
            if (save(&r, done_steps) != 0) goto done;
    }
    if (start == r.c.steps) { /* a finished run: report its last logged values */
        say(&r, "%s: the run is complete at step %lld (raise --steps to continue it)\n", r.out, (long long)start);
        for (int64_t i = 0; i < r.log.n; i++) {
            loss = r.log.r[i].loss;
            if (!isnan(r.log.r[i].val_loss)) last_val = r.log.r[i].val_loss;
        }
    }
    if (res) {
        memset(res, 0, sizeof *res);
        res->start_step = start;
        res->steps_done = r.c.steps;
        res->loss = loss;
        res->val_loss = last_val;
        res->seconds = rl_now() - t_start;
        double loop = rl_now() - t_loop;
        res->tokens_per_s = loop > 0 ? (double)(r.c.steps - start) * tokens_per_step / loop : 0;
        rl_path(res->checkpoint, sizeof res->checkpoint, "%s", r.last_ckpt);
    }
    rc = 0;
done:
    run_free(&r);
    return rc;
}
