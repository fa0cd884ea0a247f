/* The plan executor: stage folders named by config hash, done markers, resume, parallel workers,
 * one progress bar for the whole plan, and the kill hook of the restart tests. */
#include "plan.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void plan_init(plan *p, const char *out_dir) {
    memset(p, 0, sizeof *p);
    snprintf(p->out_dir, sizeof p->out_dir, "%s", out_dir);
    p->progress = 1;
}

void plan_free(plan *p) {
    for (int i = 0; i < p->n; i++) free(p->st[i].config);
    free(p->st);
    p->st = NULL;
    p->n = p->cap = 0;
}

int plan_add(plan *p, const char *kind, const char *label, char *config, double weight, plan_run_fn run, void *user) {
    if (!config) return rl_fail("out of memory building the plan");
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        plan_stage *st = realloc(p->st, (size_t)cap * sizeof *st);
        if (!st) {
            free(config);
            return rl_fail("out of memory building the plan");
        }
        p->st = st;
        p->cap = cap;
    }
    plan_stage *s = &p->st[p->n];
    memset(s, 0, sizeof *s);
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    snprintf(s->label, sizeof s->label, "%s", label);
    s->config = config;
    snprintf(s->hash, sizeof s->hash, "%016llx", (unsigned long long)rl_hash64(config, strlen(config), 0));
    snprintf(s->rel, sizeof s->rel, "%s/%s", kind, s->hash);
    s->weight = weight > 0 ? weight : 1e-9;
    s->run = run;
    s->user = user;
    for (int k = 0; k < 4; k++) s->tag[k] = -1;
    return p->n++;
}

int plan_dep(plan *p, int stage, int on) {
    plan_stage *s = &p->st[stage];
    if (on < 0 || on >= stage) return rl_fail("plan: stage %d depends on %d, which is not earlier", stage, on);
    if (s->n_deps == PLAN_MAX_DEPS) return rl_fail("plan: stage %s has too many dependencies", s->label);
    s->deps[s->n_deps++] = on;
    return 0;
}

int plan_dir(const plan *p, int i, char *buf, size_t n) {
    return rl_path(buf, n, "%s/%s", p->out_dir, p->st[i].rel);
}

/* Parses a JSON file; NULL (message set) when unreadable or not JSON. */
static cJSON *read_json(const char *path) {
    char *txt;
    if (rl_read_file(path, &txt, NULL) != 0) return NULL;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!j) rl_fail("%s: not valid JSON", path);
    return j;
}

/* 1 when the JSON text `a` and the object b are the same JSON value. */
static int same_json(const char *a, const cJSON *b) {
    cJSON *ja = cJSON_Parse(a);
    int same = ja && b && cJSON_Compare(ja, b, 1);
    cJSON_Delete(ja);
    return same;
}

int plan_scan(plan *p) {
    for (int i = 0; i < p->n; i++) {
        plan_stage *s = &p->st[i];
        char dir[4200], path[4300];
        if (plan_dir(p, i, dir, sizeof dir) != 0) return -1;
        s->state = 0;
        s->skipped = 0;
        snprintf(path, sizeof path, "%s/%s", dir, STAGE_CONFIG);
        if (rl_file_exists(path)) {
            cJSON *c = read_json(path);
            int same = c && same_json(s->config, c);
            cJSON_Delete(c);
            if (!same)
                return rl_fail("%s: differs from the configuration of stage '%s' whose folder it is (edited by hand, "
                               "or a hash collision): move the folder away and run again",
                               path, s->label);
        }
        snprintf(path, sizeof path, "%s/%s", dir, STAGE_MARKER);
        if (!rl_file_exists(path)) continue;
        cJSON *m = read_json(path);
        if (!m) return -1;
        int same = same_json(s->config, cJSON_GetObjectItemCaseSensitive(m, "config"));
        cJSON_Delete(m);
        if (!same)
            return rl_fail("%s: its config differs from stage '%s' (edited by hand, or a hash collision): move the "
                           "folder away and run again", path, s->label);
        s->state = 2;
        s->skipped = 1;
    }
    return 0;
}

/* ---- the kill hook --------------------------------------------------------------------------- */

void plan_kill_point(const plan_stage *s, int index, const char *point, int64_t k) {
    (void)s;
    const char *env = getenv("ROPELAB_REPRO_KILL");
    if (!env || !*env) return;
    char want[64];
    if (strcmp(point, "tick") == 0) snprintf(want, sizeof want, "%d:tick=%lld", index, (long long)k);
    else snprintf(want, sizeof want, "%d:%s", index, point);
    if (strcmp(env, want) != 0) return;
    fflush(stdout);
    fflush(stderr);
    raise(SIGKILL);
}

/* ---- progress -------------------------------------------------------------------------------- */

static void fmt_time(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

/* Fraction of this process's work done: finished stages plus the running ones' own progress. */
static double work_fraction(const plan *p) {
    if (!(p->total_weight > 0)) return 1;
    double w = p->done_weight;
    for (int i = 0; i < p->n; i++)
        if (p->st[i].state == 1) w += p->st[i].weight * p->st[i].tick_frac;
    double f = w / p->total_weight;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

/* Caller holds the progress lock. final: 1 = the stage `s` just finished (a line in logs). */
static void draw(plan *p, const plan_stage *s, int final) {
    if (!p->show) return;
    double now = rl_now();
    if (!final && now - p->last_draw < (p->tty ? 0.1 : 30.0)) return;
    p->last_draw = now;
    double f = work_fraction(p), el = now - p->t0;
    char eta[32], elapsed[32], bar[21];
    fmt_time(eta, sizeof eta, f > 0 ? el * (1 - f) / f : -1);
    fmt_time(elapsed, sizeof elapsed, el);
    int fill = (int)(f * 20 + 0.5);
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    char line[512];
    int k = snprintf(line, sizeof line, "reproduce [%s] %d/%d stages, %s elapsed, ETA %s", bar, p->n_done, p->n,
                     elapsed, p->n_done == p->n ? "00:00" : eta);
    if (s && k > 0 && (size_t)k < sizeof line) {
        if (final) snprintf(line + k, sizeof line - (size_t)k, " | done: %s (%.1f s)", s->label, s->seconds);
        else snprintf(line + k, sizeof line - (size_t)k, " | %s%s%s", s->label, s->note[0] ? ": " : "", s->note);
    }
    if (p->tty) fprintf(stderr, "\r\033[K%s%s", line, p->n_done == p->n ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void plan_tick(plan *p, plan_stage *s, double frac, const char *note) {
    int idx = (int)(s - p->st);
    int64_t ticks;
#pragma omp critical(plan_lock)
    {
        s->tick_frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
        if (note) snprintf(s->note, sizeof s->note, "%s", note);
        ticks = ++s->state_ticks;
        draw(p, s, 0);
    }
    plan_kill_point(s, idx, "tick", ticks);
}

/* ---- running one stage ----------------------------------------------------------------------- */

static int write_marker(const plan_stage *s, const char *dir) {
    cJSON *m = cJSON_CreateObject(), *c = cJSON_Parse(s->config);
    if (!m || !c) {
        cJSON_Delete(m);
        cJSON_Delete(c);
        return rl_fail("%s: the stage config is not valid JSON (internal error)", s->label);
    }
    cJSON_AddStringToObject(m, "stage", s->label);
    cJSON_AddStringToObject(m, "kind", s->kind);
    cJSON_AddItemToObject(m, "config", c);
    cJSON_AddNumberToObject(m, "seconds", s->seconds);
    cJSON_AddNumberToObject(m, "threads", s->threads);
    char *txt = cJSON_Print(m), path[4300];
    cJSON_Delete(m);
    if (!txt) return rl_fail("out of memory writing %s/%s", dir, STAGE_MARKER);
    int rc = rl_path(path, sizeof path, "%s/%s", dir, STAGE_MARKER) == 0 ? rl_write_atomic(path, txt, strlen(txt)) : -1;
    free(txt);
    return rc;
}

/* Runs stage i (its dependencies are done). Returns 0 or -1 (message set). */
static int run_one(plan *p, int i, int threads) {
    plan_stage *s = &p->st[i];
    char dir[4200], path[4300];
    if (plan_dir(p, i, dir, sizeof dir) != 0 || rl_mkdirs(dir) != 0) return -1;
    if (rl_path(path, sizeof path, "%s/%s", dir, STAGE_CONFIG) != 0) return -1;
    if (!rl_file_exists(path) && rl_write_atomic(path, s->config, strlen(s->config)) != 0) return -1;
    plan_kill_point(s, i, "start", 0);
    s->threads = threads;
    omp_set_num_threads(threads);
    double t0 = rl_now();
    int rc = s->run(p, s, dir, s->user);
    s->seconds = rl_now() - t0;
    if (rc != 0) return rl_fail_prefix("stage '%s' (%s)", s->label, dir);
    plan_kill_point(s, i, "end", 0);
    if (write_marker(s, dir) != 0) return -1;
    plan_kill_point(s, i, "done", 0);
    return 0;
}

static void finish(plan *p, int i, int rc) {
    plan_stage *s = &p->st[i];
    if (rc == 0) {
        s->state = 2;
        p->n_done++;
        p->done_weight += s->weight;
        draw(p, s, 1);
    } else {
        s->state = 3;
        if (!p->failed) {
            p->failed = 1;
            snprintf(p->error, sizeof p->error, "%s", rl_error());
        }
    }
}

static int deps_done(const plan *p, int i) {
    for (int d = 0; d < p->st[i].n_deps; d++)
        if (p->st[p->st[i].deps[d]].state != 2) return 0;
    return 1;
}

int plan_execute(plan *p, int jobs, int threads_per_job) {
    if (jobs < 1) jobs = 1;
    if (threads_per_job < 1) threads_per_job = 1;
    p->t0 = rl_now();
    p->last_draw = -1e9;
    p->tty = isatty(STDERR_FILENO);
    p->total_weight = p->done_weight = 0;
    p->n_done = 0;
    p->failed = 0;
    p->error[0] = '\0';
    for (int i = 0; i < p->n; i++) {
        if (p->st[i].state == 2) p->n_done++;
        else p->total_weight += p->st[i].weight;
        p->st[i].state_ticks = 0;
    }
    int saved_threads = omp_get_max_threads(), saved_levels = omp_get_max_active_levels();
    /* One bar for the whole plan: the libraries' own bars (trainer, theory, ...) are silenced through
     * the variable they all read, set here before any worker starts and restored after they joined. */
    p->show = p->progress && !rl_quiet();
    const char *q = getenv("ROPELAB_QUIET");
    char *saved_quiet = q ? rl_strdup(q) : NULL;
    setenv("ROPELAB_QUIET", "1", 1);
    if (jobs == 1) {
        for (int i = 0; i < p->n && !p->failed; i++) {
            if (p->st[i].state == 2) continue;
            if (!deps_done(p, i)) {
                rl_fail("plan: stage '%s' runs before its dependencies (internal error)", p->st[i].label);
                finish(p, i, -1);
                break;
            }
            p->st[i].state = 1;
            int rc = run_one(p, i, threads_per_job);
            finish(p, i, rc);
        }
    } else {
        omp_set_max_active_levels(threads_per_job > 1 ? 2 : 1);
#pragma omp parallel num_threads(jobs)
        for (;;) {
            int pick = -1, running = 0, waiting = 0;
#pragma omp critical(plan_lock)
            {
                for (int i = 0; i < p->n; i++) {
                    if (p->st[i].state == 1) running++;
                    if (p->st[i].state != 0) continue;
                    waiting++;
                    if (pick < 0 && !p->failed && deps_done(p, i)) {
                        pick = i;
                        p->st[i].state = 1;
                    }
                }
            }
            if (pick < 0) {
                if (p->failed || waiting == 0 || running == 0) break; /* nothing can start any more */
                usleep(20000);
                continue;
            }
            int rc = run_one(p, pick, threads_per_job);
            char err[1024];
            snprintf(err, sizeof err, "%s", rl_error()); /* rl_error is per thread */
#pragma omp critical(plan_lock)
            {
                if (rc != 0) rl_fail("%s", err);
                finish(p, pick, rc);
            }
        }
        omp_set_max_active_levels(saved_levels);
    }
    omp_set_num_threads(saved_threads);
    if (saved_quiet) setenv("ROPELAB_QUIET", saved_quiet, 1);
    else unsetenv("ROPELAB_QUIET");
    free(saved_quiet);
    if (p->failed) return rl_fail("%s", p->error);
    for (int i = 0; i < p->n; i++)
        if (p->st[i].state != 2) return rl_fail("plan: stage '%s' could not run (internal error)", p->st[i].label);
    return 0;
}
