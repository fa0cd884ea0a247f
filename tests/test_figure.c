/* report/figure: a figure renders to real PNG and SVG files; a broken script reports gnuplot's error. */
#include "helpers.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <stdlib.h>
#include <string.h>

Test(figure, renders_png_and_svg) {
    char *dir = rt_tmpdir(), path[4300];
    snprintf(path, sizeof path, "%s/line.csv", dir);
    const char *csv = "x,y\n0,0\n1,1\n2,4\n";
    cr_assert_eq(rl_write_atomic(path, csv, strlen(csv)), 0);
    cr_assert_eq(rl_figure(dir, "line", "plot 'line.csv' using 1:2 skip 1 with lines title \"y\"", NULL), 0, "%s",
                 rl_error());
    char *data;
    size_t n;
    snprintf(path, sizeof path, "%s/line.png", dir);
    cr_assert_eq(rl_read_file(path, &data, &n), 0, "%s", rl_error());
    cr_assert(n > 100 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG (%zu bytes)", n);
    free(data);
    snprintf(path, sizeof path, "%s/line.svg", dir);
    cr_assert_eq(rl_read_file(path, &data, &n), 0, "%s", rl_error());
    cr_assert(strstr(data, "<svg") != NULL);
    free(data);
    /* the script is self-contained: gnuplot re-renders it in its folder */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "cd '%s' && rm line.png && gnuplot line.gp && test -s line.png && ls | grep -c tmp", dir);
    char *out;
    rt_sh(cmd, &out);
    cr_assert_eq(atoi(out), 0, "temp files left: %s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}

Test(figure, broken_script_reports_gnuplot_error) {
    char *dir = rt_tmpdir();
    cr_assert_eq(rl_figure(dir, "bad", "plot 'missing.csv' using 1:2", NULL), -1);
    cr_assert(strstr(rl_error(), "bad.gp") && strstr(rl_error(), "missing.csv"), "%s", rl_error());
    rt_rmtree(dir);
    free(dir);
}
