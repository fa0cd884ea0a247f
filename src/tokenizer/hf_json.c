/* Hugging Face tokenizer.json (model type BPE): byte-level (GPT-2 / Llama 3 / Qwen2) and
 * sentencepiece-style (Llama 2 / Gemma) flavours, parsed with cJSON.
 *
 * Understood pieces of the pipeline (anything else fails with a message naming it):
 *   normalizer     null, NFC (treated as identity: input is assumed to be NFC already, which all
 *                  ASCII and nearly all real text is), Prepend("▁"), Replace(" " -> "▁"), Sequence of those
 *   pre_tokenizer  null, ByteLevel (use_regex -> gpt2 split, add_prefix_space), Split with the
 *                  GPT-2 / Llama 3 / Qwen2 regex (behavior Isolated), Metaspace, Sequence of those
 *   model          BPE: vocab, merges ("a b" strings or [a, b] pairs), byte_fallback, fuse_unk,
 *                  ignore_merges, unk_token (continuing_subword_prefix / end_of_word_suffix /
 *                  dropout are rejected)
 *   added_tokens   special -> control tokens, others -> user-defined; matched in text with
 *                  RL_ENC_SPECIAL (lstrip / rstrip / normalized flags are ignored)
 * The decoder is implied by the flavour (byte alphabet, or ▁ -> space + <0xXX> bytes + strip of
 * the dummy-prefix space). */
#include "tok_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* The pipeline settings read from the JSON before the tokenizer exists. */
typedef struct {
    int byte_level, add_prefix_space, pre;
    const char *space_sym; /* "▁" (Replace / Metaspace) or NULL */
    int prefix, prefix_unless_space, metaspace_split;
} pipeline;

static const char *type_of(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "(no type)";
}

static int flag(const cJSON *o, const char *name, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

static int normalizer(const char *path, const cJSON *n, pipeline *p) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *ty = type_of(n);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(n, "normalizers")) if (normalizer(path, c, p)) return -1;
        return 0;
    }
    if (strcmp(ty, "NFC") == 0) return 0;
    if (strcmp(ty, "Prepend") == 0) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(n, "prepend");
        if (!cJSON_IsString(s) || strcmp(s->valuestring, "\xe2\x96\x81") != 0)
            return rl_fail("%s: normalizer Prepend: only \"\xe2\x96\x81\" is supported", path);
        p->prefix = TK_PREFIX_EVERY;
        p->prefix_unless_space = 0;
        return 0;
    }
    if (strcmp(ty, "Replace") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(n, "content");
        if (!cJSON_IsString(s) || strcmp(s->valuestring, " ") != 0 || !cJSON_IsString(c) ||
            strcmp(c->valuestring, "\xe2\x96\x81") != 0)
            return rl_fail("%s: normalizer Replace: only \" \" -> \"\xe2\x96\x81\" is supported", path);
        p->space_sym = "\xe2\x96\x81";
        return 0;
    }
    return rl_fail("%s: normalizer type %s is not supported (ropelab handles NFC, Prepend, Replace and Sequence)", path, ty);
}

static int pre_tokenizer(const char *path, const cJSON *n, pipeline *p) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *ty = type_of(n);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(n, "pretokenizers")) if (pre_tokenizer(path, c, p)) return -1;
        return 0;
    }
    if (strcmp(ty, "ByteLevel") == 0) {
        p->byte_level = 1;
        p->add_prefix_space = flag(n, "add_prefix_space", 0);
        if (flag(n, "use_regex", 1)) {
            if (p->pre != TK_PRE_NONE) return rl_fail("%s: pre_tokenizer: two split patterns (Split and ByteLevel use_regex)", path);
            p->pre = TK_PRE_GPT2;
        }
        return 0;
    }
    if (strcmp(ty, "Split") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(n, "behavior");
        if (!cJSON_IsString(re)) return rl_fail("%s: pre_tokenizer Split: only Regex patterns are supported", path);
        if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") != 0 || flag(n, "invert", 0))
            return rl_fail("%s: pre_tokenizer Split: only behavior Isolated without invert is supported", path);
        int pre = strcmp(re->valuestring, GPT2_RE) == 0     ? TK_PRE_GPT2
                  : strcmp(re->valuestring, LLAMA3_RE) == 0 ? TK_PRE_LLAMA3
                  : strcmp(re->valuestring, QWEN2_RE) == 0  ? TK_PRE_QWEN2
                                                            : -1;
        if (pre < 0)
            return rl_fail("%s: pre_tokenizer Split: regex \"%.120s\" is not one ropelab implements (GPT-2, Llama 3, Qwen2)",
                           path, re->valuestring);
        if (p->pre != TK_PRE_NONE) return rl_fail("%s: pre_tokenizer: two split patterns", path);
        p->pre = pre;
        return 0;
    }
    if (strcmp(ty, "Metaspace") == 0) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(n, "replacement");
        if (!cJSON_IsString(r) || strcmp(r->valuestring, "\xe2\x96\x81") != 0)
            return rl_fail("%s: pre_tokenizer Metaspace: only the replacement \"\xe2\x96\x81\" is supported", path);
        p->space_sym = "\xe2\x96\x81";
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(n, "prepend_scheme");
        if (cJSON_IsString(ps)) {
            if (strcmp(ps->valuestring, "always") == 0) p->prefix = TK_PREFIX_EVERY;
            else if (strcmp(ps->valuestring, "first") == 0) p->prefix = TK_PREFIX_FIRST;
            else if (strcmp(ps->valuestring, "never") == 0) p->prefix = TK_PREFIX_NONE;
            else return rl_fail("%s: pre_tokenizer Metaspace: unknown prepend_scheme \"%s\"", path, ps->valuestring);
        } else {
            p->prefix = flag(n, "add_prefix_space", 1) ? TK_PREFIX_EVERY : TK_PREFIX_NONE;
        }
        p->prefix_unless_space = 1;
        p->metaspace_split = flag(n, "split", 1);
        return 0;
    }
    return rl_fail("%s: pre_tokenizer type %s is not supported (ropelab handles ByteLevel, Split, Metaspace and Sequence)",
                   path, ty);
}

/* A JSON token name (string, or {"content": ...}) -> id, or -1. */
static int named(const rl_tokenizer *t, const cJSON *v) {
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v)) return -1;
    return tk_find_text(t, v->valuestring, strlen(v->valuestring));
}

static void find_bos_eos(rl_tokenizer *t, const char *path, const cJSON *root) {
    /* 1. tokenizer_config.json next to the file */
    char cfg[4200];
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(cfg, sizeof cfg, "%.*s/tokenizer_config.json", (int)(slash - path), path);
    else snprintf(cfg, sizeof cfg, "tokenizer_config.json");
    char *text;
    size_t n;
    if (rl_file_exists(cfg) && rl_read_file(cfg, &text, &n) == 0) {
        cJSON *c = cJSON_ParseWithLength(text, n);
        free(text);
        if (c) {
            t->bos = named(t, cJSON_GetObjectItemCaseSensitive(c, "bos_token"));
            t->eos = named(t, cJSON_GetObjectItemCaseSensitive(c, "eos_token"));
            cJSON_Delete(c);
        }
    }
    rl_clear_error();
    /* 2. the post-processor's template: a special token before $A is the BOS */
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (t->bos < 0 && cJSON_IsObject(pp)) {
        const cJSON *procs = cJSON_GetObjectItemCaseSensitive(pp, "processors"), *single = NULL, *c;
        if (strcmp(type_of(pp), "TemplateProcessing") == 0) single = cJSON_GetObjectItemCaseSensitive(pp, "single");
        cJSON_ArrayForEach(c, procs) if (strcmp(type_of(c), "TemplateProcessing") == 0) single = cJSON_GetObjectItemCaseSensitive(c, "single");
        const cJSON *first = cJSON_GetArrayItem(single, 0);
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(first, "SpecialToken");
        if (sp) t->bos = named(t, cJSON_GetObjectItemCaseSensitive(sp, "id"));
    }
    /* 3. well-known names */
    static const char *bos_names[] = {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|endoftext|>"};
    static const char *eos_names[] = {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"};
    for (size_t i = 0; t->bos < 0 && i < RL_ARRAY_LEN(bos_names); i++) t->bos = tk_find_text(t, bos_names[i], strlen(bos_names[i]));
    for (size_t i = 0; t->eos < 0 && i < RL_ARRAY_LEN(eos_names); i++) t->eos = tk_find_text(t, eos_names[i], strlen(eos_names[i]));
}

rl_tokenizer *rl_tok_load_hf(const char *path) {
    char *text = NULL;
    size_t len;
    if (rl_read_file(path, &text, &len)) return NULL;
    rl_tokenizer *t = tk_hf_from_json(text, len, path);
    free(text);
    return t;
}

rl_tokenizer *tk_hf_from_json(const char *text, size_t len, const char *path) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    rl_tokenizer *t = NULL;
    const char **txt = NULL;
    size_t *lens = NULL;
    uint8_t *types = NULL;
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        rl_fail("%s: not valid JSON (near byte %lld)", path, e ? (long long)(e - text) : -1LL);
        goto fail;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) {
        rl_fail("%s: no \"model\" object: not a Hugging Face tokenizer.json", path);
        goto fail;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (cJSON_IsString(mt) && strcmp(mt->valuestring, "BPE") != 0) {
        rl_fail("%s: model type %s is not supported (ropelab reads BPE tokenizers)", path, mt->valuestring);
        goto fail;
    }
    if (!cJSON_IsString(mt) && !cJSON_IsArray(merges)) {
        rl_fail("%s: model has no type and no merges: not a BPE tokenizer", path);
        goto fail;
    }
    if (!cJSON_IsObject(vocab)) {
        rl_fail("%s: model.vocab is missing or not an object", path);
        goto fail;
    }
    if (!cJSON_IsArray(merges)) {
        rl_fail("%s: model.merges is missing or not an array", path);
        goto fail;
    }
    const char *bad[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, bad[i]);
        if (cJSON_IsString(v) && v->valuestring[0]) {
            rl_fail("%s: model.%s \"%s\" is not supported", path, bad[i], v->valuestring);
            goto fail;
        }
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0) {
        rl_fail("%s: model.dropout %g is not supported (BPE dropout is random)", path, dropout->valuedouble);
        goto fail;
    }
    /* ids: vocab and added tokens */
    int64_t n_vocab = 0;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), *c;
    cJSON_ArrayForEach(c, vocab) {
        if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble > INT32_MAX - 1 || c->valuedouble != (double)c->valueint) {
            rl_fail("%s: model.vocab[\"%.40s\"] is not a valid id", path, c->string);
            goto fail;
        }
        if (c->valueint + 1 > n_vocab) n_vocab = c->valueint + 1;
    }
    cJSON_ArrayForEach(c, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id"), *content = cJSON_GetObjectItemCaseSensitive(c, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > INT32_MAX - 1 || !cJSON_IsString(content)) {
            rl_fail("%s: added_tokens: an entry has no valid id / content", path);
            goto fail;
        }
        if (id->valueint + 1 > n_vocab) n_vocab = id->valueint + 1;
    }
    if (n_vocab == 0) {
        rl_fail("%s: model.vocab is empty", path);
        goto fail;
    }
    if (n_vocab > (1 << 24)) {
        rl_fail("%s: ids up to %lld: vocabularies above 2^24 tokens are not supported", path, (long long)n_vocab);
        goto fail;
    }
    txt = rl_calloc((size_t)n_vocab, sizeof *txt, "token texts");
    lens = rl_calloc((size_t)n_vocab, sizeof *lens, "token lengths");
    types = rl_malloc((size_t)n_vocab, "token types");
    if (!txt || !lens || !types) goto fail;
    memset(types, RL_TOKT_UNUSED, (size_t)n_vocab);
    cJSON_ArrayForEach(c, vocab) {
        if (txt[c->valueint]) {
            rl_fail("%s: model.vocab: id %d is given to both \"%.40s\" and \"%.40s\"", path, c->valueint, txt[c->valueint], c->string);
            goto fail;
        }
        txt[c->valueint] = c->string;
        lens[c->valueint] = strlen(c->string);
        types[c->valueint] = RL_TOKT_NORMAL;
    }
    cJSON_ArrayForEach(c, added) {
        int id = cJSON_GetObjectItemCaseSensitive(c, "id")->valueint;
        const char *content = cJSON_GetObjectItemCaseSensitive(c, "content")->valuestring;
        if (txt[id] && strcmp(txt[id], content) != 0) {
            rl_fail("%s: added_tokens: id %d is \"%.40s\" but model.vocab has \"%.40s\"", path, id, content, txt[id]);
            goto fail;
        }
        txt[id] = content;
        lens[id] = strlen(content);
        types[id] = flag(c, "special", 0) ? RL_TOKT_CONTROL : RL_TOKT_USER_DEFINED;
    }
    /* pipeline */
    pipeline p = {0};
    if (normalizer(path, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), &p) ||
        pre_tokenizer(path, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &p))
        goto fail;
    if (p.byte_level && p.space_sym) {
        rl_fail("%s: mixes ByteLevel with \xe2\x96\x81 space replacement: not a supported combination", path);
        goto fail;
    }
    t = tk_new(RL_TOK_BPE, (int)n_vocab, path);
    if (!t || tk_set_vocab(t, txt, lens)) goto fail;
    memcpy(t->type, types, (size_t)n_vocab);
    t->byte_level = p.byte_level;
    t->add_prefix_space = p.add_prefix_space;
    t->pre = p.pre;
    if (!p.byte_level && p.pre != TK_PRE_NONE) {
        rl_fail("%s: a Split pre-tokenizer without ByteLevel is not supported", path);
        goto fail;
    }
    const char *sym = p.space_sym ? p.space_sym : " ";
    t->space_sym_len = (int)strlen(sym);
    memcpy(t->space_sym, sym, (size_t)t->space_sym_len);
    t->prefix = p.prefix;
    t->prefix_unless_space = p.prefix_unless_space;
    t->metaspace_split = p.metaspace_split;
    t->byte_fallback = flag(model, "byte_fallback", 0);
    t->fuse_unk = flag(model, "fuse_unk", 0);
    t->ignore_merges = flag(model, "ignore_merges", 0);
    if (t->byte_fallback)
        for (int64_t i = 0; i < n_vocab; i++)
            if (types[i] == RL_TOKT_NORMAL && tk_parse_byte_token(txt[i], lens[i]) >= 0) t->type[i] = RL_TOKT_BYTE;
    if (tk_finish(t)) goto fail;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        t->unk = tk_find_text(t, unk->valuestring, strlen(unk->valuestring));
        if (t->unk < 0) {
            rl_fail("%s: model.unk_token \"%.40s\" is not in the vocabulary", path, unk->valuestring);
            goto fail;
        }
        if (t->type[t->unk] == RL_TOKT_NORMAL) t->type[t->unk] = RL_TOKT_UNKNOWN;
    }
    int32_t rank = 0;
    if (tk_u64map_init(&t->pairs, (size_t)cJSON_GetArraySize(merges))) goto fail;
    cJSON_ArrayForEach(c, merges) {
        int rc;
        if (cJSON_IsString(c)) {
            rc = tk_add_merge_line(t, c->valuestring, strlen(c->valuestring), rank, "model.merges");
        } else if (cJSON_IsArray(c) && cJSON_GetArraySize(c) == 2 && cJSON_IsString(cJSON_GetArrayItem(c, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(c, 1))) {
            const char *l = cJSON_GetArrayItem(c, 0)->valuestring, *r = cJSON_GetArrayItem(c, 1)->valuestring;
            rc = tk_add_merge_texts(t, l, strlen(l), r, strlen(r), rank, "model.merges");
        } else {
            rc = rl_fail("%s: model.merges[%d] is neither \"a b\" nor [\"a\", \"b\"]", path, rank);
        }
        if (rc) goto fail;
        rank++;
    }
    t->n_merges = rank;
    find_bos_eos(t, path, root);
    free(txt);
    free(lens);
    free(types);
    cJSON_Delete(root);
    return t;
fail:
    free(txt);
    free(lens);
    free(types);
    rl_tok_free(t);
    cJSON_Delete(root);
    return NULL;
}
