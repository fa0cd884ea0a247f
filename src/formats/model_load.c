/* rl_load_model: tells a Hugging Face / ropelab folder, a ropelab run folder, a GGUF file, a bare
 * safetensors file and a llama2.c checkpoint apart, and hands over to the format's loader. */
#include "model_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ml_folder_tokenizer(const char *dir, const char *tokenizer_path, rl_tokenizer **tok) {
    *tok = NULL;
    if (tokenizer_path) {
        *tok = rl_tok_load(tokenizer_path);
        return *tok ? 0 : -1;
    }
    if (!dir) return 0;
    const char *names[] = {"tokenizer.json", "tokenizer.bin"};
    for (int i = 0; i < 2; i++) {
        char p[4200];
        if (rl_path(p, sizeof p, "%s/%s", dir, names[i]) != 0) return -1;
        if (rl_file_exists(p)) {
            *tok = rl_tok_load(p);
            return *tok ? 0 : -1;
        }
    }
    return 0;
}

/* The folder a run folder's `checkpoint` entry resolves to: a symlink to a ckpt-NNNNNNN folder, or
 * a file naming one. */
static int follow_checkpoint(const char *dir, char *out, size_t n) {
    char link[4200];
    if (rl_path(link, sizeof link, "%s/checkpoint", dir) != 0) return -1;
    struct stat st;
    if (stat(link, &st) != 0)
        return rl_fail("%s: `checkpoint` points nowhere (%s): the run has no complete checkpoint yet", link, strerror(errno));
    if (S_ISDIR(st.st_mode)) { /* name the folder it resolves to, so messages say which checkpoint */
        char real[PATH_MAX];
        return rl_path(out, n, "%s", realpath(link, real) ? real : link);
    }
    char *text;
    size_t len;
    if (rl_read_file(link, &text, &len) != 0) return -1;
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\r')) text[--len] = '\0';
    int rc = len == 0 || memchr(text, '\0', len) ? rl_fail("%s: expected the name of a checkpoint folder", link)
             : text[0] == '/'                    ? rl_path(out, n, "%s", text)
                                                 : rl_path(out, n, "%s/%s", dir, text);
    free(text);
    return rc;
}

int rl_run_checkpoint(const char *path, char *out, size_t n) {
    struct stat st;
    char cfg[4200], ck[4200];
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    if (rl_path(cfg, sizeof cfg, "%s/config.json", path) != 0 || rl_path(ck, sizeof ck, "%s/checkpoint", path) != 0)
        return -1;
    if (rl_file_exists(cfg) || lstat(ck, &st) != 0) return 0;
    return follow_checkpoint(path, out, n) == 0 ? 1 : -1;
}

int rl_load_model(const char *path, const char *tokenizer_path, rl_loaded *out) {
    memset(out, 0, sizeof *out);
    rl_clear_error();
    char resolved[4200];
    struct stat st;
    if (stat(path, &st) != 0) return rl_fail("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        int run = rl_run_checkpoint(path, resolved, sizeof resolved);
        if (run < 0) return -1;
        const char *dir = run ? resolved : path; /* a ropelab run folder: its newest complete checkpoint */
        char cfg[4200];
        if (rl_path(cfg, sizeof cfg, "%s/config.json", dir) != 0) return -1;
        if (rl_file_exists(cfg)) return ml_load_hf_dir(dir, tokenizer_path, out);
        if (run) return rl_fail("%s: the checkpoint folder %s has no config.json", path, resolved);
        return rl_fail("%s: a folder without config.json (a Hugging Face or ropelab checkpoint) or `checkpoint` (a "
                       "ropelab run folder)",
                       path);
    }
    /* a file: by content */
    uint8_t head[9] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return rl_fail("%s: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got >= 4 && memcmp(head, "GGUF", 4) == 0) return ml_load_gguf(path, tokenizer_path, out);
    uint64_t hlen = 0;
    memcpy(&hlen, head, 8);
    if (got == 9 && head[8] == '{' && hlen + 8 <= (uint64_t)st.st_size)
        return ml_load_safetensors_file(path, tokenizer_path, out);
    return ml_load_llama2c(path, tokenizer_path, out);
}

void rl_loaded_free(rl_loaded *l) {
    if (!l) return;
    rl_model_free(l->model);
    rl_tok_free(l->tok);
    ml_priv_free(l->priv);
    memset(l, 0, sizeof *l);
}
