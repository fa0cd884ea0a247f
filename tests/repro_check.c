/* Checks of a reproduce output folder (see repro_check.h). */
#include "repro_check.h"
#include "helpers.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON files and pointers (written here, independently of src/reproduce/collect.c) ---------- */

typedef struct {
    char rel[256];
    cJSON *root;
} cached;

typedef struct {
    const char *out;
    cached files[256];
    int n_files;
    rt_repro_counts *counts;
} checker;

static cJSON *load(checker *c, const char *rel) {
    for (int i = 0; i < c->n_files; i++)
        if (strcmp(c->files[i].rel, rel) == 0) return c->files[i].root;
    char path[4400], *txt;
    snprintf(path, sizeof path, "%s/%s", c->out, rel);
    cr_assert_eq(rl_read_file(path, &txt, NULL), 0, "source file missing: %s", path);
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    cr_assert(j, "source file is not JSON: %s", path);
    cr_assert(c->n_files < 256);
    snprintf(c->files[c->n_files].rel, sizeof c->files[0].rel, "%s", rel);
    c->files[c->n_files++].root = j;
    return j;
}

static const cJSON *pointer(const cJSON *node, const char *ptr) {
    if (*ptr == '\0') return node;
    cr_assert_eq(*ptr, '/', "bad pointer %s", ptr);
    const char *end = strchr(ptr + 1, '/');
    size_t k = end ? (size_t)(end - ptr - 1) : strlen(ptr + 1);
    char tok[128];
    cr_assert(k < sizeof tok);
    memcpy(tok, ptr + 1, k);
    tok[k] = '\0';
    const cJSON *next = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, atoi(tok)) : cJSON_GetObjectItemCaseSensitive(node, tok);
    if (!next) return NULL;
    return end ? pointer(next, end) : next;
}

/* Keys whose bare numbers are settings, the paper's constants, counts or checked aggregates. */
static int allowed_number(const char *key) {
    static const char *const ok[] = {"format", "vocab", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim",
                                     "d_ff", "ctx", "batch", "steps", "warmup", "lr", "min_lr", "weight_decay", "clip",
                                     "eval_tokens", "analysis_tokens", "seeds", "paper_wiki_ppl", "paper_flan_ppl",
                                     "eval_contexts", "mult", "context", "n", "mean", "ci95", "estimate", "layer",
                                     "head", "seed"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (key && strcmp(key, ok[i]) == 0) return 1;
    return 0;
}

static void check_sourced(checker *c, const cJSON *o, const char *where) {
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source"), *ptr = cJSON_GetObjectItemCaseSensitive(o, "pointer"),
                *val = cJSON_GetObjectItemCaseSensitive(o, "value");
    cr_assert(cJSON_IsString(src) && cJSON_IsString(ptr), "%s: source/pointer not strings", where);
    cr_assert(strncmp(src->valuestring, "report/", 7) != 0, "%s: a number sourced from the report itself", where);
    const cJSON *target = pointer(load(c, src->valuestring), ptr->valuestring);
    cr_assert(target, "%s: %s has nothing at %s", where, src->valuestring, ptr->valuestring);
    if (!val) return; /* a whole matrix used as input: existence is the check */
    if (cJSON_IsNumber(val))
        cr_assert(cJSON_IsNumber(target) && target->valuedouble == val->valuedouble, "%s: %s#%s is %s, summary says %.17g",
                  where, src->valuestring, ptr->valuestring, cJSON_IsNumber(target) ? "different" : "not a number",
                  val->valuedouble);
    else if (cJSON_IsString(val))
        cr_assert(cJSON_IsString(target) && strcmp(target->valuestring, val->valuestring) == 0, "%s: %s#%s differs", where,
                  src->valuestring, ptr->valuestring);
    else
        cr_assert(cJSON_IsNull(val) && cJSON_IsNull(target), "%s: null value but %s#%s is not null", where,
                  src->valuestring, ptr->valuestring);
    c->counts->sourced++;
}

/* {seeds: [sourced], n, mean, ci95}: recomputed from the seeds' values. Tolerance: the mean is the same
 * sum in a possibly different order, 1e-12 relative. */
static void check_aggregate(checker *c, const cJSON *o, const char *where) {
    const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(o, "seeds"), *mean = cJSON_GetObjectItemCaseSensitive(o, "mean"),
                *n = cJSON_GetObjectItemCaseSensitive(o, "n"), *ci = cJSON_GetObjectItemCaseSensitive(o, "ci95");
    double x[64];
    int m = 0;
    for (const cJSON *s = seeds->child; s; s = s->next) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "value");
        if (cJSON_IsNumber(v) && m < 64) x[m++] = v->valuedouble;
    }
    cr_assert(cJSON_IsNumber(n) && n->valueint == m, "%s: n %d, %d finite seed values", where, n ? n->valueint : -1, m);
    if (m == 0) {
        cr_assert(cJSON_IsNull(mean), "%s", where);
        return;
    }
    double sum = 0;
    for (int i = 0; i < m; i++) sum += x[i];
    cr_assert(cJSON_IsNumber(mean) && fabs(mean->valuedouble - sum / m) <= 1e-12 * fmax(1, fabs(sum / m)),
              "%s: mean %.17g, recomputed %.17g", where, mean ? mean->valuedouble : NAN, sum / m);
    rl_ci q;
    rl_ci_t(x, m, 0.95, &q);
    const cJSON *lo = cJSON_GetArrayItem(ci, 0), *hi = cJSON_GetArrayItem(ci, 1);
    if (m < 2) cr_assert(cJSON_IsNull(lo) && cJSON_IsNull(hi), "%s: an interval from one seed", where);
    else
        cr_assert(fabs(lo->valuedouble - q.lo) <= 1e-9 * fmax(1, fabs(q.lo)) &&
                      fabs(hi->valuedouble - q.hi) <= 1e-9 * fmax(1, fabs(q.hi)),
                  "%s: ci95 differs from the recomputed [%.17g, %.17g]", where, q.lo, q.hi);
    c->counts->aggregates++;
}

static void walk(checker *c, const cJSON *node, const char *key, const char *where, int in_sourced) {
    if (cJSON_IsObject(node)) {
        int sourced = cJSON_GetObjectItemCaseSensitive(node, "source") && cJSON_GetObjectItemCaseSensitive(node, "pointer");
        if (sourced) check_sourced(c, node, where);
        if (cJSON_GetObjectItemCaseSensitive(node, "seeds") && cJSON_GetObjectItemCaseSensitive(node, "mean") &&
            cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(node, "seeds")))
            check_aggregate(c, node, where);
        for (const cJSON *ch = node->child; ch; ch = ch->next) {
            char w[512];
            snprintf(w, sizeof w, "%s/%s", where, ch->string);
            walk(c, ch, ch->string, w, sourced);
        }
    } else if (cJSON_IsArray(node)) {
        int i = 0;
        for (const cJSON *ch = node->child; ch; ch = ch->next, i++) {
            char w[512];
            snprintf(w, sizeof w, "%s/%d", where, i);
            walk(c, ch, key, w, in_sourced);
        }
    } else if (cJSON_IsNumber(node) && !in_sourced) {
        cr_assert(allowed_number(key), "summary.json%s: a number that is neither sourced nor a setting/aggregate", where);
    }
}

/* Every CI claim's verdict follows from its interval, as its rule says. */
static void check_claims(checker *c, const cJSON *claims) {
    for (const cJSON *cl = claims->child; cl; cl = cl->next) {
        const char *id = cJSON_GetObjectItemCaseSensitive(cl, "id")->valuestring;
        const char *rule = cJSON_GetObjectItemCaseSensitive(cl, "rule")->valuestring;
        const char *verdict = cJSON_GetObjectItemCaseSensitive(cl, "verdict")->valuestring;
        const cJSON *ci = cJSON_GetObjectItemCaseSensitive(cl, "ci95"), *lo = cJSON_GetArrayItem(ci, 0),
                    *hi = cJSON_GetArrayItem(ci, 1);
        const char *expect = NULL;
        if (strncmp(rule, "supported if the lower 95% t-bound", 34) == 0)
            expect = !cJSON_IsNumber(lo) ? "inconclusive" : lo->valuedouble > 0 ? "supported"
                                          : hi->valuedouble < 0                 ? "not supported"
                                                                                : "inconclusive";
        else if (strncmp(rule, "supported if the upper 95% t-bound", 34) == 0)
            expect = !cJSON_IsNumber(hi) ? "inconclusive" : hi->valuedouble < 0 ? "supported"
                                          : lo->valuedouble > 0                 ? "not supported"
                                                                                : "inconclusive";
        if (expect) cr_assert_str_eq(verdict, expect, "claim %s: verdict does not follow its rule", id);
        if (strcmp(id, "ppl.p075_vs_rope") == 0 && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cl, "inputs")) > 0) {
            /* inputs alternate ppl(p0.75, s), ppl(rope, s): the estimate is the mean difference */
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(cl, "inputs");
            double sum = 0;
            int n = 0;
            for (const cJSON *a = in->child; a && a->next; a = a->next->next, n++)
                sum += cJSON_GetObjectItemCaseSensitive(a, "value")->valuedouble -
                       cJSON_GetObjectItemCaseSensitive(a->next, "value")->valuedouble;
            const cJSON *est = cJSON_GetObjectItemCaseSensitive(cl, "estimate");
            cr_assert(cJSON_IsNumber(est) && fabs(est->valuedouble - sum / n) < 1e-12 * fmax(1, fabs(sum / n)),
                      "claim %s: estimate differs from its inputs", id);
        }
    }
    (void)c;
}

/* ---- HTML -------------------------------------------------------------------------------------- */

static char *run(const char *cmd) {
    char *out;
    int rc = rt_sh(cmd, &out);
    cr_assert_eq(rc, 0, "%s: %s", cmd, out);
    return out;
}

/* Undoes the entities xmllint writes in attribute values. */
static void unescape(char *s) {
    static const char *const ent[][2] = {{"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&#39;", "'"}};
    char *w = s;
    for (char *r = s; *r;) {
        size_t i = 0;
        for (; i < 5; i++)
            if (strncmp(r, ent[i][0], strlen(ent[i][0])) == 0) break;
        if (i < 5) {
            *w++ = ent[i][1][0];
            r += strlen(ent[i][0]);
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static double value_at(checker *c, const char *ref) {
    char buf[400];
    snprintf(buf, sizeof buf, "%s", ref);
    char *hash = strchr(buf, '#');
    cr_assert(hash, "cell title without '#': %s", ref);
    *hash = '\0';
    const cJSON *t = pointer(load(c, buf), hash + 1);
    cr_assert(t, "cell source %s: nothing there", ref);
    return cJSON_IsNumber(t) ? t->valuedouble : NAN;
}

/* The displayed number matches the true one to the precision it is printed with. */
static void same_display(const char *text, double v, const char *what) {
    if (isnan(v)) {
        cr_assert_str_eq(text, "n/a", "%s", what);
        return;
    }
    char *end;
    double d = strtod(text, &end);
    cr_assert(end != text, "%s: '%s' is not a number", what, text);
    const char *dot = strchr(text, '.');
    int decimals = 0;
    if (dot && dot < end) decimals = (int)(end - dot - 1);
    cr_assert(fabs(d - v) <= 0.5 * pow(10, -decimals) * (1 + 1e-9), "%s: shows %s, the source holds %.17g", what, text, v);
}

/* Cells of one class: `xmllint --xpath` prints each title attribute then the cell's text. */
static void check_cells(checker *c, const char *html, int agg) {
    char cmd[8800];
    snprintf(cmd, sizeof cmd, "xmllint --html --xpath '//td[@class=\"num %s\"]/@title | //td[@class=\"num %s\"]/text()' "
                              "'%s' 2>/dev/null || true", agg ? "agg" : "src", agg ? "agg" : "src", html);
    char *out = run(cmd);
    char *p = out;
    while ((p = strstr(p, " title=\""))) {
        p += 8;
        char *q = strchr(p, '"');
        cr_assert(q);
        *q = '\0';
        char *title = strdup(p);
        unescape(title);
        char *text = q + 1, *next = strstr(text, " title=\"");
        char saved = 0;
        if (next) {
            saved = *next;
            *next = '\0';
        }
        char shown[128];
        snprintf(shown, sizeof shown, "%s", text);
        size_t k = strlen(shown);
        while (k && (shown[k - 1] == '\n' || shown[k - 1] == ' ')) shown[--k] = '\0';
        if (!agg) {
            same_display(shown, value_at(c, title), title);
            c->counts->cells++;
        } else {
            /* "FILE#PTR=VALUE; ...": each value re-read, their mean is what the cell shows first */
            double sum = 0;
            int n = 0;
            for (char *save = NULL, *tok = strtok_r(title, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
                while (*tok == ' ') tok++;
                char *eq = strrchr(tok, '=');
                cr_assert(eq, "aggregate cell entry without '=': %s", tok);
                *eq = '\0';
                double claimed = strtod(eq + 1, NULL), v = value_at(c, tok);
                cr_assert(claimed == v || (isnan(v) && isnan(claimed)), "%s: the cell lists %.17g, the file holds %.17g",
                          tok, claimed, v);
                if (isfinite(v)) {
                    sum += v;
                    n++;
                }
            }
            if (n) same_display(shown, sum / n, "aggregate cell");
            else cr_assert_str_eq(shown, "n/a");
            c->counts->agg_cells++;
        }
        free(title);
        if (!next) break;
        *next = saved;
        p = next;
    }
    free(out);
}

static void check_html(checker *c) {
    char html[4400], cmd[9000];
    snprintf(html, sizeof html, "%s/report/index.html", c->out);
    cr_assert(rl_file_exists(html), "%s missing", html);
    snprintf(cmd, sizeof cmd, "xmllint --html --noout '%s'", html);
    char *out = run(cmd);
    cr_assert_str_eq(out, "", "libxml2's HTML parser complains: %s", out);
    free(out);
    /* no network: no URL with a scheme ("://", which base64 data cannot contain) or protocol-relative
     * ("//host") in any src or href */
    snprintf(cmd, sizeof cmd,
             "xmllint --html --xpath 'count(//@*[(name() = \"src\" or name() = \"href\") and (contains(., \"://\") or "
             "starts-with(., \"//\"))])' '%s'",
             html);
    out = run(cmd);
    cr_assert_eq(atoi(out), 0, "remote references: %s", out);
    free(out);
    /* every image is a data URI that decodes to a PNG */
    snprintf(cmd, sizeof cmd, "xmllint --html --xpath 'count(//img)' '%s'", html);
    out = run(cmd);
    int n_img = atoi(out);
    free(out);
    for (int i = 1; i <= n_img; i++) {
        snprintf(cmd, sizeof cmd,
                 "xmllint --html --xpath 'string((//img)[%d]/@src)' '%s' | grep '^data:image/png;base64,' | "
                 "sed 's/^data:image\\/png;base64,//' | base64 -d | head -c 8 | od -An -tx1 | tr -d ' \\n'",
                 i, html);
        out = run(cmd);
        cr_assert_str_eq(out, "89504e470d0a1a0a", "image %d is not an embedded PNG", i);
        free(out);
        c->counts->images++;
    }
    /* every link points at a file beside the report */
    snprintf(cmd, sizeof cmd, "cd '%s/report' && xmllint --html --xpath '//a/@href' index.html 2>/dev/null | "
                              "tr ' ' '\\n' | sed -n 's/^href=\"\\(.*\\)\"$/\\1/p' | while read f; do [ -e \"$f\" ] || "
                              "echo \"missing: $f\"; done",
             c->out);
    out = run(cmd);
    cr_assert_str_eq(out, "", "%s", out);
    free(out);
    check_cells(c, html, 0);
    check_cells(c, html, 1);
}

void rt_repro_check(const char *out, rt_repro_counts *counts) {
    checker *c = calloc(1, sizeof *c);
    memset(counts, 0, sizeof *counts);
    c->out = out;
    c->counts = counts;
    cJSON *sum = load(c, "report/summary.json");
    walk(c, sum, NULL, "", 0);
    check_claims(c, cJSON_GetObjectItemCaseSensitive(sum, "claims"));
    check_html(c);
    for (int i = 0; i < c->n_files; i++) cJSON_Delete(c->files[i].root);
    free(c);
}

char *rt_repro_summary(const char *out) {
    char path[4400], *txt;
    snprintf(path, sizeof path, "%s/report/summary.json", out);
    cr_assert_eq(rl_read_file(path, &txt, NULL), 0, "%s", rl_error());
    return txt;
}

char *rt_repro_corpus(void) {
    char *dir = rt_tmpdir(), cmd[8800];
    snprintf(cmd, sizeof cmd, "for f in '%s'/docs/*.md; do cp \"$f\" '%s'/$(basename \"$f\" .md).txt; done", rt_root(),
             dir);
    cr_assert_eq(rt_sh(cmd, NULL), 0);
    return dir;
}
