/* bench_load: peak memory and time of rl_load_model + one inference, each in a fresh child
 * process (ru_maxrss), against the float32 weight bytes plus the inference workspace, and the
 * load time against a plain read() of the same files. Cases: stories260K (llama2.c, when
 * ../shared/models is there), and a synthetic Llama-layout Hugging Face folder of ~200 MB of
 * float32 weights stored as F32 (used in place from the map) and as BF16 (converted once).
 * Each measurement re-executes this program (--measure ...): a forked child of a process whose
 * OpenMP pool already exists would deadlock in its first parallel region.
 * Options: --tokens N (512). */
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

static double peak_rss_bytes(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss * 1024.0; /* KiB on Linux */
}

/* Seconds to read every file under path (one file, or the *.safetensors of a folder). */
static double read_time(const char *path) {
    char cmd[4400], *buf = malloc(1 << 20);
    struct stat st;
    stat(path, &st);
    snprintf(cmd, sizeof cmd, S_ISDIR(st.st_mode) ? "%s/model.safetensors" : "%s", path);
    double t0 = rl_now();
    int fd = open(cmd, O_RDONLY);
    if (fd >= 0) {
        while (read(fd, buf, 1 << 20) > 0) {
        }
        close(fd);
    }
    free(buf);
    return rl_now() - t0;
}

/* The child's work: load, infer n tokens, print peak RSS against weights + workspace. */
static int child(const char *label, const char *path, const char *tok, int n) {
    double base = peak_rss_bytes(), t_read = read_time(path);
    rl_loaded L;
    double t0 = rl_now();
    if (rl_load_model(path, tok[0] ? tok : NULL, &L) != 0) {
        fprintf(stderr, "bench_load: %s\n", rl_error());
        return 1;
    }
    double t_load = rl_now() - t0;
    const rl_model_config *c = &L.model->cfg;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 7919) % c->vocab_size);
    if (rl_model_infer(L.model, ids, NULL, n, NULL, NULL, NULL) != 0) {
        fprintf(stderr, "bench_load: %s\n", rl_error());
        return 1;
    }
    double weights = (double)L.model->n_params * 4, ws = (double)rl_model_infer_bytes(c, n);
    double peak = peak_rss_bytes() - base;
    printf("%s: peak RSS %.1f MiB over the process baseline; float32 weights %.1f MiB + inference workspace "
           "%.1f MiB = %.1f MiB (ratio %.2f); load %.3f s vs reading the file %.3f s\n",
           label, mib(peak), mib(weights), mib(ws), mib(weights + ws), peak / (weights + ws), t_load, t_read);
    free(ids);
    rl_loaded_free(&L);
    return 0;
}

/* Runs `self --measure LABEL PATH TOK N` in a fresh process. */
static void measure(const char *self, const char *label, const char *path, const char *tok, int n) {
    char ns[32];
    snprintf(ns, sizeof ns, "%d", n);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "--measure", label, path, tok ? tok : "", ns, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
}

static int write_synthetic(const char *dir, rl_dtype dt) {
    rl_model_config c;
    rl_model_config_preset(&c, "llama");
    c.vocab_size = 16000;
    c.d_model = 768;
    c.n_layers = 4;
    c.n_heads = 12;
    c.n_kv_heads = 4;
    c.head_dim = 64;
    c.d_ff = 2048;
    c.max_seq = 1024;
    rl_model *m = rl_model_new(&c, 1);
    if (!m) return -1;
    rl_model_init_weights(m, 1);
    int rc = rl_mkdirs(dir) == 0 && rl_hf_save(dir, m, NULL, dt) == 0 ? 0 : -1;
    rl_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    int n = 512;
    if (argc == 6 && !strcmp(argv[1], "--measure")) return child(argv[2], argv[3], argv[4], atoi(argv[5]));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc) n = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_load [--tokens N]\n");
            return 2;
        }
    }
    if (n < 1) return 2;
    const char *root = getenv("ROPELAB_ROOT"), *models = getenv("ROPELAB_TEST_MODELS");
    char mdir[4200], bin[4300], tok[4300];
    snprintf(mdir, sizeof mdir, "%s", models && *models ? models : "");
    if (!mdir[0]) snprintf(mdir, sizeof mdir, "%s/../shared/models", root && *root ? root : ".");
    snprintf(bin, sizeof bin, "%s/stories260K.bin", mdir);
    snprintf(tok, sizeof tok, "%s/tok512.bin", mdir);
    if (rl_file_exists(bin)) measure(argv[0], "stories260K (llama2.c, F32 in place)", bin, tok, n);
    else printf("stories260K: skipped (%s absent)\n", bin);
    const char *tmp = getenv("TMPDIR");
    char base[4200], f32[4300], bf16[4300], cmd[9000];
    snprintf(base, sizeof base, "%s/ropelab-bench-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base)) return 1;
    snprintf(f32, sizeof f32, "%s/f32", base);
    snprintf(bf16, sizeof bf16, "%s/bf16", base);
    if (write_synthetic(f32, RL_DT_F32) != 0 || write_synthetic(bf16, RL_DT_BF16) != 0) {
        fprintf(stderr, "bench_load: %s\n", rl_error());
        return 1;
    }
    measure(argv[0], "synthetic HF Llama, F32 safetensors (in place)", f32, NULL, n);
    measure(argv[0], "synthetic HF Llama, BF16 safetensors (converted)", bf16, NULL, n);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : 1;
}
