/* formats: rl_tensors_open, which recognises a checkpoint's format from its content. */
#include "internal.h"

#include <string.h>
#include <sys/stat.h>

int fmt_open_mapped(rl_tensors *ts, const char *path, fmt_parser parse) {
    rl_map m;
    if (rl_map_file(path, &m) != 0) {
        memset(ts, 0, sizeof *ts);
        return -1;
    }
    if (parse(ts, m.data, m.len, path) != 0) {
        rl_unmap(&m);
        return -1;
    }
    ts->files[0].map = m;
    return 0;
}

int rl_safetensors_open(rl_tensors *ts, const char *path) { return fmt_open_mapped(ts, path, rl_safetensors_parse); }
int rl_gguf_open(rl_tensors *ts, const char *path) { return fmt_open_mapped(ts, path, rl_gguf_parse); }
int rl_llama2c_open(rl_tensors *ts, const char *path) { return fmt_open_mapped(ts, path, rl_llama2c_parse); }

int rl_tensors_open(rl_tensors *ts, const char *path) {
    memset(ts, 0, sizeof *ts);
    struct stat st;
    if (stat(path, &st) != 0) return rl_fail("%s: no such file or folder", path);
    if (S_ISDIR(st.st_mode)) return rl_safetensors_open_dir(ts, path);
    size_t n = strlen(path);
    if (n >= 11 && strcmp(path + n - 11, ".index.json") == 0) return rl_safetensors_open_index(ts, path);
    rl_map m;
    if (rl_map_file(path, &m) != 0) return -1;
    uint64_t hl = 0;
    if (m.len >= 8) memcpy(&hl, m.data, 8);
    fmt_parser parse = rl_llama2c_parse;
    if (m.len >= 4 && memcmp(m.data, "GGUF", 4) == 0) parse = rl_gguf_parse;
    else if (m.len >= 9 && hl >= 2 && hl <= m.len - 8 && m.data[8] == '{') parse = rl_safetensors_parse;
    else if (n >= 12 && strcmp(path + n - 12, ".safetensors") == 0) parse = rl_safetensors_parse;
    else if (n >= 5 && strcmp(path + n - 5, ".gguf") == 0) parse = rl_gguf_parse;
    rl_unmap(&m);
    if (fmt_open_mapped(ts, path, parse) == 0) return 0;
    if (parse == rl_llama2c_parse) { /* the fallback: say why we tried it */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rl_error());
        return rl_fail("%s (no GGUF magic and no safetensors header, so it was read as a llama2.c checkpoint)", msg);
    }
    return -1;
}
