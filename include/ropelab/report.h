/* ropelab/report.h: what experiments report with.
 *
 * Section 1: figures (gnuplot). Section 2: statistics (means, Student-t confidence intervals, paired
 * tests), shared by every experiment that reports error bars or p-values. Section 3: a small HTML
 * builder for self-contained reports (text escaped, PNG figures embedded as base64 data URIs, files
 * beside the report linked), written atomically.
 *
 * Every figure is three things in one folder, so users can restyle it:
 *   NAME.csv (or any data files)  written by the caller (use rl_afile for atomicity)
 *   NAME.gp                       a self-contained gnuplot script; `gnuplot NAME.gp` in that folder
 *                                 re-renders both images
 *   NAME.png, NAME.svg            rendered with gnuplot's cairo terminals (pngcairo, svg)
 */
#ifndef ROPELAB_REPORT_H
#define ROPELAB_REPORT_H

#include <stddef.h>
#include <stdint.h>

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


/* ============================================================================================ */
/* Section 2: statistics                                                                          */
/* ============================================================================================ */
/* All in float64. NaN inputs propagate (a mean over values with a NaN is NaN). */

/* Mean of x[0 .. n); NaN when n < 1. */
double rl_mean(const double *x, int n);
/* Sample standard deviation (n - 1 in the denominator); NaN when n < 2. */
double rl_sd(const double *x, int n);

/* Student t survival, two-sided: P(|T_df| >= |t|) (regularized incomplete beta). */
double rl_t_two_sided(double t, double df);
/* The Student t quantile: the t with P(T_df <= t) = p, for p in (0, 1) and df > 0 (NaN otherwise).
 * Inverts rl_t_two_sided by bisection to full double precision. */
double rl_t_quantile(double p, double df);

/* A two-sided Student-t confidence interval for the mean of n values. */
typedef struct {
    int n;
    double mean, sd, se;   /* se = sd / sqrt(n) */
    double half;           /* t_{(1+level)/2, n-1} * se */
    double lo, hi;         /* mean -+ half; NaN when n < 2 (no interval from one value) */
} rl_ci;
/* level in (0, 1), e.g. 0.95. With n = 1: mean = x[0], sd, se, half, lo, hi NaN. n = 0: all NaN. */
void rl_ci_t(const double *x, int n, double level, rl_ci *out);

/* Two-sided p-value of the paired t-test of mean(d) = 0 over n >= 2 differences; *t (may be NULL) gets
 * the statistic. Returns 1 when every difference is 0, and 0 when they are equal but non-zero. */
double rl_paired_t_pvalue(const double *d, int n, double *t);
/* Exact two-sided McNemar (sign) test: b and c discordant pairs, p = min(1, 2 P(Bin(b+c, 1/2) <= min(b,c))). */
double rl_mcnemar_exact(int64_t b, int64_t c);

/* ============================================================================================ */
/* Section 3: HTML reports                                                                        */
/* ============================================================================================ */
/* A report is built in memory, then written in one atomic step. Only HTML 4 elements are used
 * (so that any HTML parser, libxml2's included, reads it without complaint) plus inline CSS; no
 * scripts, no network. Builder calls never fail individually: an allocation or file failure is
 * remembered and reported by rl_html_write (so callers need not check every call). */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;            /* a call failed; the message is in err */
    char err[512];
} rl_html;

/* Starts a document: doctype, <head> with the title and the stylesheet, <body>, <h1>title</h1>. */
void rl_html_begin(rl_html *h, const char *title);
/* Appends raw markup (not escaped). */
void rl_html_raw(rl_html *h, const char *markup);
/* Appends printf-formatted raw markup (arguments are NOT escaped: use rl_html_text for text). */
void rl_html_rawf(rl_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text with &, <, >, " and ' escaped. */
void rl_html_text(rl_html *h, const char *text);
/* <TAG>escaped text</TAG>, e.g. rl_html_elem(h, "h2", "Claims"). */
void rl_html_elem(rl_html *h, const char *tag, const char *text);
/* A table cell: <td title="TITLE">escaped text</td> (tag "td" or "th"; title may be NULL). */
void rl_html_cell(rl_html *h, const char *tag, const char *text, const char *title);
/* Embeds a PNG file as <img src="data:image/png;base64,..." alt="ALT">, inside a figure block with
 * a caption (escaped) and links (href relative to the report, label) to the figure's other files.
 * Fails (remembered) when the file is missing or is not a PNG. links: [n_links][2] = {href, label}. */
void rl_html_figure(rl_html *h, const char *png_path, const char *alt, const char *caption,
                    const char *const (*links)[2], int n_links);
/* Closes the document and writes it atomically to path. Returns 0, or -1 with the first failure. */
int rl_html_write(rl_html *h, const char *path);
void rl_html_free(rl_html *h);

/* Standard base64 (RFC 4648, with '=' padding, no line breaks). out needs rl_base64_len(n) + 1 bytes;
 * a NUL is written after the text. Returns the text length. */
size_t rl_base64_len(size_t n);
size_t rl_base64_encode(const uint8_t *in, size_t n, char *out);
/* Escapes text for HTML into a malloc'ed string (NULL when out of memory). */
char *rl_html_escape(const char *text);

#ifdef __cplusplus
}
#endif
#endif
