/* The run log: log.csv (appended one whole line per step, rebuilt atomically on resume), its JSON
 * copy in trainer_state.json, and the loss-curve figure. */
#include "internal.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int runlog_push(run_log *l, const log_row *row) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 1024;
        log_row *r = realloc(l->r, (size_t)cap * sizeof *r);
        if (!r) return rl_fail("out of memory (run log)");
        l->r = r;
        l->cap = cap;
    }
    l->r[l->n++] = *row;
    return 0;
}

void runlog_free(run_log *l) {
    if (l->fd >= 0) close(l->fd);
    free(l->r);
    memset(l, 0, sizeof *l);
    l->fd = -1;
}

/* One CSV line; %.9g round-trips float32 values (loss is float64 but only shown). */
static int format_row(char *buf, size_t n, const log_row *r) {
    char val[40] = "";
    if (!isnan(r->val_loss)) snprintf(val, sizeof val, "%.9g", r->val_loss);
    return snprintf(buf, n, "%lld,%.9g,%.9g,%.9g,%.1f,%s\n", (long long)r->step, r->loss, r->lr, r->grad_norm,
                    r->tokens_per_s, val);
}

int runlog_open(run_log *l, const char *out_dir) {
    char path[4200];
    if (rl_path(path, sizeof path, "%s/%s", out_dir, LOG_CSV) != 0) return -1;
    rl_afile f;
    if (rl_afile_open(&f, path) != 0) return -1;
    fputs(LOG_HEADER, f.fp);
    for (int64_t i = 0; i < l->n; i++) {
        char line[256];
        format_row(line, sizeof line, &l->r[i]);
        fputs(line, f.fp);
    }
    if (rl_afile_commit(&f) != 0) return -1;
    if (l->fd >= 0) close(l->fd);
    l->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (l->fd < 0) return rl_fail("%s: cannot open for appending: %s", path, strerror(errno));
    return 0;
}

int runlog_add(run_log *l, const log_row *row, const char *out_dir) {
    if (runlog_push(l, row) != 0) return -1;
    char line[256];
    int k = format_row(line, sizeof line, row);
    /* one write() of a whole line on an O_APPEND descriptor: a kill leaves whole lines, and a
     * resume rewrites the file from the checkpoint's copy anyway */
    if (l->fd < 0 || write(l->fd, line, (size_t)k) != k)
        return rl_fail("%s/%s: cannot append: %s", out_dir, LOG_CSV, strerror(errno));
    return 0;
}

cJSON *runlog_to_json(const run_log *l) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    const char *cols[] = {"step", "loss", "lr", "grad_norm", "tokens_per_s", "val_loss"};
    cJSON_AddItemToObject(o, "columns", cJSON_CreateStringArray(cols, 6));
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    for (int64_t i = 0; rows && i < l->n; i++) {
        const log_row *r = &l->r[i];
        cJSON *a = cJSON_CreateArray();
        if (!a) break;
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)r->step));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(r->loss));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(r->lr));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(r->grad_norm));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(r->tokens_per_s));
        cJSON_AddItemToArray(a, isnan(r->val_loss) ? cJSON_CreateNull() : cJSON_CreateNumber(r->val_loss));
        cJSON_AddItemToArray(rows, a);
    }
    return o;
}

int runlog_from_json(run_log *l, const cJSON *j, const char *src) {
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
    if (!cJSON_IsArray(rows)) return rl_fail("%s: key log.rows: expected an array", src);
    const cJSON *a;
    int64_t i = 0;
    cJSON_ArrayForEach(a, rows) {
        double v[6];
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 6)
            return rl_fail("%s: key log.rows[%lld]: expected 6 numbers", src, (long long)i);
        for (int k = 0; k < 6; k++) {
            const cJSON *e = cJSON_GetArrayItem(a, k);
            if (k == 5 && cJSON_IsNull(e))
                v[k] = NAN;
            else if (cJSON_IsNumber(e))
                v[k] = e->valuedouble;
            else
                return rl_fail("%s: key log.rows[%lld][%d]: expected a number", src, (long long)i, k);
        }
        log_row r = {(int64_t)v[0], v[1], v[2], v[3], v[4], v[5]};
        if (runlog_push(l, &r) != 0) return -1;
        i++;
    }
    return 0;
}

int runlog_figure(const char *out_dir) {
    const char *body = "set xlabel \"step\"\nset ylabel \"loss (nats per token)\"\nset grid\nset key top right\n"
                       "set title \"training and validation loss\"\n"
                       "plot 'log.csv' skip 1 using 1:2 with lines lw 1 title \"train (per step)\", \\\n"
                       "     'log.csv' skip 1 using 1:6 with linespoints lw 2 pt 7 title \"validation\"\n";
    return rl_figure(out_dir, "loss", body, NULL);
}
