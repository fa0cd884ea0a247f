/* `ropelab rope show` and `ropelab rope kernels`: table values at full precision against closed
 * forms, the attention factor line, CSV, the worked example of docs/rope.md, usage errors, and
 * ROPELAB_KERNEL. */
#include "helpers.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Runs the tool; asserts the exit status; returns the output (free it). */
static char *run(const char *args, int want_status) {
    char *out = NULL;
    int st = rt_run_tool(args, &out);
    cr_assert_eq(st, want_status, "ropelab %s: exit %d, expected %d; output:\n%s", args, st, want_status, out);
    return out;
}

/* Runs the tool, asserts the exit status and that the output contains `needle`. */
static void expect(const char *args, int want_status, const char *needle) {
    char *out = run(args, want_status);
    cr_assert(strstr(out, needle) != NULL, "ropelab %s: output lacks '%s':\n%s", args, needle, out);
    free(out);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Text table of theta=10000, d=128 over 131072 tokens: frequencies to the last digit printed
 * (%.17g round-trips a double: compare with 2 ulp tolerance against pow), wavelengths, turns. */
Test(rope_show, text_table_full_precision) {
    char *out = run("rope show rope:theta=10000 --head-dim 128 --context 131072", 0);
    cr_assert(strstr(out, "# spec rope:theta=10000\n") != NULL, "%s", out);
    cr_assert(strstr(out, "64 of 64 chunks complete at least one full turn within 131072 tokens") != NULL, "%s", out);
    cr_assert(strstr(out, "attention_factor") == NULL, "no attention factor line without yarn:\n%s", out);
    int rows = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || strstr(line, "chunk")) continue;
        int k, i0, i1;
        double g, wl, turns, full;
        cr_assert_eq(sscanf(line, "%d %d,%d %lf %lf %lf %lf", &k, &i0, &i1, &g, &wl, &turns, &full), 7, "%s", line);
        double want = pow(10000.0, -2.0 * k / 128);
        cr_assert(fabs(g - want) <= 2 * 0x1p-52 * want, "chunk %d: %.17g vs %.17g", k, g, want);
        cr_assert(fabs(wl - 2 * M_PI / want) <= 1e-14 * wl);
        cr_assert(fabs(turns - 131072 * want / (2 * M_PI)) <= 1e-13 * turns);
        cr_assert_eq(full, floor(turns));
        cr_assert(i0 == k && i1 == k + 64, "half layout pairs k, k+64: %s", line);
        rows++;
    }
    cr_assert_eq(rows, 64);
    free(out);
}

/* YaRN: the attention factor line (0.1 ln 4 + 1 = 1.1386294361119891) and the CSV column. */
Test(rope_show, attention_factor_and_csv) {
    char *out = run("rope show 'rope:theta=10000+yarn:factor=4,original=4096' --head-dim 64", 0);
    cr_assert(strstr(out, "# attention_factor 1.1386294361119891 (multiplies cos and sin)") != NULL, "%s", out);
    cr_assert(strstr(out, "context 4096") != NULL, "default context = original: %s", out);
    free(out);

    out = run("rope show 'partial:p=0.5,theta=10000,layout=interleaved+yarn:factor=4,original=4096' --head-dim 16 --csv", 0);
    cr_assert_eq(strncmp(out, "chunk,dim0,dim1,frequency,wavelength,turns,full_turns,attention_factor\n", 71), 0, "%s", out);
    cr_assert_eq(count_lines(out), 1 + 8, "%s", out);
    char *line = strchr(out, '\n') + 1;
    for (int k = 0; k < 8; k++) {
        int kk, i0, i1;
        char g_s[64], wl_s[64];
        double turns, full, af;
        cr_assert_eq(sscanf(line, "%d,%d,%d,%63[^,],%63[^,],%lf,%lf,%lf", &kk, &i0, &i1, g_s, wl_s, &turns, &full, &af), 8,
                     "%s", line);
        cr_assert_eq(kk, k);
        cr_assert(i0 == 2 * k && i1 == 2 * k + 1, "interleaved pairs: %s", line);
        if (k < 4) { /* rotated: r = 8 dims; the factor applies */
            cr_assert_float_eq(af, 0.1 * log(4.0) + 1, 1e-15, "%s", line);
            double g = strtod(g_s, NULL);
            cr_assert(g > 0 && fabs(strtod(wl_s, NULL) - 2 * M_PI / g) <= 1e-14 * 2 * M_PI / g, "%s", line);
            cr_assert(fabs(turns - 4096 * g / (2 * M_PI)) <= 1e-13 * (turns + 1));
            cr_assert_eq(full, floor(turns));
        } else { /* pass-through dims: frequency 0, infinite wavelength, no factor */
            cr_assert_str_eq(g_s, "0");
            cr_assert_str_eq(wl_s, "inf");
            cr_assert_eq(af, 1.0);
        }
        line = strchr(line, '\n') + 1;
    }
    free(out);
}

/* docs/rope.md's worked example: theta=10000, d=128, 128k = 131072 tokens. Chunk k's wavelength
 * is 2 pi 10000^(k/64); the slowest (k = 63) is 2 pi 10000^(63/64) = 54,410 tokens < 131072, so
 * all 64 chunks complete at least 2 turns. p-RoPE 0.25 keeps 16 of them. */
Test(rope_show, worked_example) {
    char *out = run("rope show rope:theta=10000 --head-dim 128 --context 131072 --csv", 0);
    const char *last = strstr(out, "\n63,");
    cr_assert_not_null(last, "%s", out);
    double g, wl, turns, full;
    cr_assert_eq(sscanf(last + 1, "63,63,127,%lf,%lf,%lf,%lf", &g, &wl, &turns, &full), 4, "%s", last);
    cr_assert(fabs(wl - 2 * M_PI * pow(10000.0, 63.0 / 64)) < 1e-9 * wl, "%.17g", wl);
    cr_assert(wl > 54409 && wl < 54411, "%.17g", wl);
    cr_assert_eq(full, 2.0);
    free(out);
    expect("rope show prope:p=0.25 --head-dim 128 --context 131072", 0,
           "16 of 64 chunks complete at least one full turn");
    /* 2 pi 500000^(k/64) <= 8192 <=> k <= 64 ln(1303.8)/ln(500000) = 34.99: chunks 0..34 */
    expect("rope show rope:theta=500000 --head-dim 128 --context 8192", 0,
           "35 of 64 chunks complete at least one full turn within 8192 tokens");
}

Test(rope_show, errors) {
    expect("rope show rope:theta=10000", 2, "--head-dim");
    expect("rope show rope --head-dim 63", 2, "63");
    expect("rope show 'rope:theta=0.5' --head-dim 64", 1, "theta=0.5");
    expect("rope show 'partial:p=0.3' --head-dim 10", 1, "partial p=0.3 with head_dim 10 rotates 3 dims, an odd number");
    expect("rope show 'rope+yarn:factor=4' --head-dim 64", 1, "original");
    expect("rope", 2, "subcommand");
}

/* `rope kernels` lists the kernels; ROPELAB_KERNEL picks one, and a bad value warns and keeps the
 * automatic choice. */
Test(rope_show, kernels_and_env) {
    const char *bin = getenv("ROPELAB_BIN");
    char cmd[4200], *out;
    expect("rope kernels", 0, "portable  supported");
    expect("rope kernels", 0, ", in use");
    snprintf(cmd, sizeof cmd, "ROPELAB_KERNEL=portable '%s' rope kernels", bin ? bin : "./ropelab");
    cr_assert_eq(rt_sh(cmd, &out), 0);
    cr_assert(strstr(out, "portable  supported, in use") != NULL, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "ROPELAB_KERNEL=sse9 '%s' rope kernels", bin ? bin : "./ropelab");
    cr_assert_eq(rt_sh(cmd, &out), 0);
    cr_assert(strstr(out, "ROPELAB_KERNEL=sse9 is unknown") != NULL, "%s", out);
    free(out);
}
