/* util: atomic files, strict number parsing, the RNG's distribution. */
#include "helpers.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

Test(util, atomic_write_replaces_whole_file) {
    char *dir = rt_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    cr_assert_eq(rl_write_atomic(path, "first", 5), 0, "%s", rl_error());
    rl_afile f;
    cr_assert_eq(rl_afile_open(&f, path), 0);
    fputs("second, longer", f.fp);
    rl_afile_abort(&f); /* an abandoned write leaves the old content */
    char *data;
    size_t n;
    cr_assert_eq(rl_read_file(path, &data, &n), 0);
    cr_assert_str_eq(data, "first");
    free(data);
    cr_assert_eq(rl_afile_open(&f, path), 0);
    fputs("second", f.fp);
    cr_assert_eq(rl_afile_commit(&f), 0, "%s", rl_error());
    cr_assert_eq(rl_read_file(path, &data, &n), 0);
    cr_assert_str_eq(data, "second");
    free(data);
    /* the final file has the mode fopen would give (0666 minus the umask), not mkstemp's 0600 */
    struct stat st;
    mode_t um = umask(022);
    umask(um);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0666 & ~um, "mode %o", st.st_mode & 0777);
    char *ls;
    rt_sh("ls -a", &ls);
    free(ls);
    char cmd[4300], *out;
    snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", dir);
    rt_sh(cmd, &out);
    cr_assert_eq(atoi(out), 1, "temp files left behind: %s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}

Test(util, missing_file_names_the_path) {
    char *data;
    cr_assert_eq(rl_read_file("/nonexistent/x.bin", &data, NULL), -1);
    cr_assert(strstr(rl_error(), "/nonexistent/x.bin") != NULL, "%s", rl_error());
}

Test(util, strict_numbers) {
    double d;
    int64_t i;
    cr_assert_eq(rl_parse_double("1e4", &d), 0);
    cr_assert_eq(d, 1e4);
    cr_assert_eq(rl_parse_double("1e4x", &d), -1);
    cr_assert_eq(rl_parse_double("nan", &d), -1);
    cr_assert_eq(rl_parse_double("", &d), -1);
    cr_assert_eq(rl_parse_int64("1e6", &i), 0);
    cr_assert_eq(i, 1000000);
    cr_assert_eq(rl_parse_int64("1.5", &i), -1);
}

/* Normal sampler: mean 0 and variance 1 within 5 standard errors over 2e5 draws
 * (se of the mean = 1/sqrt(n) = 0.0022; se of the variance = sqrt(2/n) = 0.0032). */
Test(util, rng_normal_moments) {
    rl_rng r;
    rl_rng_seed(&r, 42);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = rl_rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    cr_assert(fabs(mean) < 5 / sqrt(n), "mean %g", mean);
    cr_assert(fabs(var - 1) < 5 * sqrt(2.0 / n), "var %g", var);
    rl_rng a, b;
    rl_rng_seed(&a, 7);
    rl_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++) cr_assert_eq(rl_rng_u64(&a), rl_rng_u64(&b));
}
