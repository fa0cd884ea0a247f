/* train/run: `ropelab train` end to end: determinism, the schedule in the log, resume after SIGKILL
 * (at every checkpoint-writer point and at random moments) bit-identical to an unbroken run,
 * NaN stop, and the errors for bad data, mismatched vocabularies and changed configs. */
#include "helpers.h"
#include "ropelab/formats.h"
#include "ropelab/train.h"
#include "ropelab/util.h"
#include "train_helpers.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Paths here are short temp folders; GCC cannot know that the fixed buffers always suffice. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* The reference run of these tests: 16 steps, validation every 4, checkpoints every 5 (+ the last). */
#define RUN16 TT_TINY " --steps 16 --eval-every 4 --ckpt-every 5 --eval-tokens 2000"

static void train_ok(const char *env, const char *fmt, const char *a, const char *b) {
    char args[8192], *out;
    snprintf(args, sizeof args, fmt, a, b);
    int rc = tt_tool(env, args, &out);
    cr_assert_eq(rc, 0, "ropelab %s: exit %d: %s", args, rc, out);
    free(out);
}

static void path(char *buf, const char *dir, const char *rel) { snprintf(buf, 4200, "%s/%s", dir, rel); }

/* Same seed and thread count -> the same log (but tokens/s) and the same weights, at 1 and 2
 * threads; another seed -> other weights. Also: the run learns (validation loss falls), and the lr
 * column follows warm-up + cosine (float64 formula; the float32 schedule is within 1e-6). */
Test(train_run, deterministic_and_scheduled) {
    char *dir = rt_tmpdir(), *data = tt_make_data(dir, "data", 300, 1);
    const char *names[] = {"a1", "b1", "a2", "b2", "s2"};
    const char *extra[] = {"", "", "--threads 2", "--threads 2", "--threads 2 --seed 5"};
    char out[5][4200], args[4400];
    for (int i = 0; i < 5; i++) {
        path(out[i], dir, names[i]);
        snprintf(args, sizeof args, "--data '%s' --out '%s' " RUN16 " --lr 3e-3 %s", data, out[i], extra[i]);
        train_ok(NULL, "train %s%s", args, "");
    }
    char la[4200], lb[4200], ma[4200], mb[4200];
    for (int p = 0; p < 2; p++) {
        path(la, out[2 * p], "log.csv");
        path(lb, out[2 * p + 1], "log.csv");
        char *x = tt_log_without_speed(la), *y = tt_log_without_speed(lb);
        cr_assert_str_eq(x, y, "logs differ between two runs with the same seed");
        free(x);
        free(y);
        path(ma, out[2 * p], "checkpoint/model.safetensors");
        path(mb, out[2 * p + 1], "checkpoint/model.safetensors");
        cr_assert(tt_same_file(ma, mb), "weights differ between two runs with the same seed");
    }
    path(mb, out[4], "checkpoint/model.safetensors");
    cr_assert(!tt_same_file(ma, mb), "another seed gave the same weights");

    /* the log: 16 rows, lr on the schedule, validation at 4, 8, 12, 16, falling */
    path(la, out[0], "log.csv");
    FILE *f = fopen(la, "r");
    char line[512];
    cr_assert(fgets(line, sizeof line, f) && strcmp(line, "step,loss,lr,grad_norm,tokens_per_s,val_loss\n") == 0, "%s", line);
    int rows = 0;
    double first_val = NAN, last_val = NAN;
    while (fgets(line, sizeof line, f)) {
        long long step;
        double loss, lr, gn, tps, val = NAN;
        int n = sscanf(line, "%lld,%lf,%lf,%lf,%lf,%lf", &step, &loss, &lr, &gn, &tps, &val);
        rows++;
        cr_assert_eq(step, rows);
        cr_assert(n == 5 || n == 6, "%s", line);
        cr_assert_eq(n == 6, step % 4 == 0, "validation at step %lld: %s", step, line);
        double s = (double)(step - 1), want = s < 2 ? 3e-3 * (s + 1) / 2 : 1e-4 + (3e-3 - 1e-4) * 0.5 * (1 + cos(M_PI * (s - 2) / 14));
        cr_assert(fabs(lr - want) <= 1e-6 * want, "step %lld: lr %.9g, schedule %.9g", step, lr, want);
        cr_assert(isfinite(loss) && gn > 0 && tps > 0);
        if (n == 6) {
            if (isnan(first_val)) first_val = val;
            last_val = val;
        }
    }
    fclose(f);
    cr_assert_eq(rows, 16);
    cr_assert(last_val < first_val - 0.1, "validation loss did not fall: %g -> %g", first_val, last_val);
    /* run folder layout: 2 newest checkpoints kept, the link on the last one, no partial folder */
    char *ls;
    snprintf(args, sizeof args, "cd '%s' && ls -A | tr '\\n' ' '", out[0]);
    rt_sh(args, &ls);
    cr_assert_str_eq(ls, "checkpoint ckpt-0000015 ckpt-0000016 log.csv train_config.json ", "%s", ls);
    free(ls);
    snprintf(args, sizeof args, "cd '%s/checkpoint' && ls -A | tr '\\n' ' '", out[0]);
    rt_sh(args, &ls);
    cr_assert(strstr(ls, "model.safetensors") && strstr(ls, "optimizer.safetensors") && strstr(ls, "tokenizer.bin") &&
                  strstr(ls, "trainer_state.json"),
              "%s", ls);
    free(ls);
    free(data);
    rt_rmtree(dir);
    free(dir);
}

/* The uninterrupted reference, then for every kill point: killed run, resumed run, same bytes. */
Test(train_run, resume_after_kill_hook_is_bit_identical) {
    char *dir = rt_tmpdir(), *data = tt_make_data(dir, "data", 300, 2);
    char ref[4200], args[8192];
    path(ref, dir, "ref");
    snprintf(args, sizeof args, "train --data '%s' --out '%s' " RUN16, data, ref);
    train_ok(NULL, "%s%s", args, "");
    static const struct {
        const char *at, *link_after_kill; /* where OUT/checkpoint points right after the kill */
        const char *left;                 /* a folder the kill leaves behind ("" for none) */
    } points[] = {
        {"step@7", "ckpt-0000005", ""},
        {"model@10", "ckpt-0000005", "ckpt-0000010.partial"},
        {"tokenizer@10", "ckpt-0000005", "ckpt-0000010.partial"},
        {"optimizer@10", "ckpt-0000005", "ckpt-0000010.partial"},
        {"state@10", "ckpt-0000005", "ckpt-0000010.partial"},
        {"rename@10", "ckpt-0000005", "ckpt-0000010"},
        {"link@10", "ckpt-0000010", ""},
        {"model@5", "", "ckpt-0000005.partial"},
        {"step@16", "ckpt-0000015", ""},
        {"state@16", "ckpt-0000015", "ckpt-0000016.partial"},
    };
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        char run[4200], env[128], p[4300], *out;
        snprintf(run, sizeof run, "%s/kill%zu", dir, i);
        snprintf(env, sizeof env, "ROPELAB_TEST_KILL_AT=%s", points[i].at);
        snprintf(args, sizeof args, "train --data '%s' --out '%s' " RUN16, data, run);
        int rc = tt_tool(env, args, &out);
        cr_assert_eq(rc, 137, "%s: expected a SIGKILL (exit 137), got %d: %s", points[i].at, rc, out);
        free(out);
        char target[256] = "";
        path(p, run, "checkpoint");
        ssize_t k = readlink(p, target, sizeof target - 1);
        target[k > 0 ? k : 0] = '\0';
        cr_assert_str_eq(target, points[i].link_after_kill, "%s: link", points[i].at);
        if (points[i].left[0]) {
            path(p, run, points[i].left);
            cr_assert(rl_file_exists(p), "%s: expected %s to be left behind", points[i].at, points[i].left);
        }
        snprintf(args, sizeof args, "train --resume '%s'", run);
        rc = tt_tool(NULL, args, &out);
        cr_assert_eq(rc, 0, "%s: resume failed (%d): %s", points[i].at, rc, out);
        free(out);
        const char *files[] = {"checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "checkpoint/trainer_state.json"};
        for (int f = 0; f < 3; f++) {
            char a[4300], b[4300];
            path(a, ref, files[f]);
            path(b, run, files[f]);
            if (f == 2) { /* the state holds tokens/s in its log: compare the rest */
                char *x = tt_slurp(a, NULL), *y = tt_slurp(b, NULL);
                cJSON *jx = cJSON_Parse(x), *jy = cJSON_Parse(y);
                cJSON_DeleteItemFromObject(jx, "log");
                cJSON_DeleteItemFromObject(jy, "log");
                cr_assert(cJSON_Compare(jx, jy, 1), "%s: trainer states differ:\n%s\n%s", points[i].at, x, y);
                cJSON_Delete(jx);
                cJSON_Delete(jy);
                free(x);
                free(y);
            } else {
                cr_assert(tt_same_file(a, b), "%s: %s differs from the uninterrupted run", points[i].at, files[f]);
            }
        }
        char la[4300], lb[4300];
        path(la, ref, "log.csv");
        path(lb, run, "log.csv");
        char *x = tt_log_without_speed(la), *y = tt_log_without_speed(lb);
        cr_assert_str_eq(x, y, "%s: log differs", points[i].at);
        free(x);
        free(y);
        snprintf(args, sizeof args, "ls -A '%s' | grep -c partial", run);
        rt_sh(args, &out);
        cr_assert_eq(atoi(out), 0, "%s: a partial folder survived the resume", points[i].at);
        free(out);
    }
    free(data);
    rt_rmtree(dir);
    free(dir);
}

/* SIGKILL at seeded random moments (coreutils `timeout -s KILL`), resuming after each, with a
 * checkpoint at every step so that many kills land inside the checkpoint writer. */
Test(train_run, resume_after_timed_kills_is_bit_identical) {
    char *dir = rt_tmpdir(), *data = tt_make_data(dir, "data", 300, 3);
    char ref[4200], run[4200], args[8192], *out;
    const char *cfg = TT_TINY " --steps 60 --eval-every 10 --ckpt-every 1 --keep-ckpts 3 --eval-tokens 1000";
    path(ref, dir, "ref");
    path(run, dir, "run");
    snprintf(args, sizeof args, "train --data '%s' --out '%s' %s", data, ref, cfg);
    train_ok(NULL, "%s%s", args, "");
    /* time the reference, to spread the kills over a whole run on this machine (and sanitizer) */
    double t0 = rl_now();
    char tmp[4200];
    path(tmp, dir, "timing");
    snprintf(args, sizeof args, "train --data '%s' --out '%s' %s", data, tmp, cfg);
    train_ok(NULL, "%s%s", args, "");
    double full = rl_now() - t0;
    rl_rng r;
    rl_rng_seed(&r, 2024);
    int kills = 0, done = 0;
    for (int attempt = 0; attempt < 20 && !done; attempt++) {
        char cfgp[4300];
        path(cfgp, run, "train_config.json");
        int fresh = !rl_file_exists(cfgp);
        double delay = full * (0.05 + 0.25 * rl_rng_uniform(&r));
        const char *bin = getenv("ROPELAB_BIN");
        if (fresh)
            snprintf(args, sizeof args, "rm -rf '%s'; ROPELAB_QUIET=1 timeout -s KILL %.3f '%s' train --data '%s' --out '%s' %s; exit $?", run,
                     delay, bin, data, run, cfg);
        else
            snprintf(args, sizeof args, "ROPELAB_QUIET=1 timeout -s KILL %.3f '%s' train --resume '%s'; exit $?", delay, bin, run);
        int rc = rt_sh(args, &out);
        cr_assert(rc == 0 || rc == 137, "attempt %d: exit %d: %s", attempt, rc, out);
        free(out);
        kills += rc == 137;
        done = rc == 0;
    }
    cr_assert(kills >= 3, "only %d kills landed: the test did not test anything", kills);
    if (!done) {
        snprintf(args, sizeof args, "train --resume '%s'", run);
        train_ok(NULL, "%s%s", args, "");
    }
    char a[4300], b[4300];
    path(a, ref, "checkpoint/model.safetensors");
    path(b, run, "checkpoint/model.safetensors");
    cr_assert(tt_same_file(a, b), "after %d kills the final weights differ from the uninterrupted run", kills);
    path(a, ref, "checkpoint/optimizer.safetensors");
    path(b, run, "checkpoint/optimizer.safetensors");
    cr_assert(tt_same_file(a, b), "after %d kills the final moments differ", kills);
    free(data);
    rt_rmtree(dir);
    free(dir);
}

/* An absurd learning rate diverges: exit 1 with "step S: the ... is NaN", the last checkpoint stays complete. */
Test(train_run, nan_stops_the_run) {
    char *dir = rt_tmpdir(), *data = tt_make_data(dir, "data", 300, 4);
    char run[4200], args[8192], *out, p[4300];
    path(run, dir, "run");
    snprintf(args, sizeof args,
             "train --data '%s' --out '%s' " TT_TINY " --steps 30 --warmup 0 --lr 1000 --min-lr 0 --clip 0 --ckpt-every 2 --eval-every 0",
             data, run);
    int rc = tt_tool(NULL, args, &out);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "step 3: the gradient norm is NaN") || strstr(out, "step 3: the loss is NaN") ||
                  strstr(out, "step 3: the loss is infinite"),
              "%s", out);
    cr_assert(strstr(out, "ckpt-0000002 is intact"), "%s", out);
    free(out);
    char target[64] = "";
    path(p, run, "checkpoint");
    ssize_t k = readlink(p, target, sizeof target - 1);
    target[k > 0 ? k : 0] = '\0';
    cr_assert_str_eq(target, "ckpt-0000002");
    path(p, run, "checkpoint/trainer_state.json");
    char *st = tt_slurp(p, NULL);
    cJSON *j = cJSON_Parse(st);
    cr_assert_eq(cJSON_GetObjectItem(j, "step")->valuedouble, 2);
    cJSON_Delete(j);
    free(st);
    /* the checkpoint is whole: it evaluates to a finite loss */
    snprintf(args, sizeof args, "eval '%s' --data '%s' --context 16 --max-tokens 500 --json", run, data);
    rc = tt_tool(NULL, args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cJSON *ev = cJSON_Parse(out);
    const cJSON *loss = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "results"), 0), "loss");
    cr_assert(cJSON_IsNumber(loss) && isfinite(loss->valuedouble), "%s", out);
    cJSON_Delete(ev);
    free(out);
    free(data);
    rt_rmtree(dir);
    free(dir);
}

static void expect_fail(const char *args, int code, const char *want1, const char *want2) {
    char *out;
    int rc = tt_tool(NULL, args, &out);
    cr_assert_eq(rc, code, "%s: exit %d, expected %d: %s", args, rc, code, out);
    cr_assert(strstr(out, want1), "%s: \"%s\" lacks \"%s\"", args, out, want1);
    cr_assert(!want2 || strstr(out, want2), "%s: \"%s\" lacks \"%s\"", args, out, want2);
    cr_assert(!strstr(out, "Sanitizer") && !strstr(out, "runtime error"), "%s", out);
    free(out);
}

/* Bad or truncated shards, foreign tokenizers and vocabularies, and run-folder misuse: each a clear
 * message naming the file or key, exit 1. */
Test(train_run, bad_data_and_mismatches) {
    char *dir = rt_tmpdir(), *data = tt_make_data(dir, "data", 300, 5), *other = tt_make_data(dir, "other", 280, 6),
         *same_v = tt_make_data(dir, "samev", 300, 7);
    char args[8192], bad[4200], p[4300], run[4200];
    path(bad, dir, "bad");
    path(run, dir, "run");
    const char *quick = TT_TINY " --steps 4 --ckpt-every 0 --eval-every 0 --eval-tokens 500";
    /* a truncated training shard */
    snprintf(args, sizeof args, "rm -rf '%s' && cp -r '%s' '%s' && truncate -s -3 '%s/train.bin'", bad, data, bad, bad);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args, "train --data '%s' --out '%s/r1' %s", bad, dir, quick);
    expect_fail(args, 1, "train.bin", "token_count");
    /* a corrupt magic in the validation shard */
    snprintf(args, sizeof args, "rm -rf '%s' && cp -r '%s' '%s' && printf 'XXXX' | dd of='%s/val.bin' conv=notrunc 2>/dev/null", bad,
             data, bad, bad);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args, "train --data '%s' --out '%s/r2' %s", bad, dir, quick);
    expect_fail(args, 1, "val.bin", "magic");
    /* a token id beyond the vocabulary (bytes 0xffff at the first token) */
    snprintf(args, sizeof args, "rm -rf '%s' && cp -r '%s' '%s' && printf '\\377\\377' | dd of='%s/train.bin' bs=1 seek=1030 conv=notrunc 2>/dev/null",
             bad, data, bad, bad);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args, "train --data '%s' --out '%s/r3' %s", bad, dir, quick);
    expect_fail(args, 1, "train.bin", "not below vocab_size 300");
    /* another dataset's tokenizer (280 tokens) beside 300-token shards */
    snprintf(args, sizeof args, "rm -rf '%s' && cp -r '%s' '%s' && cp '%s/tokenizer.bin' '%s/'", bad, data, bad, other, bad);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args, "train --data '%s' --out '%s/r4' %s", bad, dir, quick);
    expect_fail(args, 1, "do not belong together", NULL);
    /* a config vocabulary that is not the data's */
    snprintf(args, sizeof args, "train --data '%s' --out '%s/r5' %s --vocab-size 512", data, dir, quick);
    expect_fail(args, 1, "key vocab_size: 512", "has 300 tokens");
    /* a context the validation split cannot fill */
    snprintf(args, sizeof args, "train --data '%s' --out '%s/r6' %s --context 8192", data, dir, quick);
    expect_fail(args, 1, "too few", "max_seq 8192");
    /* a missing data folder; no data at all */
    snprintf(args, sizeof args, "train --data '%s/nowhere' --out '%s/r7' %s", dir, dir, quick);
    expect_fail(args, 1, "key data", "nowhere");
    snprintf(args, sizeof args, "train --out '%s/r8' %s", dir, quick);
    expect_fail(args, 1, "key data", "required");

    /* run-folder misuse */
    snprintf(args, sizeof args, "train --data '%s' --out '%s' %s", data, run, quick);
    train_ok(NULL, "%s%s", args, "");
    expect_fail(args, 1, "already holds a training run", "--resume");
    snprintf(args, sizeof args, "train --resume '%s' --lr 0.5", run);
    expect_fail(args, 1, "key lr", "started with 0.001");
    snprintf(args, sizeof args, "train --resume '%s' --data '%s'", run, same_v);
    expect_fail(args, 1, "dataset differs", NULL);
    snprintf(args, sizeof args, "train --resume '%s'", dir);
    expect_fail(args, 1, "not a training run folder", NULL);
    snprintf(args, sizeof args, "train --resume '%s' --config x.json", run);
    expect_fail(args, 2, "--resume", NULL);
    /* resumable keys may change: more steps continue the run */
    snprintf(args, sizeof args, "train --resume '%s' --steps 6 --ckpt-every 3 --threads 1", run);
    train_ok(NULL, "%s%s", args, "");
    path(p, run, "checkpoint/trainer_state.json");
    char *st = tt_slurp(p, NULL);
    cr_assert(strstr(st, "\"step\":\t6"), "%s", st);
    free(st);
    /* eval: the checkpoint's tokenizer is not the data's */
    snprintf(args, sizeof args, "eval '%s' --data '%s' --context 16", run, same_v);
    expect_fail(args, 1, "tokenizer mismatch", NULL);
    snprintf(args, sizeof args, "eval '%s' --data '%s' --context 16", run, other);
    expect_fail(args, 1, "tokenizer mismatch", NULL);
    free(data);
    free(other);
    free(same_v);
    rt_rmtree(dir);
    free(dir);
}

/* A checkpoint folder is a Hugging Face folder: Gemma's tensor names and [out, in] shapes, float32,
 * __metadata__ with format "pt", the full ropelab config and the encoding, config.json with
 * Gemma's keys; rl_load_model reads it (through the run folder's link) value for value. */
Test(train_run, checkpoint_is_a_hugging_face_folder) {
    char *dir = rt_tmpdir(), *data = tt_make_data(dir, "data", 300, 8);
    char run[4200], args[8192], p[4300];
    path(run, dir, "run");
    snprintf(args, sizeof args, "train --data '%s' --out '%s' " TT_TINY " --steps 2 --eval-every 0 --eval-tokens 500 --pe 'prope:p=0.5,theta=10000'",
             data, run);
    train_ok(NULL, "%s%s", args, "");
    path(p, run, "checkpoint/model.safetensors");
    rl_tensors ts;
    cr_assert_eq(rl_tensors_open(&ts, p), 0, "%s", rl_error());
    static const struct {
        const char *name;
        int64_t d0, d1;
    } want[] = {
        {"model.embed_tokens.weight", 300, 32},
        {"model.layers.0.input_layernorm.weight", 32, 0},
        {"model.layers.0.self_attn.q_proj.weight", 32, 32},
        {"model.layers.0.self_attn.k_proj.weight", 16, 32},
        {"model.layers.0.self_attn.v_proj.weight", 16, 32},
        {"model.layers.0.self_attn.o_proj.weight", 32, 32},
        {"model.layers.1.post_attention_layernorm.weight", 32, 0},
        {"model.layers.1.mlp.gate_proj.weight", 64, 32},
        {"model.layers.1.mlp.up_proj.weight", 64, 32},
        {"model.layers.1.mlp.down_proj.weight", 32, 64},
        {"model.norm.weight", 32, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const rl_tensor *t = rl_tensors_find(&ts, want[i].name);
        cr_assert_not_null(t, "%s missing", want[i].name);
        cr_assert_eq(t->dtype, RL_DT_F32);
        cr_assert_eq(t->ndim, want[i].d1 ? 2 : 1, "%s", want[i].name);
        cr_assert_eq(t->shape[0], want[i].d0, "%s", want[i].name);
        if (want[i].d1) cr_assert_eq(t->shape[1], want[i].d1, "%s", want[i].name);
    }
    cr_assert_null(rl_tensors_find(&ts, "lm_head.weight"), "tied head: no lm_head tensor, as Gemma");
    cr_assert_eq(ts.n, 1 + 2 * 9 + 1, "tensor count");
    /* rl_load_model on the RUN folder follows its link and gives exactly these float32 values */
    rl_loaded ld;
    cr_assert_eq(rl_load_model(run, NULL, &ld), 0, "%s", rl_error());
    cr_assert_eq(ld.model->cfg.vocab_size, 300);
    cr_assert_eq(ld.model->cfg.pe[0].kind, RL_PE_PROPE);
    cr_assert_eq(ld.model->cfg.pe[0].p, 0.5);
    cr_assert_not_null(ld.tok, "the checkpoint's tokenizer.bin is found");
    cr_assert_eq(rl_tok_vocab_size(ld.tok), 300);
    for (int i = 0; i < ld.model->n_tensors; i++) {
        const rl_param_info *e = &ld.model->table[i];
        const rl_tensor *t = rl_tensors_find(&ts, e->name);
        cr_assert_not_null(t, "%s", e->name);
        cr_assert(memcmp(t->data, *e->slot, e->numel * sizeof(float)) == 0, "%s: loaded values differ", e->name);
    }
    rl_loaded_free(&ld);
    const char *s;
    cr_assert_eq(rl_tensors_meta_str(&ts, "format", &s), 0);
    cr_assert_str_eq(s, "pt");
    cr_assert_eq(rl_tensors_meta_str(&ts, "ropelab_pe", &s), 0);
    cr_assert_str_eq(s, "prope:p=0.5,theta=10000");
    cr_assert_eq(rl_tensors_meta_str(&ts, "ropelab_config", &s), 0, "%s", rl_error());
    rl_model_config c;
    rl_model_config_default(&c);
    cr_assert_eq(rl_model_config_from_json(&c, s, "meta"), 0, "%s", rl_error());
    cr_assert_eq(c.vocab_size, 300);
    cr_assert_eq(c.d_model, 32);
    cr_assert_eq(c.pe[1].kind, RL_PE_PROPE);
    cr_assert_eq(rl_tensors_meta_str(&ts, "ropelab_train_config", &s), 0);
    cr_assert(strstr(s, "\"steps\"") && strstr(s, "\"grad_accum\""), "%s", s);
    rl_tensors_free(&ts);
    /* config.json: Hugging Face's Gemma keys */
    path(p, run, "checkpoint/config.json");
    char *cj = tt_slurp(p, NULL);
    cJSON *hf = cJSON_Parse(cj);
    cr_assert_not_null(hf, "%s", cj);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(hf, "architectures"), 0)->valuestring, "GemmaForCausalLM");
    cr_assert_str_eq(cJSON_GetObjectItem(hf, "model_type")->valuestring, "gemma");
    static const struct {
        const char *key;
        double v;
    } keys[] = {{"vocab_size", 300}, {"hidden_size", 32}, {"intermediate_size", 64}, {"num_hidden_layers", 2},
                {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"head_dim", 16}, {"rope_theta", 10000},
                {"max_position_embeddings", 16}, {"rms_norm_eps", 1e-6}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItem(hf, keys[i].key);
        cr_assert(cJSON_IsNumber(v) && v->valuedouble == keys[i].v, "config.json %s: %s", keys[i].key, cj);
    }
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(hf, "tie_word_embeddings")));
    cr_assert_str_eq(cJSON_GetObjectItem(hf, "torch_dtype")->valuestring, "float32");
    const cJSON *rs = cJSON_GetObjectItem(hf, "rope_scaling");
    cr_assert_str_eq(cJSON_GetObjectItem(rs, "rope_type")->valuestring, "proportional", "p-RoPE as HF's proportional type");
    cr_assert_eq(cJSON_GetObjectItem(rs, "partial_rotary_factor")->valuedouble, 0.5);
    cJSON_Delete(hf);
    free(cj);
    /* the optimizer file: both moments of every tensor, same shapes */
    path(p, run, "checkpoint/optimizer.safetensors");
    cr_assert_eq(rl_tensors_open(&ts, p), 0, "%s", rl_error());
    cr_assert_eq(ts.n, 2 * 20);
    const rl_tensor *t = rl_tensors_find(&ts, "exp_avg_sq.model.layers.1.mlp.down_proj.weight");
    cr_assert(t && t->shape[0] == 32 && t->shape[1] == 64);
    rl_tensors_free(&ts);
    free(data);
    rt_rmtree(dir);
    free(dir);
}
