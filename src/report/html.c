/* HTML report builder: escaping, base64-embedded PNG figures, atomic write. */
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A quiet, printable style; no web fonts, nothing fetched. */
static const char *const css =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}"
    "h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:1.1em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
    "th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td[title]{cursor:help}"
    ".figure{margin:1.5em 0}.figure img{max-width:100%;border:1px solid #eee}"
    ".caption{font-size:0.9em;color:#444}.links{font-size:0.85em}"
    ".supported{background:#dff0d8}.notsupported{background:#f2dede}.inconclusive{background:#fcf8e3}"
    ".rule{font-family:monospace;font-size:0.85em}.note{color:#555;font-size:0.9em}"
    "pre{background:#f7f7f7;padding:0.5em;overflow-x:auto;font-size:0.85em}";

static void fail(rl_html *h, const char *msg) {
    if (h->failed) return;
    h->failed = 1;
    snprintf(h->err, sizeof h->err, "%s", msg);
}

static void put(rl_html *h, const char *s, size_t n) {
    if (h->failed) return;
    if (h->len + n + 1 > h->cap) {
        size_t cap = h->cap ? h->cap : 65536;
        while (h->len + n + 1 > cap) cap *= 2;
        char *b = realloc(h->buf, cap);
        if (!b) {
            fail(h, "out of memory building the HTML report");
            return;
        }
        h->buf = b;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
    h->buf[h->len] = '\0';
}

static const char *entity(char c) {
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default: return NULL;
    }
}

char *rl_html_escape(const char *text) {
    size_t n = 1;
    for (const char *p = text; *p; p++) n += entity(*p) ? strlen(entity(*p)) : 1;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    for (const char *p = text; *p; p++) {
        const char *e = entity(*p);
        if (e) {
            size_t k = strlen(e);
            memcpy(o, e, k);
            o += k;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

void rl_html_raw(rl_html *h, const char *markup) { put(h, markup, strlen(markup)); }

void rl_html_rawf(rl_html *h, const char *fmt, ...) {
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) {
        fail(h, "bad format in the HTML report");
        return;
    }
    if ((size_t)k < sizeof small) {
        put(h, small, (size_t)k);
        return;
    }
    char *big = malloc((size_t)k + 1);
    if (!big) {
        fail(h, "out of memory building the HTML report");
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    put(h, big, (size_t)k);
    free(big);
}

void rl_html_text(rl_html *h, const char *text) {
    const char *run = text;
    for (const char *p = text;; p++) {
        const char *e = *p ? entity(*p) : NULL;
        if (e || !*p) {
            put(h, run, (size_t)(p - run));
            if (!*p) break;
            put(h, e, strlen(e));
            run = p + 1;
        }
    }
}

void rl_html_elem(rl_html *h, const char *tag, const char *text) {
    rl_html_rawf(h, "<%s>", tag);
    rl_html_text(h, text);
    rl_html_rawf(h, "</%s>\n", tag);
}

void rl_html_cell(rl_html *h, const char *tag, const char *text, const char *title) {
    rl_html_rawf(h, "<%s", tag);
    if (title) {
        rl_html_raw(h, " title=\"");
        rl_html_text(h, title);
        rl_html_raw(h, "\"");
    }
    rl_html_raw(h, ">");
    rl_html_text(h, text);
    rl_html_rawf(h, "</%s>", tag);
}

void rl_html_begin(rl_html *h, const char *title) {
    memset(h, 0, sizeof *h);
    rl_html_raw(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    rl_html_text(h, title);
    rl_html_raw(h, "</title>\n<style type=\"text/css\">");
    rl_html_raw(h, css);
    rl_html_raw(h, "</style>\n</head>\n<body>\n");
    rl_html_elem(h, "h1", title);
}

/* ---- base64 --------------------------------------------------------------------------------- */

size_t rl_base64_len(size_t n) { return (n + 2) / 3 * 4; }

size_t rl_base64_encode(const uint8_t *in, size_t n, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) { /* one or two bytes left: pad to four characters */
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* ---- figures -------------------------------------------------------------------------------- */

void rl_html_figure(rl_html *h, const char *png_path, const char *alt, const char *caption,
                    const char *const (*links)[2], int n_links) {
    if (h->failed) return;
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    char *data;
    size_t n;
    char msg[512];
    if (rl_read_file(png_path, &data, &n) != 0) {
        snprintf(msg, sizeof msg, "figure %s", rl_error());
        fail(h, msg);
        return;
    }
    if (n < 8 || memcmp(data, sig, 8) != 0) {
        free(data);
        snprintf(msg, sizeof msg, "figure %s: not a PNG file (bad signature)", png_path);
        fail(h, msg);
        return;
    }
    char *b64 = malloc(rl_base64_len(n) + 1);
    if (!b64) {
        free(data);
        fail(h, "out of memory embedding a figure");
        return;
    }
    rl_base64_encode((const uint8_t *)data, n, b64);
    free(data);
    rl_html_raw(h, "<div class=\"figure\">\n<img src=\"data:image/png;base64,");
    rl_html_raw(h, b64);
    free(b64);
    rl_html_raw(h, "\" alt=\"");
    rl_html_text(h, alt ? alt : "");
    rl_html_raw(h, "\">\n");
    if (caption && *caption) {
        rl_html_raw(h, "<div class=\"caption\">");
        rl_html_text(h, caption);
        rl_html_raw(h, "</div>\n");
    }
    if (n_links > 0) {
        rl_html_raw(h, "<div class=\"links\">files:");
        for (int i = 0; i < n_links; i++) {
            rl_html_raw(h, " <a href=\"");
            rl_html_text(h, links[i][0]);
            rl_html_raw(h, "\">");
            rl_html_text(h, links[i][1]);
            rl_html_raw(h, "</a>");
        }
        rl_html_raw(h, "</div>\n");
    }
    rl_html_raw(h, "</div>\n");
}

int rl_html_write(rl_html *h, const char *path) {
    rl_html_raw(h, "</body>\n</html>\n");
    if (h->failed) return rl_fail("%s: %s", path, h->err);
    return rl_write_atomic(path, h->buf, h->len);
}

void rl_html_free(rl_html *h) {
    free(h->buf);
    h->buf = NULL;
    h->len = h->cap = 0;
}
