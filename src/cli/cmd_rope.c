/* `ropelab rope show SPEC --head-dim D [--context N] [--csv]`: the frequency table of an encoding. */
#include "cli.h"
#include "commands.h"
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rope_show(int argc, char **argv) {
    int64_t head_dim = 0, context = 0, seq_len = 0;
    int csv = 0;
    cli_opt opts[] = {
        {"head-dim", CLI_INT, &head_dim, "D", "head dimension (even; required)", 0},
        {"context", CLI_INT, &context, "N", "count full turns over N tokens (default: the spec's original "
                                            "context if it has one, else 131072)", 0},
        {"seq-len", CLI_INT, &seq_len, "L", "sequence length for `dynamic` scaling (default: --context)", 0},
        {"csv", CLI_FLAG, &csv, NULL,
         "print CSV (header: chunk,dim0,dim1,frequency,wavelength,turns,full_turns,attention_factor)", 0},
    };
    cli_spec spec = {
        "ropelab rope show SPEC --head-dim D [--context N] [--csv]",
        "Prints one line per chunk k (0 = highest frequency): the two dims it pairs in the layout, the\n"
        "frequency in rad/token (full double precision), the wavelength 2*pi/frequency in tokens, and the\n"
        "turns over N tokens (N*frequency/2pi, then its integer part, the number of full turns), plus the\n"
        "attention factor where the scaling type has one (yarn). See docs/rope.md.\n"
        "SPEC examples: nope, rope:theta=10000, prope:p=0.75,theta=10000, prope-rev:p=0.75,\n"
        "partial:p=0.25,theta=10000, rope:theta=500000+llama3:factor=8,original=8192,\n"
        "rope:theta=10000+yarn:factor=4,original=4096. Add layout=interleaved to the base for GPT-J pairs.",
        opts, (int)RL_ARRAY_LEN(opts), 1, 1};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) return rc == 1 ? 0 : rc;
    const char *text = pos[0];
    free(pos);
    if (!cli_given(&spec, "head-dim")) return cli_usage_error("rope show", "--head-dim D is required");
    if (head_dim <= 0 || head_dim % 2 || head_dim > 65536)
        return cli_usage_error("rope show", "--head-dim %lld must be a positive even number <= 65536",
                               (long long)head_dim);
    if (context < 0 || seq_len < 0) return cli_usage_error("rope show", "--context and --seq-len must be >= 0");

    rl_rope_spec s;
    if (rl_rope_parse(text, &s) != 0) return cli_report("rope show");
    if (context == 0) context = s.original > 0 ? s.original : 131072;
    if (seq_len == 0) seq_len = context;
    rl_rope_freqs f;
    if (rl_rope_freqs_init(&f, &s, (int)head_dim, seq_len) != 0) return cli_report("rope show");

    char canon[512];
    rl_rope_format(&s, canon, sizeof canon);
    int full_turns = 0;
    for (int k = 0; k < f.n_chunks; k++)
        if (f.freq[k] > 0 && f.freq[k] * (double)context >= 2.0 * M_PI) full_turns++;
    if (csv) {
        printf("chunk,dim0,dim1,frequency,wavelength,turns,full_turns,attention_factor\n");
    } else {
        printf("# spec %s\n# head_dim %d, %d chunks, layout %s, rotated dims %d, context %lld\n", canon, f.head_dim,
               f.n_chunks, rl_layout_name(f.layout), f.rot_dims, (long long)context);
        if (s.scale == RL_SCALE_YARN) printf("# attention_factor %.17g (multiplies cos and sin)\n", f.attn_factor);
        if (s.scale == RL_SCALE_DYNAMIC) printf("# dynamic scaling evaluated at sequence length %lld\n", (long long)seq_len);
        printf("# %d of %d chunks complete at least one full turn within %lld tokens\n", full_turns, f.n_chunks,
               (long long)context);
        printf("%6s %11s %24s %24s %24s %12s\n", "chunk", "dims", "frequency(rad/tok)", "wavelength(tok)", "turns",
               "full_turns");
    }
    for (int k = 0; k < f.n_chunks; k++) {
        double g = f.freq[k];
        double turns = g * (double)context / (2.0 * M_PI);
        int i0, i1;
        rl_rope_chunk_dims(&f, k, &i0, &i1);
        char dims[32];
        snprintf(dims, sizeof dims, "%d,%d", i0, i1);
        /* the attention factor reaches the rotated width only (partial's pass-through dims keep 1) */
        double af = k >= f.chunk_lo && k < f.chunk_hi ? f.attn_factor : 1.0;
        if (csv) {
            if (g > 0) printf("%d,%d,%d,%.17g,%.17g,%.17g,%.0f,%.17g\n", k, i0, i1, g, 2.0 * M_PI / g, turns,
                              floor(turns), af);
            else printf("%d,%d,%d,0,inf,0,0,%.17g\n", k, i0, i1, af);
        } else {
            if (g > 0) printf("%6d %11s %24.17g %24.17g %24.17g %12.0f\n", k, dims, g, 2.0 * M_PI / g, turns, floor(turns));
            else printf("%6d %11s %24d %24s %24d %12d\n", k, dims, 0, "inf", 0, 0);
        }
    }
    rl_rope_freqs_free(&f);
    return 0;
}

/* `ropelab rope kernels`: which rotation kernels this CPU runs, and the one in use. */
static int rope_kernels(int argc, char **argv) {
    cli_spec spec = {"ropelab rope kernels",
                     "Lists the rotation kernels (avx512, avx2, portable), whether this CPU supports each, and\n"
                     "the one librope uses: the best supported, or the one named by ROPELAB_KERNEL.",
                     NULL, 0, 0, 0};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) return rc == 1 ? 0 : rc;
    free(pos);
    const char *names[] = {"avx512", "avx2", "portable"}, *used = rl_rope_kernel_name();
    for (size_t i = 0; i < RL_ARRAY_LEN(names); i++)
        printf("%-9s %s%s\n", names[i], rl_rope_kernel_supported(names[i]) ? "supported" : "not supported by this CPU",
               strcmp(names[i], used) == 0 ? ", in use" : "");
    return 0;
}

int cmd_rope(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "show") == 0) return rope_show(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "kernels") == 0) return rope_kernels(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ropelab rope show SPEC --head-dim D [--context N] [--csv]\n"
               "       ropelab rope kernels\n");
        return 0;
    }
    fprintf(stderr, "ropelab rope: expected a subcommand: show or kernels (see ropelab rope show --help)\n");
    return 2;
}
