/* `ropelab data prepare|info|encode|decode`: training shards from text, and a look inside tokenizers and shards. */
#include "cli.h"
#include "commands.h"
#include "ropelab/data.h"
#include "ropelab/tokenizer.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int data_prepare(int argc, char **argv) {
    cli_strs text = {0};
    int64_t vocab = 4096, seed = 1337;
    double val_frac = 0.1;
    const char *out = NULL, *split = "formfeed";
    cli_opt opts[] = {
        {"text", CLI_STRS, &text, "FILE", "text files (UTF-8 or any bytes); required", 0},
        {"vocab", CLI_INT, &vocab, "N", "BPE vocabulary size, 258..1048576 (default 4096)", 0},
        {"out", CLI_STR, &out, "DIR", "output folder (required)", 0},
        {"val-frac", CLI_DBL, &val_frac, "F", "fraction of documents held out for validation, in (0,1) (default 0.1)", 0},
        {"seed", CLI_INT, &seed, "S", "seed of the train/validation split (default 1337)", 0},
        {"doc-split", CLI_STR, &split, "MODE", "what a document is: formfeed (split files at \\f; default), file, blank", 0},
    };
    cli_spec spec = {
        "ropelab data prepare --text FILE... --vocab N --out DIR [--val-frac 0.1] [--seed S] [--doc-split MODE]",
        "Splits the text into documents, holds out --val-frac of them (by document, seeded) for validation,\n"
        "trains a byte-level BPE tokenizer on the training documents and writes DIR/tokenizer.bin,\n"
        "DIR/train.bin, DIR/val.bin (token shards, each document preceded by BOS) and DIR/data.json (counts).\n"
        "Documents: formfeed = the pieces of each file between form feeds (a file without one is one\n"
        "document); file = each file; blank = pieces separated by two or more blank lines. Surrounding white\n"
        "space is trimmed and empty documents are skipped. Formats: docs/data.md.",
        opts, (int)RL_ARRAY_LEN(opts), 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) {
        free(text.v);
        return rc == 1 ? 0 : rc;
    }
    rl_prepare_opts o;
    rl_prepare_defaults(&o);
    if (text.n == 0) return cli_usage_error("data prepare", "--text FILE... is required");
    if (!out) {
        free(text.v);
        return cli_usage_error("data prepare", "--out DIR is required");
    }
    if (vocab < 258 || vocab > (1 << 20)) {
        free(text.v);
        return cli_usage_error("data prepare", "--vocab %lld must be in [258, 1048576] (256 bytes + BOS + at least one merge)",
                               (long long)vocab);
    }
    if (!(val_frac > 0 && val_frac < 1)) {
        free(text.v);
        return cli_usage_error("data prepare", "--val-frac %g must be in (0, 1)", val_frac);
    }
    if (seed < 0 || seed > (int64_t)1 << 53) {
        free(text.v);
        return cli_usage_error("data prepare", "--seed %lld must be in [0, 2^53]", (long long)seed);
    }
    if (rl_doc_split_parse(split, &o.split)) {
        free(text.v);
        return cli_usage_error("data prepare", "--doc-split: %s", rl_error());
    }
    o.files = text.v;
    o.n_files = text.n;
    o.vocab_size = (int)vocab;
    o.val_frac = val_frac;
    o.seed = (uint64_t)seed;
    o.out_dir = out;
    o.progress = !rl_quiet();
    rl_prepare_stats st;
    rc = rl_data_prepare(&o, &st);
    free(text.v);
    if (rc) return cli_report("data prepare");
    int64_t bytes = st.bytes[0] + st.bytes[1], toks = st.tokens[0] + st.tokens[1];
    printf("documents: %lld train + %lld validation (%lld empty skipped), split \"%s\", seed %lld\n", (long long)st.docs[0],
           (long long)st.docs[1], (long long)st.docs_skipped, rl_doc_split_name(o.split), (long long)seed);
    printf("tokenizer: %s/%s, %d tokens, BPE trained on %.2f MB in %.2f s\n", out, RL_DATA_TOKENIZER, st.vocab_size,
           (double)st.bytes[0] / 1e6, st.bpe_seconds);
    printf("train:     %s/%s, %lld tokens from %.2f MB\n", out, RL_DATA_TRAIN, (long long)st.tokens[0], (double)st.bytes[0] / 1e6);
    printf("val:       %s/%s, %lld tokens from %.2f MB\n", out, RL_DATA_VAL, (long long)st.tokens[1], (double)st.bytes[1] / 1e6);
    printf("encoding:  %.2f bytes/token, %.1f MB/s\n", toks ? (double)bytes / (double)toks : 0.0,
           st.encode_seconds > 0 ? (double)bytes / 1e6 / st.encode_seconds : 0.0);
    return 0;
}

/* ---- info -------------------------------------------------------------------------------------- */

static void print_tokenizer(const rl_tokenizer *t, const char *path) {
    printf("tokenizer %s\n  kind %s, vocabulary %d, BOS %d, EOS %d\n", path, rl_tok_kind_name(rl_tok_kind_of(t)),
           rl_tok_vocab_size(t), rl_tok_bos(t), rl_tok_eos(t));
    if (rl_tok_kind_of(t) == RL_TOK_ROPELAB) {
        int V = rl_tok_vocab_size(t);
        printf("  256 byte tokens, BOS \"<|bos|>\" = 256, %d merges; first merges:", V - RL_TOK_ROPELAB_FIRST_MERGE);
        for (int id = RL_TOK_ROPELAB_FIRST_MERGE; id < RL_MIN(V, RL_TOK_ROPELAB_FIRST_MERGE + 8); id++) {
            size_t n;
            const char *s = rl_tok_text(t, id, &n);
            printf(" \"%.*s\"", (int)n, s);
        }
        printf("\n");
    }
}

static void print_shard(const rl_shard *s) {
    printf("shard %s\n  header: magic %d, version %d, vocab_size %d, token_count %lld\n  tokens: %s, first:", s->path,
           RL_SHARD_MAGIC, RL_SHARD_VERSION, s->vocab_size, (long long)s->n_tokens, s->width == 2 ? "uint16" : "uint32");
    for (int64_t i = 0; i < RL_MIN(s->n_tokens, 12); i++) printf(" %d", rl_shard_token(s, i));
    printf("\n");
}

static int info_dir(const char *dir) {
    rl_dataset d;
    if (rl_dataset_open(&d, dir)) return cli_report("data info");
    char p[4200];
    char *text;
    size_t n;
    if (rl_path(p, sizeof p, "%s/%s", dir, RL_DATA_JSON) == 0 && rl_read_file(p, &text, &n) == 0) {
        cJSON *j = cJSON_ParseWithLength(text, n);
        free(text);
        const char *names[2] = {"train", "val"};
        for (int s = 0; j && s < 2; s++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, names[s]);
            const cJSON *docs = cJSON_GetObjectItemCaseSensitive(x, "documents"), *b = cJSON_GetObjectItemCaseSensitive(x, "bytes");
            if (cJSON_IsNumber(docs) && cJSON_IsNumber(b))
                printf("%-5s %lld documents, %lld bytes\n", names[s], (long long)docs->valuedouble, (long long)b->valuedouble);
        }
        if (!j) printf("warning: %s is not valid JSON\n", p);
        cJSON_Delete(j);
    } else {
        printf("warning: %s: %s\n", p, rl_error());
    }
    rl_path(p, sizeof p, "%s/%s", dir, RL_DATA_TOKENIZER);
    print_tokenizer(d.tok, p);
    print_shard(&d.train);
    print_shard(&d.val);
    rl_dataset_close(&d);
    return 0;
}

static int data_info(int argc, char **argv) {
    cli_spec spec = {"ropelab data info DIR|FILE",
                     "Checks and describes a prepared folder (tokenizer + shards + data.json), one shard, or any\n"
                     "tokenizer file (ropelab, llama2.c tokenizer.bin, Hugging Face tokenizer.json).",
                     NULL, 0, 1, 1};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) return rc == 1 ? 0 : rc;
    const char *path = pos[0];
    free(pos);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return info_dir(path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        rl_fail("%s: cannot open", path);
        return cli_report("data info");
    }
    unsigned char head[8] = {0};
    size_t n = fread(head, 1, 8, f);
    fclose(f);
    int32_t magic = n >= 4 ? (int32_t)((uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 | (uint32_t)head[3] << 24) : 0;
    if (magic == RL_SHARD_MAGIC) {
        rl_shard s;
        if (rl_shard_open(&s, path, 0)) return cli_report("data info");
        print_shard(&s);
        rl_shard_close(&s);
        return 0;
    }
    rl_tokenizer *t = rl_tok_load(path);
    if (!t) return cli_report("data info");
    print_tokenizer(t, path);
    rl_tok_free(t);
    return 0;
}

/* ---- encode / decode ----------------------------------------------------------------------------- */

static int data_encode(int argc, char **argv) {
    const char *tokp = NULL, *text = NULL, *file = NULL;
    int bos = 0, eos = 0, special = 0, no_prefix = 0;
    cli_opt opts[] = {
        {"tokenizer", CLI_STR, &tokp, "FILE", "tokenizer file: ropelab, llama2.c tokenizer.bin or tokenizer.json (required)", 0},
        {"text", CLI_STR, &text, "STRING", "the text to encode", 0},
        {"file", CLI_STR, &file, "FILE", "encode this file instead", 0},
        {"bos", CLI_FLAG, &bos, NULL, "prepend BOS", 0},
        {"eos", CLI_FLAG, &eos, NULL, "append EOS", 0},
        {"special", CLI_FLAG, &special, NULL, "recognise special-token texts in the input (as Hugging Face does)", 0},
        {"no-prefix", CLI_FLAG, &no_prefix, NULL, "sentencepiece kinds: no dummy-prefix space", 0},
    };
    cli_spec spec = {"ropelab data encode --tokenizer FILE (--text STRING | --file FILE) [--bos] [--eos] [--special]",
                     "Prints the token ids of the text, separated by spaces.", opts, (int)RL_ARRAY_LEN(opts), 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!tokp) return cli_usage_error("data encode", "--tokenizer FILE is required");
    if (!text == !file) return cli_usage_error("data encode", "give exactly one of --text STRING and --file FILE");
    char *buf = NULL;
    size_t n = text ? strlen(text) : 0;
    if (file && rl_read_file(file, &buf, &n)) return cli_report("data encode");
    rl_tokenizer *t = rl_tok_load(tokp);
    rl_ids ids = {0};
    unsigned flags = (bos ? RL_ENC_BOS : 0) | (eos ? RL_ENC_EOS : 0) | (special ? RL_ENC_SPECIAL : 0) | (no_prefix ? RL_ENC_NO_PREFIX : 0);
    if (!t || rl_tok_encode(t, file ? buf : text, n, flags, &ids)) {
        free(buf);
        rl_tok_free(t);
        return cli_report("data encode");
    }
    for (int64_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", ids.v[i]);
    printf("\n");
    free(ids.v);
    free(buf);
    rl_tok_free(t);
    return 0;
}

static int data_decode(int argc, char **argv) {
    const char *tokp = NULL;
    int special = 0;
    cli_opt opts[] = {
        {"tokenizer", CLI_STR, &tokp, "FILE", "tokenizer file (required)", 0},
        {"special", CLI_FLAG, &special, NULL, "also print control tokens (BOS, EOS, ...)", 0},
    };
    cli_spec spec = {"ropelab data decode --tokenizer FILE ID...", "Prints the text of the token ids (raw bytes).", opts,
                     (int)RL_ARRAY_LEN(opts), 1, -1};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) return rc == 1 ? 0 : rc;
    if (!tokp) {
        free(pos);
        return cli_usage_error("data decode", "--tokenizer FILE is required");
    }
    int32_t *ids = malloc((size_t)np * sizeof *ids);
    for (int i = 0; ids && i < np; i++) {
        int64_t v;
        if (rl_parse_int64(pos[i], &v) || v < INT32_MIN || v > INT32_MAX) {
            int e = cli_usage_error("data decode", "id \"%s\" is not an integer", pos[i]);
            free(ids);
            free(pos);
            return e;
        }
        ids[i] = (int32_t)v;
    }
    free(pos);
    rl_tokenizer *t = rl_tok_load(tokp);
    char *text;
    size_t n;
    if (!ids || !t || rl_tok_decode(t, ids, np, special ? RL_DEC_SPECIAL : 0, &text, &n)) {
        free(ids);
        rl_tok_free(t);
        return cli_report("data decode");
    }
    fwrite(text, 1, n, stdout);
    printf("\n");
    free(text);
    free(ids);
    rl_tok_free(t);
    return 0;
}

int cmd_data(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"prepare", data_prepare}, {"info", data_info}, {"encode", data_encode}, {"decode", data_decode}};
    if (argc >= 2)
        for (size_t i = 0; i < RL_ARRAY_LEN(subs); i++)
            if (strcmp(argv[1], subs[i].name) == 0) return subs[i].fn(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ropelab data prepare --text FILE... --vocab N --out DIR [options]\n"
               "       ropelab data info DIR|FILE\n"
               "       ropelab data encode --tokenizer FILE (--text STRING | --file FILE) [--bos] [--eos] [--special]\n"
               "       ropelab data decode --tokenizer FILE ID...\n"
               "(ropelab data SUBCOMMAND --help for the options)\n");
        return 0;
    }
    fprintf(stderr, "ropelab data: expected a subcommand: prepare, info, encode, decode (see ropelab data --help)\n");
    return 2;
}
