/* `ropelab inspect FILE_OR_DIR [--json] [--full]`: format, metadata and every tensor of a checkpoint. */
#include "cli.h"
#include "commands.h"
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN 8 /* array elements printed unless --full */

/* A string with control bytes escaped, quoted. */
static void print_str(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_scalar(const rl_meta *m) {
    switch (m->type) {
    case RL_META_U8: case RL_META_U16: case RL_META_U32: case RL_META_U64: printf("%llu", (unsigned long long)m->v.u); break;
    case RL_META_I8: case RL_META_I16: case RL_META_I32: case RL_META_I64: printf("%lld", (long long)m->v.i); break;
    case RL_META_F32: printf("%.9g", m->v.f); break;
    case RL_META_F64: printf("%.17g", m->v.f); break;
    case RL_META_BOOL: printf("%s", m->v.b ? "true" : "false"); break;
    case RL_META_STRING: print_str(m->str, m->str_len); break;
    default: printf("?");
    }
}

static void print_text(const rl_tensors *ts, const char *path, int full) {
    printf("# %s\n# format %s", path, rl_format_name(ts->format));
    if (ts->format == RL_FMT_GGUF)
        printf(" v%u, alignment %llu, data section at offset %llu", ts->gguf_version,
               (unsigned long long)ts->gguf_alignment, (unsigned long long)ts->gguf_data_offset);
    int64_t params = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < ts->n; i++) {
        params += ts->t[i].numel;
        bytes += ts->t[i].nbytes;
    }
    printf("\n# %d tensors, %lld values, %llu bytes of tensor data, %d metadata entries\n", ts->n, (long long)params,
           (unsigned long long)bytes, ts->meta.n);
    if (ts->n_files > 1)
        for (int f = 0; f < ts->n_files; f++) printf("# file %d: %s\n", f, ts->files[f].path);
    printf("\nmetadata:\n");
    for (int i = 0; i < ts->meta.n; i++) {
        const rl_meta *m = &ts->meta.m[i];
        if (m->type != RL_META_ARRAY) {
            printf("  %s (%s) = ", m->key, rl_meta_type_name(m->type));
            print_scalar(m);
            putchar('\n');
            continue;
        }
        printf("  %s (array[%s] x %llu) = [", m->key, rl_meta_type_name(m->elem), (unsigned long long)m->count);
        uint64_t shown = full ? m->count : RL_MIN(m->count, (uint64_t)SHOWN);
        for (uint64_t k = 0; k < shown; k++) {
            if (k) printf(", ");
            const char *s;
            size_t n;
            int64_t iv;
            double dv;
            if (m->elem == RL_META_STRING && rl_meta_arr_str(m, k, &s, &n) == 0) print_str(s, n);
            else if (m->elem == RL_META_BOOL && rl_meta_arr_i64(m, k, &iv) == 0) printf("%s", iv ? "true" : "false");
            else if ((m->elem == RL_META_F32 || m->elem == RL_META_F64) && rl_meta_arr_f64(m, k, &dv) == 0)
                printf("%.9g", dv);
            else if (m->elem == RL_META_U64) { /* may exceed int64: print the stored value as is */
                uint64_t u;
                memcpy(&u, m->arr + 8 * k, 8);
                printf("%llu", (unsigned long long)u);
            }
            else if (rl_meta_arr_i64(m, k, &iv) == 0) printf("%lld", (long long)iv);
        }
        printf("%s]\n", shown < m->count ? ", ..." : "");
    }
    printf("\ntensors:\n  %-48s %-7s %-24s %14s %14s\n", "name", "dtype", "shape", "offset", "bytes");
    for (int i = 0; i < ts->n; i++) {
        const rl_tensor *t = &ts->t[i];
        char shape[256];
        const char *dt = rl_dtype_name(t->dtype);
        if (t->dtype == RL_DT_GGML) rl_ggml_type_info(t->ggml_type, &dt, NULL, NULL);
        printf("  %-48s %-7s %-24s %14llu %14llu", t->name, dt, rl_shape_str(t, shape, sizeof shape),
               (unsigned long long)t->offset, (unsigned long long)t->nbytes);
        if (ts->n_files > 1) printf("  [file %d]", t->file);
        putchar('\n');
    }
}

static cJSON *meta_json(const rl_meta *m, int full) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", m->key);
    cJSON_AddStringToObject(o, "type", rl_meta_type_name(m->type));
    switch (m->type) {
    case RL_META_U8:
    case RL_META_U16:
    case RL_META_U32:
    case RL_META_U64: cJSON_AddNumberToObject(o, "value", (double)m->v.u); break;
    case RL_META_I8:
    case RL_META_I16:
    case RL_META_I32:
    case RL_META_I64: cJSON_AddNumberToObject(o, "value", (double)m->v.i); break;
    case RL_META_F32: case RL_META_F64: cJSON_AddNumberToObject(o, "value", m->v.f); break;
    case RL_META_BOOL: cJSON_AddBoolToObject(o, "value", m->v.b); break;
    case RL_META_STRING: cJSON_AddStringToObject(o, "value", m->str); break;
    case RL_META_ARRAY: {
        cJSON_AddStringToObject(o, "elem", rl_meta_type_name(m->elem));
        cJSON_AddNumberToObject(o, "count", (double)m->count);
        uint64_t shown = full ? m->count : RL_MIN(m->count, (uint64_t)SHOWN);
        cJSON *a = cJSON_AddArrayToObject(o, "value");
        for (uint64_t k = 0; k < shown; k++) {
            const char *s;
            size_t n;
            double dv;
            if (m->elem == RL_META_STRING && rl_meta_arr_str(m, k, &s, &n) == 0) {
                char *z = malloc(n + 1);
                if (!z) break;
                memcpy(z, s, n);
                z[n] = '\0';
                cJSON_AddItemToArray(a, cJSON_CreateString(z));
                free(z);
            } else if (m->elem == RL_META_BOOL) {
                int64_t iv = 0;
                rl_meta_arr_i64(m, k, &iv);
                cJSON_AddItemToArray(a, cJSON_CreateBool(iv != 0));
            } else if (rl_meta_arr_f64(m, k, &dv) == 0) {
                cJSON_AddItemToArray(a, cJSON_CreateNumber(dv));
            }
        }
        cJSON_AddBoolToObject(o, "truncated", shown < m->count);
        break;
    }
    default: break;
    }
    return o;
}

static int print_json(const rl_tensors *ts, const char *path, int full) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "path", path);
    cJSON_AddStringToObject(root, "format", rl_format_name(ts->format));
    if (ts->format == RL_FMT_GGUF) {
        cJSON_AddNumberToObject(root, "gguf_version", ts->gguf_version);
        cJSON_AddNumberToObject(root, "alignment", (double)ts->gguf_alignment);
        cJSON_AddNumberToObject(root, "data_offset", (double)ts->gguf_data_offset);
    }
    cJSON *files = cJSON_AddArrayToObject(root, "files");
    for (int f = 0; f < ts->n_files; f++) cJSON_AddItemToArray(files, cJSON_CreateString(ts->files[f].path));
    cJSON *meta = cJSON_AddArrayToObject(root, "metadata");
    for (int i = 0; i < ts->meta.n; i++) cJSON_AddItemToArray(meta, meta_json(&ts->meta.m[i], full));
    cJSON *tens = cJSON_AddArrayToObject(root, "tensors");
    for (int i = 0; i < ts->n; i++) {
        const rl_tensor *t = &ts->t[i];
        cJSON *o = cJSON_CreateObject();
        const char *dt = rl_dtype_name(t->dtype);
        if (t->dtype == RL_DT_GGML) rl_ggml_type_info(t->ggml_type, &dt, NULL, NULL);
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "dtype", dt);
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        cJSON_AddNumberToObject(o, "offset", (double)t->offset);
        cJSON_AddNumberToObject(o, "nbytes", (double)t->nbytes);
        cJSON_AddNumberToObject(o, "file", t->file);
        cJSON_AddItemToArray(tens, o);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return rl_fail("out of memory (JSON output)");
    puts(s);
    free(s);
    return 0;
}

int cmd_inspect(int argc, char **argv) {
    int json = 0, full = 0;
    cli_opt opts[] = {
        {"json", CLI_FLAG, &json, NULL, "print JSON instead of text", 0},
        {"full", CLI_FLAG, &full, NULL, "print every element of metadata arrays (default: the first 8)", 0},
    };
    cli_spec spec = {"ropelab inspect FILE_OR_DIR [--json] [--full]",
                     "Lists a checkpoint's format, metadata and every tensor (name, dtype, shape outermost first,\n"
                     "absolute byte offset, size). Reads safetensors files, Hugging Face folders (sharded or not),\n"
                     "GGUF v2/v3 and llama2.c checkpoints, validating them fully; a corrupt file is reported with\n"
                     "the offending offset and exit status 1. See docs/formats.md.",
                     opts, (int)RL_ARRAY_LEN(opts), 1, 1};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) return rc == 1 ? 0 : rc;
    char run_ckpt[4200];
    const char *path = pos[0];
    free(pos);
    /* A ropelab run folder: show its newest checkpoint, as eval, analyze and export do. */
    int run = rl_run_checkpoint(path, run_ckpt, sizeof run_ckpt);
    if (run < 0) return cli_report("inspect");
    if (run) path = run_ckpt;
    rl_tensors ts;
    if (rl_tensors_open(&ts, path) != 0) return cli_report("inspect");
    if (json) rc = print_json(&ts, path, full);
    else print_text(&ts, path, full);
    rl_tensors_free(&ts);
    if (rc != 0) return cli_report("inspect");
    if (fflush(stdout) != 0) return 1;
    return 0;
}
