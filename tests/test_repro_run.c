/* `ropelab reproduce --scale micro` through the real stages (data preparation, theory, training,
 * evaluation, the analyser, a pretrained model when ../shared/models is present): the report and
 * summary.json exist, every number is re-read from its run folder, the HTML parses with every image
 * embedded; and SIGKILL at points inside the data, theory, train, eval and analysis stages, each
 * followed by a restart (one thread), ends in a summary.json byte-identical to an uninterrupted run's
 * (two threads); bad --model inputs are named. */
#include "helpers.h"
#include "repro_check.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static cJSON *read_json(const char *out, const char *rel) {
    char path[4400], *txt;
    snprintf(path, sizeof path, "%s/%s", out, rel);
    cr_assert_eq(rl_read_file(path, &txt, NULL), 0, "%s missing", path);
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    cr_assert(j, "%s is not JSON", path);
    return j;
}

/* The last validation loss the trainer logged in RUN/log.csv (column val_loss). */
static double last_val_loss(const char *run) {
    char path[4500], *txt;
    snprintf(path, sizeof path, "%s/log.csv", run);
    cr_assert_eq(rl_read_file(path, &txt, NULL), 0, "%s missing", path);
    int col = -1, i = 0;
    char *save = NULL, *line = strtok_r(txt, "\n", &save);
    for (char *s2 = NULL, *f = strtok_r(line, ",", &s2); f; f = strtok_r(NULL, ",", &s2), i++)
        if (strcmp(f, "val_loss") == 0) col = i;
    cr_assert(col >= 0, "%s: no val_loss column", path);
    double v = NAN;
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *p = line;
        for (int k = 0; k < col && p; k++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (p && *p && *p != ',' && strncmp(p, "nan", 3) != 0) v = atof(p);
    }
    free(txt);
    return v;
}

Test(repro_run, micro_end_to_end, .timeout = 240) {
    char *corpus = rt_repro_corpus(), *out = rt_tmpdir(), args[9000], *tool_out = NULL;
    const char *models = rt_models_dir();
    char model_args[4400] = "";
    if (models)
        snprintf(model_args, sizeof model_args, "--model '%s/stories260K.bin' --tokenizer '%s/tok512.bin'", models,
                 models);
    snprintf(args, sizeof args, "reproduce --scale micro --out '%s' --data '%s' %s --quiet", out, corpus, model_args);
    int rc = rt_run_tool(args, &tool_out);
    cr_assert_eq(rc, 0, "reproduce failed:\n%s", tool_out);
    cr_assert(strstr(tool_out, "24 stages") || !models, "%s", tool_out);
    free(tool_out);

    rt_repro_counts n;
    rt_repro_check(out, &n);
    /* 7 variants x 1 seed x 3 contexts x 2 softmax perplexities, their aggregates, and the analyses */
    cr_assert(n.sourced >= 7 * 3 * 2, "only %d sourced numbers", n.sourced);
    cr_assert(n.aggregates >= 7 * 3 * 2, "only %d aggregates", n.aggregates);
    /* theory figures (>= 5), one usage heatmap per variant (7), ppl/adaptive/profile figures, pretrained */
    cr_assert(n.images >= 5 + 7 + 3 + (models ? 1 : 0), "only %d images", n.images);
    cr_assert(n.cells > 0 && n.agg_cells >= 7 * 3, "%d cells, %d aggregate cells", n.cells, n.agg_cells);

    cJSON *s = read_json(out, "report/summary.json");
    /* Every trained model beats the uniform distribution over the 320-token vocabulary at its training
     * context (an untrained or broken model sits at ppl 320 or above), and the eval stage's 1x plain
     * perplexity is the one the trainer logged after its last step: the same protocol on the same
     * first eval_tokens of the validation split, from the in-memory model there and the reloaded
     * checkpoint here. Relative tolerance 1e-5: float32 sums of ~512 losses in possibly different
     * orders (the two code paths share the kernels, so they agree far closer in practice). */
    int checked = 0;
    double sum_loss = 0;
    for (const cJSON *p = cJSON_GetObjectItem(s, "perplexity")->child; p; p = p->next) {
        if (cJSON_GetObjectItem(p, "mult")->valueint != 1 || strcmp(cJSON_GetObjectItem(p, "softmax")->valuestring, "plain"))
            continue;
        const cJSON *seed0 = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "seeds"), 0);
        double ppl = cJSON_GetObjectItem(seed0, "value")->valuedouble;
        const char *src = cJSON_GetObjectItem(seed0, "source")->valuestring;
        cr_assert(isfinite(ppl) && ppl > 1 && ppl < 320, "%s: ppl %g at 1x", src, ppl);
        /* the eval stage's config names its run: runs/<hash>/run */
        char rel[256];
        snprintf(rel, sizeof rel, "%.*s/config.json", (int)(strrchr(src, '/') - src), src);
        cJSON *cfg = read_json(out, rel);
        char run[4300];
        snprintf(run, sizeof run, "%s/runs/%s/run", out, cJSON_GetObjectItem(cfg, "run")->valuestring);
        cJSON_Delete(cfg);
        double vl = last_val_loss(run);
        cr_assert(fabs(log(ppl) - vl) <= 1e-5 * fabs(vl), "%s: eval loss %.9g, trainer's last val_loss %.9g", src,
                  log(ppl), vl);
        sum_loss += log(ppl);
        checked++;
    }
    cr_assert_eq(checked, 7, "perplexity rows at 1x, plain: %d", checked);
    /* and on average they learned more than token frequencies: below the data stage's unigram loss
     * (by ~0.2 nats at the micro budget; a single variant can come close to it) */
    double unigram = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "data"), "unigram_val_loss"),
                                         "value")->valuedouble;
    cr_assert(sum_loss / 7 < unigram, "mean loss %g of the 7 variants is not below the unigram loss %g", sum_loss / 7,
              unigram);
    if (models) {
        const cJSON *pre = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "pretrained"), 0);
        cr_assert(pre, "no pretrained analysis in summary.json");
        /* stories260K on held-out text of another domain: a finite loss below uniform over 512 tokens */
        double loss = cJSON_GetObjectItem(cJSON_GetObjectItem(pre, "loss"), "value")->valuedouble;
        cr_assert(isfinite(loss) && loss > 0 && loss < log(512), "pretrained loss %g", loss);
    }
    cJSON_Delete(s);
    rt_rmtree(out);
    rt_rmtree(corpus);
    free(out);
    free(corpus);
}

/* ---- kill and restart ------------------------------------------------------------------------ */

/* Runs the tool (micro, 3 variants, --threads `threads`) in a child process (no shell, so nothing
 * reports the kill on the terminal), its output in OUT.log; with `kill`, ROPELAB_REPRO_KILL=kill and
 * the child must die by SIGKILL. */
static void run_reproduce(const char *out, const char *corpus, const char *threads, const char *kill) {
    char logp[4400];
    snprintf(logp, sizeof logp, "%s.log", out);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (kill) setenv("ROPELAB_REPRO_KILL", kill, 1);
        const char *bin = getenv("ROPELAB_BIN");
        execl(bin, bin, "reproduce", "--scale", "micro", "--variants", "nope,rope,p0.75", "--threads", threads, "--out", out,
              "--data", corpus, "--quiet", (char *)NULL);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char *text = NULL;
    if (rl_read_file(logp, &text, NULL) != 0) text = NULL;
    if (kill)
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                  "ROPELAB_REPRO_KILL=%s: the run was not killed there (status %d):\n%s", kill, st, text ? text : "");
    else
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reproduce failed (status %d):\n%s", st, text ? text : "");
    free(text);
    remove(logp);
}

/* The plan index of the stage labelled `label` (summary.json lists the stages in plan order). */
static int stage_index(const cJSON *summary, const char *label) {
    int i = 0;
    for (const cJSON *s = cJSON_GetObjectItem(summary, "stages")->child; s; s = s->next, i++)
        if (strcmp(cJSON_GetObjectItem(s, "stage")->valuestring, label) == 0) return i;
    cr_assert_fail("no stage '%s' in the plan", label);
    return -1;
}

static const char *stage_folder(const cJSON *summary, int i) {
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(summary, "stages"), i), "folder")->valuestring;
}

Test(repro_run, killed_and_restarted_equals_uninterrupted, .timeout = 240) {
    char *corpus = rt_repro_corpus(), *a = rt_tmpdir(), *b = rt_tmpdir();
    /* the reference: two stages at a time (each single-threaded, the default), so the comparison also
     * checks that --threads does not change a number */
    run_reproduce(a, corpus, "2", NULL);
    char *want = rt_repro_summary(a);
    cJSON *sum = cJSON_Parse(want);
    /* kill points in plan order (one thread runs the stages in that order), each followed by a restart
     * that continues from what the killed run left */
    struct {
        const char *stage, *point;
    } kills[] = {
        {"data preparation", "end"},        /* dataset written, marker not: prepared again */
        {"theory experiments", "tick=1"},   /* before its work */
        {"train rope seed 0", "tick=60"},   /* after step 60 of 200: checkpoint 50 written, 100 not yet */
        {"eval rope seed 0", "end"},        /* eval.json written, marker not */
        {"analyze rope seed 0", "start"},   /* folder and config written */
        {"train p0.75 seed 0", "done"},     /* marker written, nothing after it */
    };
    for (size_t k = 0; k < RL_ARRAY_LEN(kills); k++) {
        int i = stage_index(sum, kills[k].stage);
        char kill[64];
        snprintf(kill, sizeof kill, "%d:%s", i, kills[k].point);
        run_reproduce(b, corpus, "1", kill);
        if (strcmp(kills[k].stage, "train rope seed 0") == 0) {
            /* the interrupted run left its step-50 checkpoint, which the restart continues from */
            char link[4400];
            snprintf(link, sizeof link, "%s/%s/run/checkpoint/trainer_state.json", b, stage_folder(sum, i));
            cr_assert(rl_file_exists(link), "no checkpoint to resume from: %s", link);
            snprintf(link, sizeof link, "%s/%s/run/ckpt-0000050", b, stage_folder(sum, i));
            cr_assert(rl_file_exists(link), "the step-50 checkpoint is missing: %s", link);
        }
    }
    run_reproduce(b, corpus, "1", NULL);
    char *got = rt_repro_summary(b);
    cr_assert_str_eq(got, want, "summary.json after kills and restarts differs from the uninterrupted run's");
    rt_repro_counts n;
    rt_repro_check(b, &n);
    cJSON_Delete(sum);
    free(want);
    free(got);
    rt_rmtree(a);
    rt_rmtree(b);
    rt_rmtree(corpus);
    free(a);
    free(b);
    free(corpus);
}

/* ---- bad inputs -------------------------------------------------------------------------------- */

/* A missing --model fails while planning (before any work); a truncated one fails in its stage, which
 * runs right after the data, naming the stage, its folder and the file; both exit 1. */
Test(repro_run, bad_model_named, .timeout = 120) {
    RT_REQUIRE_MODELS();
    char *corpus = rt_repro_corpus(), *out = rt_tmpdir(), args[9000], *text = NULL, trunc[4400];
    snprintf(args, sizeof args, "reproduce --scale micro --out '%s' --data '%s' --model '%s/missing.bin' --quiet", out,
             corpus, out);
    cr_assert_eq(rt_run_tool(args, &text), 1, "%s", text);
    cr_assert(strstr(text, "--model") && strstr(text, "missing.bin: no such file"), "%s", text);
    free(text);
    snprintf(trunc, sizeof trunc, "%s/trunc.bin", corpus);
    snprintf(args, sizeof args, "head -c 100000 '%s/stories260K.bin' > '%s'", rt_models_dir(), trunc);
    cr_assert_eq(rt_sh(args, NULL), 0);
    snprintf(args, sizeof args,
             "reproduce --scale micro --threads 1 --out '%s' --data '%s' --model '%s' --tokenizer '%s/tok512.bin' --quiet",
             out, corpus, trunc, rt_models_dir());
    cr_assert_eq(rt_run_tool(args, &text), 1, "%s", text);
    cr_assert(strstr(text, "stage 'analyze trunc.bin'") && strstr(text, "pretrained/") &&
                  strstr(text, "trunc.bin: file is 100000 bytes"),
              "%s", text);
    /* it stopped there: no training ran */
    snprintf(args, sizeof args, "ls '%s/runs' 2>/dev/null | wc -l", out);
    free(text);
    rt_sh(args, &text);
    cr_assert_eq(atoi(text), 0, "training stages ran after the failure: %s", text);
    free(text);
    rt_rmtree(out);
    rt_rmtree(corpus);
    free(out);
    free(corpus);
}
