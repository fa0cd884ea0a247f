/* `ropelab data prepare`: text files -> documents -> train/validation split -> BPE -> shards + data.json. */
#include "ropelab/data.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rl_doc_split_name(rl_doc_split m) {
    switch (m) {
    case RL_DOC_FORMFEED: return "formfeed";
    case RL_DOC_FILE: return "file";
    case RL_DOC_BLANK: return "blank";
    }
    return "?";
}

int rl_doc_split_parse(const char *s, rl_doc_split *m) {
    for (int k = RL_DOC_FORMFEED; k <= RL_DOC_BLANK; k++)
        if (strcmp(s, rl_doc_split_name((rl_doc_split)k)) == 0) {
            *m = (rl_doc_split)k;
            return 0;
        }
    return rl_fail("unknown document split \"%s\" (expected formfeed, file or blank)", s);
}

void rl_prepare_defaults(rl_prepare_opts *o) {
    memset(o, 0, sizeof *o);
    o->vocab_size = 4096;
    o->val_frac = 0.1;
    o->seed = 1337;
    o->split = RL_DOC_FORMFEED;
}

typedef struct {
    const char *text;
    size_t len;
    int file;
} doc;

typedef struct {
    doc *v;
    int64_t n, cap;
    int64_t skipped;
} doc_list;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Adds text[0..n) trimmed of surrounding white space, or counts it as skipped when empty. */
static int add_doc(doc_list *l, const char *s, size_t n, int file) {
    while (n && is_ws(*s)) s++, n--;
    while (n && is_ws(s[n - 1])) n--;
    if (n == 0) {
        l->skipped++;
        return 0;
    }
    if (l->n == l->cap) {
        int64_t c = l->cap ? l->cap * 2 : 256;
        doc *v = realloc(l->v, (size_t)c * sizeof *v);
        if (!v) return rl_fail("out of memory (%lld documents)", (long long)c);
        l->v = v;
        l->cap = c;
    }
    l->v[l->n++] = (doc){s, n, file};
    return 0;
}

/* Splits one file's text into documents. */
static int split_file(doc_list *l, const char *s, size_t n, int file, rl_doc_split mode) {
    if (mode == RL_DOC_FILE) return add_doc(l, s, n, file);
    if (mode == RL_DOC_FORMFEED) {
        size_t a = 0;
        for (size_t i = 0; i <= n; i++)
            if (i == n || s[i] == '\f') {
                int64_t skipped = l->skipped;
                if (add_doc(l, s + a, i - a, file)) return -1;
                if (i == n && a > 0) l->skipped = skipped; /* white space after the last form feed is no document */
                a = i + 1;
            }
        return 0;
    }
    /* blank: cut before every run of >= 2 blank (white-space-only) lines */
    size_t start = 0, line = 0, run_start = 0;
    int blanks = 0;
    while (line < n) {
        size_t e = line;
        int blank = 1;
        while (e < n && s[e] != '\n') blank &= is_ws(s[e++]);
        if (blank) {
            if (blanks++ == 0) run_start = line;
        } else {
            if (blanks >= 2 && add_doc(l, s + start, run_start - start, file)) return -1;
            if (blanks >= 2) start = line;
            blanks = 0;
        }
        line = e + 1;
    }
    return add_doc(l, s + start, n - start, file);
}

static int64_t sum_bytes(const doc_list *l, const uint8_t *is_val, int val) {
    int64_t b = 0;
    for (int64_t i = 0; i < l->n; i++)
        if (is_val[i] == val) b += (int64_t)l->v[i].len;
    return b;
}

/* Encodes the documents of one split, each preceded by BOS, in document order (threads over documents). */
static int encode_split(const rl_tokenizer *t, const doc_list *l, const uint8_t *is_val, int val, rl_ids *out) {
    int64_t n = l->n;
    rl_ids *per = rl_calloc((size_t)n, sizeof *per, "token lists");
    if (!per) return -1;
    int failed = 0;
    char msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < n; i++) {
        if (is_val[i] != val) continue;
        if (rl_ids_push(&per[i], rl_tok_bos(t)) || rl_tok_encode(t, l->v[i].text, l->v[i].len, 0, &per[i])) {
#pragma omp critical
            {
                if (!failed) snprintf(msg, sizeof msg, "document %lld: %s", (long long)i, rl_error());
                failed = 1;
            }
        }
    }
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += per[i].n;
    int rc = 0;
    if (failed) rc = rl_fail("%s", msg);
    else if (total > INT32_MAX) rc = rl_fail("%s split has %lld tokens, more than one shard holds (2^31-1)", val ? "validation" : "training", (long long)total);
    if (rc == 0) {
        out->v = rl_malloc((size_t)total * sizeof *out->v + 4, "tokens");
        if (!out->v) rc = -1;
        else {
            out->cap = total;
            out->n = 0;
            for (int64_t i = 0; i < n; i++) {
                if (per[i].n) memcpy(out->v + out->n, per[i].v, (size_t)per[i].n * sizeof *out->v);
                out->n += per[i].n;
            }
        }
    }
    for (int64_t i = 0; i < n; i++) free(per[i].v);
    free(per);
    return rc;
}

static int write_json(const rl_prepare_opts *o, const doc_list *l, const size_t *lens, const uint8_t *is_val,
                      const rl_prepare_stats *st, int bos) {
    cJSON *j = cJSON_CreateObject(), *a, *x;
    cJSON_AddStringToObject(j, "format", "ropelab-data");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "tokenizer", RL_DATA_TOKENIZER);
    cJSON_AddNumberToObject(j, "vocab_size", st->vocab_size);
    cJSON_AddNumberToObject(j, "bos_id", bos);
    cJSON_AddStringToObject(j, "doc_split", rl_doc_split_name(o->split));
    cJSON_AddNumberToObject(j, "val_frac", o->val_frac);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    a = cJSON_AddArrayToObject(j, "sources");
    for (int f = 0; f < o->n_files; f++) {
        int64_t nd = 0;
        for (int64_t i = 0; i < l->n; i++) nd += l->v[i].file == f;
        x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "path", o->files[f]);
        cJSON_AddNumberToObject(x, "bytes", (double)lens[f]);
        cJSON_AddNumberToObject(x, "documents", (double)nd);
        cJSON_AddItemToArray(a, x);
    }
    cJSON_AddNumberToObject(j, "documents_skipped_empty", (double)st->docs_skipped);
    const char *names[2] = {"train", "val"}, *files[2] = {RL_DATA_TRAIN, RL_DATA_VAL};
    for (int s = 0; s < 2; s++) {
        x = cJSON_AddObjectToObject(j, names[s]);
        cJSON_AddStringToObject(x, "file", files[s]);
        cJSON_AddNumberToObject(x, "documents", (double)st->docs[s]);
        cJSON_AddNumberToObject(x, "bytes", (double)st->bytes[s]);
        cJSON_AddNumberToObject(x, "tokens", (double)st->tokens[s]);
    }
    a = cJSON_AddArrayToObject(j, "val_documents");
    for (int64_t i = 0; i < l->n; i++)
        if (is_val[i]) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)i));
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return rl_fail("out of memory (data.json)");
    char p[4200];
    int rc = rl_path(p, sizeof p, "%s/%s", o->out_dir, RL_DATA_JSON);
    if (rc == 0) {
        size_t n = strlen(s);
        s[n] = '\n';
        rc = rl_write_atomic(p, s, n + 1);
    }
    free(s);
    return rc;
}

int rl_data_prepare(const rl_prepare_opts *o, rl_prepare_stats *st) {
    memset(st, 0, sizeof *st);
    if (o->n_files <= 0) return rl_fail("no text files given");
    if (o->vocab_size < RL_TOK_ROPELAB_FIRST_MERGE + 1 || o->vocab_size > (1 << 20))
        return rl_fail("vocabulary size %d must be in [258, 2^20] (256 bytes + BOS + at least one merge)", o->vocab_size);
    if (!(o->val_frac > 0 && o->val_frac < 1)) return rl_fail("validation fraction %g must be in (0, 1)", o->val_frac);
    if (!o->out_dir) return rl_fail("no output folder given");
    char **texts = rl_calloc((size_t)o->n_files, sizeof *texts, "file texts");
    size_t *lens = rl_calloc((size_t)o->n_files, sizeof *lens, "file sizes");
    doc_list l = {0};
    uint8_t *is_val = NULL;
    int64_t *perm = NULL;
    const char **dt = NULL;
    size_t *dl = NULL;
    rl_tokenizer *tok = NULL;
    rl_ids ids[2] = {{0}, {0}};
    int rc = -1;
    if (!texts || !lens) goto out;
    for (int f = 0; f < o->n_files; f++) {
        if (rl_read_file(o->files[f], &texts[f], &lens[f])) goto out;
        if (split_file(&l, texts[f], lens[f], f, o->split)) goto out;
    }
    st->docs_skipped = l.skipped;
    if (l.n < 2) {
        rl_fail("the text has %lld non-empty document%s (document split \"%s\"); a train/validation split by document needs "
                "at least 2: give more files, or another --doc-split (formfeed, file, blank)",
                (long long)l.n, l.n == 1 ? "" : "s", rl_doc_split_name(o->split));
        goto out;
    }
    /* hold out round(frac * n) documents, at least 1 and at most n - 1, by a seeded shuffle */
    int64_t n_val = llround(o->val_frac * (double)l.n);
    n_val = RL_MAX(1, RL_MIN(l.n - 1, n_val));
    is_val = rl_calloc((size_t)l.n, 1, "split");
    perm = rl_malloc((size_t)l.n * sizeof *perm, "split");
    if (!is_val || !perm) goto out;
    for (int64_t i = 0; i < l.n; i++) perm[i] = i;
    rl_rng r;
    rl_rng_seed(&r, o->seed);
    for (int64_t i = l.n - 1; i > 0; i--) {
        int64_t k = (int64_t)rl_rng_below(&r, (uint64_t)i + 1);
        int64_t tmp = perm[i];
        perm[i] = perm[k];
        perm[k] = tmp;
    }
    for (int64_t i = 0; i < n_val; i++) is_val[perm[i]] = 1;
    st->docs[1] = n_val;
    st->docs[0] = l.n - n_val;
    st->bytes[0] = sum_bytes(&l, is_val, 0);
    st->bytes[1] = sum_bytes(&l, is_val, 1);
    /* BPE on the training documents only */
    dt = rl_malloc((size_t)st->docs[0] * sizeof *dt, "documents");
    dl = rl_malloc((size_t)st->docs[0] * sizeof *dl, "documents");
    if (!dt || !dl) goto out;
    int64_t k = 0;
    for (int64_t i = 0; i < l.n; i++)
        if (!is_val[i]) dt[k] = l.v[i].text, dl[k++] = l.v[i].len;
    double t0 = rl_now();
    tok = rl_bpe_train(dt, dl, k, o->vocab_size, o->progress);
    if (!tok) goto out;
    st->bpe_seconds = rl_now() - t0;
    st->vocab_size = rl_tok_vocab_size(tok);
    t0 = rl_now();
    for (int s = 0; s < 2; s++)
        if (encode_split(tok, &l, is_val, s, &ids[s])) goto out;
    st->encode_seconds = rl_now() - t0;
    st->tokens[0] = ids[0].n;
    st->tokens[1] = ids[1].n;
    /* outputs: every file atomic; data.json last, so its presence means the folder is complete */
    char p[4200];
    if (rl_mkdirs(o->out_dir) || rl_path(p, sizeof p, "%s/%s", o->out_dir, RL_DATA_TOKENIZER) || rl_tok_save(tok, p)) goto out;
    if (rl_path(p, sizeof p, "%s/%s", o->out_dir, RL_DATA_TRAIN) || rl_shard_write(p, st->vocab_size, ids[0].v, ids[0].n)) goto out;
    if (rl_path(p, sizeof p, "%s/%s", o->out_dir, RL_DATA_VAL) || rl_shard_write(p, st->vocab_size, ids[1].v, ids[1].n)) goto out;
    if (write_json(o, &l, lens, is_val, st, rl_tok_bos(tok))) goto out;
    rc = 0;
out:
    for (int f = 0; texts && f < o->n_files; f++) free(texts[f]);
    free(texts);
    free(lens);
    free(l.v);
    free(is_val);
    free(perm);
    free(dt);
    free(dl);
    free(ids[0].v);
    free(ids[1].v);
    rl_tok_free(tok);
    return rc;
}
