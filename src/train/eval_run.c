/* `ropelab eval` as a library call: a checkpoint, encoding variants x contexts, JSON and CSV reports. */
#include "internal.h"
#include "ropelab/formats.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void rl_eval_report_free(rl_eval_report *r) {
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* The variants' softmax kinds: the model's own, then each override that differs from it. */
static int softmax_kinds(const rl_model *m, const rl_eval_opts *o, rl_attn_softmax *k, int *n) {
    *n = 0;
    k[(*n)++] = m->cfg.attn_softmax;
    for (int i = 0; i < o->n_softmax; i++) {
        rl_attn_softmax x;
        if (rl_attn_softmax_from_name(o->softmax[i], &x) != 0)
            return rl_fail("softmax \"%s\" is unknown: use softmax, adaptive or adaptive-const", o->softmax[i]);
        int seen = 0;
        for (int j = 0; j < *n; j++) seen |= k[j] == x;
        if (!seen) k[(*n)++] = x;
    }
    return 0;
}

int rl_eval_model(rl_model *m, const rl_shard *val, const char *data_dir, const rl_eval_opts *o, rl_eval_report *r) {
    memset(r, 0, sizeof *r);
    const int T = m->cfg.max_seq;
    if (o->n_contexts <= 0 && (int64_t)T * 16 > 1 << 30)
        return rl_fail("the default contexts (16 x the training context %d) are too long; give --context", T);
    int def[5] = {T, 2 * T, 4 * T, 8 * T, 16 * T};
    const int *ctx = o->n_contexts > 0 ? o->contexts : def;
    const int nc = o->n_contexts > 0 ? o->n_contexts : 5;
    rl_attn_softmax kinds[RL_ATTN_KIND_COUNT];
    int nk;
    if (softmax_kinds(m, o, kinds, &nk) != 0) return -1;
    for (int i = 0; i < nc; i++)
        if (ctx[i] < 1) return rl_fail("context %d must be positive", ctx[i]);
    snprintf(r->data, sizeof r->data, "%s", data_dir ? data_dir : "");
    r->train_context = T;
    r->max_tokens = o->max_tokens;
    r->rows = rl_calloc((size_t)(1 + o->n_pe) * nk * nc, sizeof *r->rows, "evaluation rows");
    if (!r->rows) return -1;
    int old_threads = omp_get_max_threads();
    if (o->threads > 0) omp_set_num_threads(o->threads);
    char own_pe[sizeof r->rows[0].pe];
    rl_model_config_pe_string(&m->cfg, own_pe, sizeof own_pe);
    int rc = 0;
    for (int v = 0; rc == 0 && v < 1 + o->n_pe; v++) {
        for (int s = 0; rc == 0 && s < nk; s++) {
            /* the model itself for its own encoding and softmax, else a view sharing its weights */
            rl_model *mv = v == 0 && s == 0 ? m : rl_model_with_pe(m, v == 0 ? own_pe : o->pe[v - 1]);
            if (!mv || rl_model_set_attn_softmax(mv, kinds[s]) != 0) {
                if (mv && mv != m) rl_model_free(mv);
                rc = -1;
                break;
            }
            char pe[sizeof r->rows[0].pe];
            rl_model_config_pe_string(&mv->cfg, pe, sizeof pe);
            for (int i = 0; rc == 0 && i < nc; i++) {
                rl_eval_row *row = &r->rows[r->n_rows];
                snprintf(row->pe, sizeof row->pe, "%s", pe);
                row->overridden = v > 0;
                snprintf(row->softmax, sizeof row->softmax, "%s", rl_attn_softmax_name(kinds[s]));
                row->softmax_overridden = s > 0;
                if (rl_eval_context(mv, val, ctx[i], o->max_tokens, !o->quiet && !rl_quiet(), &row->pt) != 0)
                    rc = -1;
                else
                    r->n_rows++;
            }
            if (mv != m) rl_model_free(mv);
        }
    }
    omp_set_num_threads(old_threads);
    if (rc != 0) rl_eval_report_free(r);
    return rc;
}

/* The folder a path means: a run folder's `checkpoint` link target, else the path itself. */
static int resolve_checkpoint(const char *path, char *dir, size_t n) {
    int have = ckpt_current(path, dir, n, NULL);
    if (have < 0) return -1;
    if (have == 0 && rl_path(dir, n, "%s", path) != 0) return -1;
    return 0;
}

static int check_tokenizer(const char *ckpt_dir, const char *data_dir, const rl_dataset *d, const rl_model *m) {
    char a[4200], b[4200];
    rl_path(a, sizeof a, "%s/%s", ckpt_dir, CKPT_TOKENIZER);
    rl_path(b, sizeof b, "%s/%s", data_dir, RL_DATA_TOKENIZER);
    int V = rl_tok_vocab_size(d->tok);
    if (rl_file_exists(a)) {
        rl_map x, y;
        if (rl_map_file(a, &x) != 0) return -1;
        if (rl_map_file(b, &y) != 0) {
            rl_unmap(&x);
            return -1;
        }
        int same = x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
        rl_unmap(&x);
        rl_unmap(&y);
        if (!same)
            return rl_fail("tokenizer mismatch: %s (the model's, trained with it) differs from %s (the data's); evaluate "
                           "on data prepared with the model's tokenizer",
                           a, b);
    }
    if (m->cfg.vocab_size != V)
        return rl_fail("tokenizer mismatch: the model's vocabulary has %d tokens, %s has %d", m->cfg.vocab_size, b, V);
    return 0;
}

int rl_eval_run(const char *checkpoint, const char *data_dir, const rl_eval_opts *o, rl_eval_report *r) {
    char dir[4200];
    memset(r, 0, sizeof *r);
    if (resolve_checkpoint(checkpoint, dir, sizeof dir) != 0) return -1;
    rl_dataset d;
    if (rl_dataset_open(&d, data_dir) != 0) return -1;
    rl_loaded ld;
    if (rl_load_model(dir, NULL, &ld) != 0) {
        rl_dataset_close(&d);
        return -1;
    }
    int rc = -1;
    if (check_tokenizer(dir, data_dir, &d, ld.model) == 0 && rl_eval_model(ld.model, &d.val, data_dir, o, r) == 0) {
        rl_path(r->checkpoint, sizeof r->checkpoint, "%s", dir);
        rc = 0;
    }
    rl_loaded_free(&ld);
    rl_dataset_close(&d);
    return rc;
}

/* ---- reports ---------------------------------------------------------------------------------- */

#define PROTOCOL                                                                                                   \
    "at context N the validation tokens (the first max_tokens, or all when 0) are cut into consecutive "            \
    "non-overlapping windows of N + 1 tokens, a last partial window dropped; positions restart at 0 in every "     \
    "window; loss = mean next-token cross-entropy (nats) over all N predictions of all windows; ppl = exp(loss)"
#define BUCKETS "position buckets [lo, hi): [0,1), [1,2), [2,4), [4,8), ... (powers of two), the last ending at N"

char *rl_eval_report_json(const rl_eval_report *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "checkpoint", r->checkpoint);
    cJSON_AddStringToObject(o, "data", r->data);
    cJSON_AddNumberToObject(o, "train_context", r->train_context);
    cJSON_AddNumberToObject(o, "max_tokens", (double)r->max_tokens);
    cJSON_AddStringToObject(o, "protocol", PROTOCOL);
    cJSON_AddStringToObject(o, "buckets", BUCKETS);
    cJSON *res = cJSON_AddArrayToObject(o, "results");
    for (int i = 0; res && i < r->n_rows; i++) {
        const rl_eval_row *w = &r->rows[i];
        const rl_eval_point *p = &w->pt;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "pe", w->pe);
        cJSON_AddBoolToObject(x, "overridden", w->overridden);
        cJSON_AddStringToObject(x, "softmax", w->softmax);
        cJSON_AddBoolToObject(x, "softmax_overridden", w->softmax_overridden);
        cJSON_AddNumberToObject(x, "context", p->context);
        cJSON_AddNumberToObject(x, "context_factor", r->train_context ? (double)p->context / r->train_context : 0);
        cJSON_AddNumberToObject(x, "tokens_read", (double)p->tokens_read);
        cJSON_AddNumberToObject(x, "windows", (double)p->windows);
        cJSON_AddNumberToObject(x, "predictions", (double)p->predictions);
        cJSON_AddNumberToObject(x, "loss", p->loss);
        cJSON_AddNumberToObject(x, "ppl", p->ppl);
        cJSON *bs = cJSON_AddArrayToObject(x, "buckets");
        for (int b = 0; bs && b < p->n_buckets; b++) {
            cJSON *y = cJSON_CreateObject();
            cJSON_AddNumberToObject(y, "lo", (double)p->bucket_lo[b]);
            cJSON_AddNumberToObject(y, "hi", (double)p->bucket_hi[b]);
            cJSON_AddNumberToObject(y, "count", (double)p->bucket_count[b]);
            cJSON_AddNumberToObject(y, "loss", p->bucket_loss[b]);
            cJSON_AddItemToArray(bs, y);
        }
        cJSON_AddItemToArray(res, x);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) rl_fail("eval report: out of memory");
    return s;
}

/* A CSV field in double quotes (spec strings contain commas). */
static void csv_quoted(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int rl_eval_report_write(const rl_eval_report *r, const char *dir) {
    char p[4200];
    if (rl_mkdirs(dir) != 0) return -1;
    char *js = rl_eval_report_json(r);
    if (!js) return -1;
    rl_path(p, sizeof p, "%s/eval.json", dir);
    int rc = rl_write_atomic(p, js, strlen(js));
    free(js);
    if (rc != 0) return -1;
    rl_afile f;
    rl_path(p, sizeof p, "%s/eval.csv", dir);
    if (rl_afile_open(&f, p) != 0) return -1;
    fprintf(f.fp, "pe,overridden,softmax,context,context_factor,tokens_read,windows,predictions,loss,ppl\n");
    for (int i = 0; i < r->n_rows; i++) {
        const rl_eval_row *w = &r->rows[i];
        csv_quoted(f.fp, w->pe);
        fprintf(f.fp, ",%d,%s,%d,%.9g,%lld,%lld,%lld,%.9g,%.9g\n", w->overridden, w->softmax, w->pt.context,
                r->train_context ? (double)w->pt.context / r->train_context : 0.0, (long long)w->pt.tokens_read,
                (long long)w->pt.windows, (long long)w->pt.predictions, w->pt.loss, w->pt.ppl);
    }
    if (rl_afile_commit(&f) != 0) return -1;
    rl_path(p, sizeof p, "%s/buckets.csv", dir);
    if (rl_afile_open(&f, p) != 0) return -1;
    fprintf(f.fp, "pe,overridden,softmax,context,bucket_lo,bucket_hi,count,loss\n");
    for (int i = 0; i < r->n_rows; i++) {
        const rl_eval_row *w = &r->rows[i];
        for (int b = 0; b < w->pt.n_buckets; b++) {
            csv_quoted(f.fp, w->pe);
            fprintf(f.fp, ",%d,%s,%d,%lld,%lld,%lld,%.9g\n", w->overridden, w->softmax, w->pt.context, (long long)w->pt.bucket_lo[b],
                    (long long)w->pt.bucket_hi[b], (long long)w->pt.bucket_count[b], w->pt.bucket_loss[b]);
        }
    }
    return rl_afile_commit(&f);
}

/* ---- figures ---------------------------------------------------------------------------------- */

/* Rows of one variant (encoding + softmax) are consecutive: [first, first + n). */
static int variant_end(const rl_eval_report *r, int first) {
    int i = first;
    while (i < r->n_rows && strcmp(r->rows[i].pe, r->rows[first].pe) == 0 &&
           strcmp(r->rows[i].softmax, r->rows[first].softmax) == 0 && r->rows[i].overridden == r->rows[first].overridden)
        i++;
    return i;
}

static int write_blocks(const rl_eval_report *r, const char *dir, const char *name, int positions) {
    char p[4200];
    rl_afile f;
    rl_path(p, sizeof p, "%s/%s.csv", dir, name);
    if (rl_afile_open(&f, p) != 0) return -1;
    for (int a = 0; a < r->n_rows; a = variant_end(r, a)) {
        int b = variant_end(r, a);
        if (a) fputs("\n\n", f.fp); /* gnuplot: a new index */
        if (!positions) {
            for (int i = a; i < b; i++) fprintf(f.fp, "%d,%.9g\n", r->rows[i].pt.context, r->rows[i].pt.loss);
            continue;
        }
        int longest = a; /* the longest context of the variant */
        for (int i = a; i < b; i++)
            if (r->rows[i].pt.context > r->rows[longest].pt.context) longest = i;
        const rl_eval_point *pt = &r->rows[longest].pt;
        for (int k = 0; k < pt->n_buckets; k++) fprintf(f.fp, "%lld,%.9g\n", (long long)pt->bucket_hi[k], pt->bucket_loss[k]);
    }
    return rl_afile_commit(&f);
}

int rl_eval_report_figures(const rl_eval_report *r, const char *dir) {
    if (r->n_rows == 0) return 0;
    if (rl_mkdirs(dir) != 0 || write_blocks(r, dir, "eval_context", 0) != 0 || write_blocks(r, dir, "eval_positions", 1) != 0)
        return -1;
    for (int fig = 0; fig < 2; fig++) {
        size_t cap = 4096 + (size_t)r->n_rows * 4600;
        char *body = rl_malloc(cap, "figure script");
        if (!body) return -1;
        int k = 0, longest = 0;
        for (int i = 0; i < r->n_rows; i++) longest = RL_MAX(longest, r->rows[i].pt.context);
        if (fig == 0)
            k = snprintf(body, cap,
                         "set logscale x 2\nset xlabel \"evaluation context (tokens; trained at %d)\"\n"
                         "set ylabel \"validation loss (nats per token)\"\nset grid\nset key below\n"
                         "set title \"loss against context (consecutive windows, positions from 0)\"\nplot ",
                         r->train_context);
        else
            k = snprintf(body, cap,
                         "set logscale x 2\nset xlabel \"position bucket (upper end, tokens; trained at %d)\"\n"
                         "set ylabel \"mean loss in the bucket (nats)\"\nset grid\nset key below\n"
                         "set title \"loss by position at each variant's longest context (%d)\"\nplot ",
                         r->train_context, longest);
        int idx = 0;
        for (int a = 0; a < r->n_rows; a = variant_end(r, a), idx++) {
            char title[2200], esc[4500];
            /* long canonical specs (every yarn parameter) are cut: the CSV files have them whole */
            snprintf(title, sizeof title, "%.48s%s%s, %s", r->rows[a].pe, strlen(r->rows[a].pe) > 48 ? "..." : "",
                     r->rows[a].overridden ? " (override)" : "", r->rows[a].softmax);
            rl_gp_escape(esc, sizeof esc, title);
            k += snprintf(body + k, cap - (size_t)k, "%s'%s.csv' index %d using 1:2 with linespoints lw 2 title \"%s\" noenhanced",
                          idx ? ", \\\n     " : "", fig ? "eval_positions" : "eval_context", idx, esc);
        }
        snprintf(body + k, cap - (size_t)k, "\n");
        int rc = rl_figure(dir, fig ? "eval_positions" : "eval_context", body, NULL);
        free(body);
        if (rc != 0) return -1;
    }
    return 0;
}
