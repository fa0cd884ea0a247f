/* `ropelab export CHECKPOINT --hf DIR | --gguf FILE`: a checkpoint as a Hugging Face folder or a GGUF file. */
#include "cli.h"
#include "commands.h"
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tokenizer file the load used (given, or the folder's / llama2.c's default), for copying into
 * the exported folder; NULL when there is none (GGUF vocabularies live in the metadata). */
static const char *tokenizer_file(const rl_loaded *L, const char *given, char *buf, size_t n) {
    if (given) return given;
    const char *names[] = {"tokenizer.json", "tokenizer.bin"};
    if (strcmp(L->format, "hf") == 0) {
        for (int i = 0; i < 2; i++)
            if (rl_path(buf, n, "%s/%s", L->source, names[i]) == 0 && rl_file_exists(buf)) return buf;
    } else if (strcmp(L->format, "llama2c") == 0) {
        const char *slash = strrchr(L->source, '/');
        if (rl_path(buf, n, "%.*s%stokenizer.bin", slash ? (int)(slash - L->source) : 0, L->source, slash ? "/" : "") == 0 &&
            rl_file_exists(buf))
            return buf;
    }
    return NULL;
}

/* Copies src into dir under the name a folder loader looks for (tokenizer.json for JSON, else
 * tokenizer.bin), plus a tokenizer_config.json beside a tokenizer.json (it holds BOS/EOS). */
static int copy_tokenizer(const char *src, const char *dir) {
    char *data, dst[4200];
    size_t len;
    if (rl_read_file(src, &data, &len) != 0) return -1;
    int json = len > 0 && data[0] == '{';
    int rc = rl_path(dst, sizeof dst, "%s/%s", dir, json ? "tokenizer.json" : "tokenizer.bin") == 0 &&
                     rl_write_atomic(dst, data, len) == 0
                 ? 0
                 : -1;
    free(data);
    if (rc == 0 && json) {
        char cfg[4200];
        const char *slash = strrchr(src, '/');
        if (rl_path(cfg, sizeof cfg, "%.*s%stokenizer_config.json", slash ? (int)(slash - src) : 0, src, slash ? "/" : "") == 0 &&
            rl_file_exists(cfg) && rl_read_file(cfg, &data, &len) == 0) {
            rc = rl_path(dst, sizeof dst, "%s/tokenizer_config.json", dir) == 0 && rl_write_atomic(dst, data, len) == 0 ? 0 : -1;
            free(data);
        }
    }
    return rc;
}

int cmd_export(int argc, char **argv) {
    const char *hf = NULL, *gguf = NULL, *dtype_s = "f32", *tok_path = NULL;
    int no_tok = 0;
    cli_opt opts[] = {
        {"hf", CLI_STR, &hf, "DIR", "write a Hugging Face folder: config.json + model.safetensors (+ the tokenizer file)", 0},
        {"gguf", CLI_STR, &gguf, "FILE", "write a GGUF v3 file for llama.cpp (with the vocabulary)", 0},
        {"dtype", CLI_STR, &dtype_s, "T", "f32 (default), f16, bf16; for GGUF also q8_0", 0},
        {"tokenizer", CLI_STR, &tok_path, "FILE", "tokenizer to use instead of the checkpoint's own", 0},
        {"no-tokenizer", CLI_FLAG, &no_tok, NULL, "write no vocabulary / tokenizer file", 0},
    };
    cli_spec spec = {"ropelab export CHECKPOINT (--hf DIR | --gguf FILE) [--dtype T] [--tokenizer FILE]",
                     "Reads any checkpoint rl_load_model reads (a Hugging Face or ropelab folder, a ropelab run folder,\n"
                     "GGUF, llama2.c) and writes it as a Hugging Face folder (transformers loads it as the same model;\n"
                     "p-RoPE as rope_type \"proportional\"; what no HF key expresses is marked so transformers refuses\n"
                     "it, and the exact config travels in the safetensors metadata) or as a GGUF file (q/k rows\n"
                     "permuted for llama.cpp's rope; what llama.cpp would compute differently is refused with the\n"
                     "reason). Reloading the export gives the same logits. See docs/formats.md, \"Models\".",
                     opts, (int)RL_ARRAY_LEN(opts), 1, 1};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) return rc == 1 ? 0 : rc;
    const char *ckpt = pos[0];
    free(pos);
    if (!hf == !gguf) return cli_usage_error("export", "give exactly one of --hf DIR and --gguf FILE");
    rl_dtype dt;
    if (strcmp(dtype_s, "f32") == 0) dt = RL_DT_F32;
    else if (strcmp(dtype_s, "f16") == 0) dt = RL_DT_F16;
    else if (strcmp(dtype_s, "bf16") == 0) dt = RL_DT_BF16;
    else if (strcmp(dtype_s, "q8_0") == 0 && gguf) dt = RL_DT_Q8_0;
    else return cli_usage_error("export", "--dtype %s: expected f32, f16, bf16%s", dtype_s, gguf ? " or q8_0" : " (q8_0 is GGUF only)");
    rl_loaded L;
    if (rl_load_model(ckpt, tok_path, &L) != 0) return cli_report("export");
    char tbuf[4200];
    const char *tfile = no_tok ? NULL : tokenizer_file(&L, tok_path, tbuf, sizeof tbuf);
    if (hf) {
        rc = rl_mkdirs(hf) == 0 && rl_hf_save(hf, L.model, NULL, dt) == 0 && (!tfile || copy_tokenizer(tfile, hf) == 0) ? 0 : -1;
    } else {
        rc = rl_gguf_export(gguf, L.model, no_tok ? NULL : L.tok, dt);
    }
    if (rc == 0) {
        printf("wrote %s (%s, %s, %zu parameters) from %s (%s)\n", hf ? hf : gguf, hf ? "Hugging Face folder" : "GGUF",
               dtype_s, L.model->n_params, L.source, L.format);
        if (hf && !tfile && L.tok && !no_tok)
            printf("note: the %s vocabulary has no file to copy; the folder has no tokenizer\n", L.format);
    }
    rl_loaded_free(&L);
    if (rc != 0) return cli_report("export");
    return fflush(stdout) == 0 ? 0 : 1;
}
