/* ropelab/report.h: figures (gnuplot) and, later, the HTML report.
 *
 * Every figure is three things in one folder, so users can restyle it:
 *   NAME.csv (or any data files)  written by the caller (use rl_afile for atomicity)
 *   NAME.gp                       a self-contained gnuplot script; `gnuplot NAME.gp` in that folder
 *                                 re-renders both images
 *   NAME.png, NAME.svg            rendered with gnuplot's cairo terminals (pngcairo, svg)
 */
#ifndef ROPELAB_REPORT_H
#define ROPELAB_REPORT_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int width, height; /* pixels; 0 = 900 x 560 */
} rl_figure_opts;

/* Writes DIR/NAME.gp around `body` (plot commands that read data files by their bare names, with
 * `set datafile separator ","` already in effect) and renders DIR/NAME.png and DIR/NAME.svg
 * atomically. Fails with gnuplot's own error message if the script is wrong, or with the exact
 * apt-get line if gnuplot is missing. */
int rl_figure(const char *dir, const char *name, const char *body, const rl_figure_opts *opts);

/* Escapes a string for use inside a double-quoted gnuplot string (titles, labels). */
void rl_gp_escape(char *out, int n, const char *in);

#ifdef __cplusplus
}
#endif
#endif
