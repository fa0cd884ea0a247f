/* reproduce plan executor: folders named by config hash, done markers, skipping finished stages,
 * parallel workers equal to one worker, SIGKILL at every kind of point then a restart giving the
 * same outputs, failures named, edited folders refused. Uses fake stages (no training). */
#include "helpers.h"
#include "ropelab/util.h"

#include "../src/reproduce/plan.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fake stage: 6 ticks of "work", each appended to DIR/partial.txt (so an interrupted stage resumes
 * where it stopped, as the trainer does from its checkpoints); the result DIR/out.txt is a number
 * derived from its config and its dependencies' results. */
typedef struct {
    int runs;       /* stages run in this process */
    int fail_label; /* tag[0] of a stage that must fail, or -1 */
} fake_ctx;

static long long read_num(const char *path) {
    char *t;
    if (rl_read_file(path, &t, NULL) != 0) return -1;
    long long v = atoll(t);
    free(t);
    return v;
}

static int fake_run(plan *p, plan_stage *s, const char *dir, void *user) {
    fake_ctx *c = user;
    c->runs++;
    if (s->tag[0] == c->fail_label) return rl_fail("fake failure of %s", s->label);
    char path[4300];
    snprintf(path, sizeof path, "%s/partial.txt", dir);
    long long have = rl_file_exists(path) ? read_num(path) : 0;
    for (long long k = have; k < 6; k++) {
        char num[32];
        snprintf(num, sizeof num, "%lld", k + 1);
        if (rl_write_atomic(path, num, strlen(num)) != 0) return -1;
        plan_tick(p, s, (k + 1) / 6.0, "working");
    }
    unsigned long long v = rl_hash64(s->config, strlen(s->config), 0) % 1000003;
    for (int d = 0; d < s->n_deps; d++) {
        char dd[4200];
        plan_dir(p, s->deps[d], dd, sizeof dd);
        snprintf(path, sizeof path, "%s/out.txt", dd);
        long long x = read_num(path);
        if (x < 0) return rl_fail("dependency output %s missing", path);
        v = v * 31 + (unsigned long long)x;
    }
    char num[32];
    snprintf(num, sizeof num, "%llu", v % 1000000007ULL);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    return rl_write_atomic(path, num, strlen(num));
}

/* Two chains (data -> train -> eval) x 3 plus a final stage depending on three evals: 11 stages. */
static void build(plan *p, const char *out, fake_ctx *c) {
    plan_init(p, out);
    p->progress = 0;
    int data = plan_add(p, "data", "data", rl_strdup("{\"corpus\": 1}"), 1, fake_run, c);
    p->st[data].tag[0] = data;
    int evals[3];
    for (int v = 0; v < 3; v++) {
        char cfg[128], label[64];
        snprintf(cfg, sizeof cfg, "{\"variant\": %d, \"steps\": 10}", v);
        snprintf(label, sizeof label, "train v%d", v);
        int t = plan_add(p, "runs", label, rl_strdup(cfg), 10, fake_run, c);
        p->st[t].tag[0] = t;
        plan_dep(p, t, data);
        snprintf(cfg, sizeof cfg, "{\"eval_of\": %d}", v);
        snprintf(label, sizeof label, "eval v%d", v);
        int e = plan_add(p, "evals", label, rl_strdup(cfg), 2, fake_run, c);
        p->st[e].tag[0] = e;
        plan_dep(p, e, t);
        snprintf(cfg, sizeof cfg, "{\"analysis_of\": %d}", v);
        snprintf(label, sizeof label, "analyze v%d", v);
        int a = plan_add(p, "analyses", label, rl_strdup(cfg), 2, fake_run, c);
        p->st[a].tag[0] = a;
        plan_dep(p, a, t);
        evals[v] = e;
    }
    int fin = plan_add(p, "report", "report", rl_strdup("{\"report\": true}"), 1, fake_run, c);
    p->st[fin].tag[0] = fin;
    for (int v = 0; v < 3; v++) plan_dep(p, fin, evals[v]);
}

/* out.txt of every stage, concatenated */
static char *outputs(const char *out) {
    plan p;
    fake_ctx c = {0, -1};
    build(&p, out, &c);
    size_t cap = 4096, n = 0;
    char *all = calloc(cap, 1);
    for (int i = 0; i < p.n; i++) {
        char dir[4200], path[4300];
        plan_dir(&p, i, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/out.txt", dir);
        n += (size_t)snprintf(all + n, cap - n, "%s=%lld\n", p.st[i].rel, read_num(path));
    }
    plan_free(&p);
    return all;
}

static int run_plan(const char *out, int jobs, int *runs) {
    plan p;
    fake_ctx c = {0, -1};
    build(&p, out, &c);
    int rc = plan_scan(&p);
    if (rc == 0) rc = plan_execute(&p, jobs, 1);
    if (runs) *runs = c.runs;
    plan_free(&p);
    return rc;
}

Test(repro_plan, folders_markers_and_skip) {
    char *dir = rt_tmpdir();
    int runs;
    cr_assert_eq(run_plan(dir, 1, &runs), 0, "%s", rl_error());
    cr_assert_eq(runs, 11);
    /* the folder is the hash of the config; config.json holds it and the marker repeats it */
    char path[4300], *txt;
    uint64_t h = rl_hash64("{\"corpus\": 1}", strlen("{\"corpus\": 1}"), 0);
    snprintf(path, sizeof path, "%s/data/%016llx/config.json", dir, (unsigned long long)h);
    cr_assert_eq(rl_read_file(path, &txt, NULL), 0, "%s", rl_error());
    cr_assert_str_eq(txt, "{\"corpus\": 1}");
    free(txt);
    snprintf(path, sizeof path, "%s/data/%016llx/stage.json", dir, (unsigned long long)h);
    cr_assert(rl_file_exists(path));
    /* a second run does nothing */
    cr_assert_eq(run_plan(dir, 1, &runs), 0, "%s", rl_error());
    cr_assert_eq(runs, 0);
    rt_rmtree(dir);
    free(dir);
}

Test(repro_plan, two_workers_same_outputs) {
    char *a = rt_tmpdir(), *b = rt_tmpdir();
    cr_assert_eq(run_plan(a, 1, NULL), 0, "%s", rl_error());
    cr_assert_eq(run_plan(b, 2, NULL), 0, "%s", rl_error());
    char *oa = outputs(a), *ob = outputs(b);
    cr_assert_str_eq(oa, ob);
    cr_assert(!strstr(oa, "=-1"), "missing outputs:\n%s", oa);
    free(oa);
    free(ob);
    rt_rmtree(a);
    rt_rmtree(b);
    free(a);
    free(b);
}

/* SIGKILL at a point (in a child process), then restart: the outputs equal an uninterrupted run. */
static void kill_and_resume(const char *point, const char *ref, int jobs, int expect_rerun) {
    char *dir = rt_tmpdir();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setenv("ROPELAB_REPRO_KILL", point, 1);
        run_plan(dir, jobs, NULL);
        _exit(0); /* not reached when the hook fires */
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: the hook did not kill the run", point);
    int runs;
    cr_assert_eq(run_plan(dir, jobs, &runs), 0, "%s: %s", point, rl_error());
    if (expect_rerun >= 0) cr_assert_eq(runs, expect_rerun, "%s: %d stages run after the restart", point, runs);
    char *o = outputs(dir);
    cr_assert_str_eq(o, ref, "%s", point);
    free(o);
    rt_rmtree(dir);
    free(dir);
}

Test(repro_plan, kill_anywhere_then_resume) {
    char *refdir = rt_tmpdir();
    cr_assert_eq(run_plan(refdir, 1, NULL), 0);
    char *ref = outputs(refdir);
    /* stage 1 is "train v0": killed at start / mid-work / before the marker -> it runs again (and the
     * stages after it); after the marker -> it does not */
    kill_and_resume("1:start", ref, 1, 10);
    kill_and_resume("1:tick=3", ref, 1, 10);
    kill_and_resume("1:end", ref, 1, 10);
    kill_and_resume("1:done", ref, 1, 9);
    kill_and_resume("10:tick=6", ref, 1, 1);
    kill_and_resume("0:start", ref, 1, 11);
    /* with two workers the number of stages in flight varies, the outputs do not */
    kill_and_resume("5:tick=2", ref, 2, -1);
    free(ref);
    rt_rmtree(refdir);
    free(refdir);
}

Test(repro_plan, failure_names_the_stage_and_stops_dependents) {
    char *dir = rt_tmpdir();
    for (int jobs = 1; jobs <= 2; jobs++) {
        plan p;
        fake_ctx c = {0, 4}; /* stage 4 = "train v1" */
        build(&p, dir, &c);
        cr_assert_eq(plan_scan(&p), 0);
        cr_assert_eq(plan_execute(&p, jobs, 1), -1);
        cr_assert(strstr(rl_error(), "stage 'train v1'") && strstr(rl_error(), "fake failure"), "%s", rl_error());
        cr_assert_neq(p.st[5].state, 2, "its eval must not run");
        cr_assert_neq(p.st[10].state, 2, "the report must not run");
        plan_free(&p);
    }
    int runs;
    cr_assert_eq(run_plan(dir, 1, &runs), 0, "%s", rl_error());
    char *o = outputs(dir);
    cr_assert(!strstr(o, "=-1"), "%s", o);
    free(o);
    rt_rmtree(dir);
    free(dir);
}

Test(repro_plan, edited_folder_is_refused) {
    char *dir = rt_tmpdir();
    cr_assert_eq(run_plan(dir, 1, NULL), 0);
    char path[4300];
    uint64_t h = rl_hash64("{\"corpus\": 1}", strlen("{\"corpus\": 1}"), 0);
    snprintf(path, sizeof path, "%s/data/%016llx/config.json", dir, (unsigned long long)h);
    cr_assert_eq(rl_write_atomic(path, "{\"corpus\": 2}", 13), 0);
    cr_assert_eq(run_plan(dir, 1, NULL), -1);
    cr_assert(strstr(rl_error(), path) && strstr(rl_error(), "stage 'data'"), "%s", rl_error());
    rt_rmtree(dir);
    free(dir);
}
