/* Progress display: a redrawn one-line bar on a terminal, throttled plain lines elsewhere. */
#include "ropelab/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rl_quiet(void) {
    const char *q = getenv("ROPELAB_QUIET");
    return q && *q && strcmp(q, "0") != 0;
}

void rl_progress_start(rl_progress *p, const char *label, int64_t total, const char *unit) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "it");
    p->total = total;
    p->t0 = rl_now();
    p->last = -1e9;
    p->tty = isatty(STDERR_FILENO);
}

static void fmt_eta(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(rl_progress *p, const char *extra, int final) {
    double el = rl_now() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32], line[512];
    fmt_eta(eta, sizeof eta, (p->total > 0 && rate > 0) ? (double)(p->total - p->done) / rate : -1);
    int k;
    if (p->total > 0) {
        double frac = (double)p->done / (double)p->total;
        if (frac > 1) frac = 1;
        char bar[21];
        int fill = (int)(frac * 20 + 0.5);
        for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        k = snprintf(line, sizeof line, "%s [%s] %lld/%lld %s %.3g %s/s ETA %s", p->label, bar,
                     (long long)p->done, (long long)p->total, p->unit, rate, p->unit, final ? "00:00" : eta);
    } else {
        k = snprintf(line, sizeof line, "%s %lld %s %.3g %s/s", p->label, (long long)p->done, p->unit, rate,
                     p->unit);
    }
    if (extra && *extra && k > 0 && (size_t)k < sizeof line)
        snprintf(line + k, sizeof line - (size_t)k, " | %s", extra);
    if (p->tty)
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void rl_progress_update(rl_progress *p, int64_t done, const char *extra) {
    p->done = done;
    if (rl_quiet()) return;
    double now = rl_now();
    if (now - p->last < (p->tty ? 0.1 : 10.0)) return;
    p->last = now;
    draw(p, extra, 0);
}

void rl_progress_finish(rl_progress *p, const char *extra) {
    if (rl_quiet()) return;
    draw(p, extra, 1);
}
