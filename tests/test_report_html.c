/* report HTML builder: escaping, base64 (RFC 4648 vectors and coreutils), figures embedded and parsed
 * back by libxml2's HTML parser (xmllint), failures named. */
#include "helpers.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <stdlib.h>
#include <string.h>

Test(report_html, escape) {
    char *e = rl_html_escape("<a href=\"x\">Tom & 'Jerry'</a>");
    cr_assert_str_eq(e, "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
    free(e);
    rl_html h;
    rl_html_begin(&h, "a < b");
    cr_assert(strstr(h.buf, "<title>a &lt; b</title>") && strstr(h.buf, "<h1>a &lt; b</h1>"));
    rl_html_cell(&h, "td", "1 & 2", "from \"x\"");
    cr_assert(strstr(h.buf, "<td title=\"from &quot;x&quot;\">1 &amp; 2</td>"));
    rl_html_free(&h);
}

Test(report_html, base64_vectors) {
    /* RFC 4648, section 10 */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char buf[16];
        size_t n = rl_base64_encode((const uint8_t *)in[i], strlen(in[i]), buf);
        cr_assert_str_eq(buf, out[i]);
        cr_assert_eq(n, rl_base64_len(strlen(in[i])));
    }
}

/* 1000 random bytes (every value, lengths 998-1000 for each padding case) against coreutils' base64. */
Test(report_html, base64_matches_coreutils) {
    char *dir = rt_tmpdir();
    rl_rng r;
    rl_rng_seed(&r, 3);
    uint8_t bytes[1000];
    for (int i = 0; i < 1000; i++) bytes[i] = (uint8_t)rl_rng_below(&r, 256);
    for (int n = 998; n <= 1000; n++) {
        char path[4200], cmd[4400], *ref;
        snprintf(path, sizeof path, "%s/b%d", dir, n);
        cr_assert_eq(rl_write_atomic(path, bytes, (size_t)n), 0);
        snprintf(cmd, sizeof cmd, "base64 -w0 '%s'", path);
        cr_assert_eq(rt_sh(cmd, &ref), 0);
        char mine[1400];
        rl_base64_encode(bytes, (size_t)n, mine);
        cr_assert_str_eq(mine, ref, "n = %d", n);
        free(ref);
    }
    rt_rmtree(dir);
    free(dir);
}

Test(report_html, figure_embedded_and_parsed) {
    char *dir = rt_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/line.csv", dir);
    cr_assert_eq(rl_write_atomic(path, "x,y\n0,0\n1,1\n", 12), 0);
    cr_assert_eq(rl_figure(dir, "line", "plot \"line.csv\" using 1:2 every ::1 with lines title \"y\"", NULL), 0,
                 "%s", rl_error());
    rl_html h;
    rl_html_begin(&h, "Test report");
    rl_html_elem(&h, "h2", "A <section>");
    rl_html_raw(&h, "<table><tr>");
    rl_html_cell(&h, "th", "variant", NULL);
    rl_html_cell(&h, "td", "3.14", "runs/abc/eval.json");
    rl_html_raw(&h, "</tr></table>\n");
    const char *links[2][2] = {{"line.svg", "SVG"}, {"line.csv", "data"}};
    char png[4200];
    snprintf(png, sizeof png, "%s/line.png", dir);
    rl_html_figure(&h, png, "a line", "Figure 1: y = x & more", links, 2);
    snprintf(path, sizeof path, "%s/index.html", dir);
    cr_assert_eq(rl_html_write(&h, path), 0, "%s", rl_error());
    rl_html_free(&h);

    /* libxml2's HTML parser reports nothing */
    char cmd[8800], *out;
    snprintf(cmd, sizeof cmd, "xmllint --html --noout '%s'", path);
    cr_assert_eq(rt_sh(cmd, &out), 0);
    cr_assert_str_eq(out, "", "xmllint: %s", out);
    free(out);
    /* one image, whose data URI decodes to exactly the PNG file */
    snprintf(cmd, sizeof cmd, "xmllint --html --xpath 'count(//img)' '%s'", path);
    cr_assert_eq(rt_sh(cmd, &out), 0);
    cr_assert_eq(atoi(out), 1, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && xmllint --html --xpath 'string(//img/@src)' index.html | sed 's/^data:image\\/png;base64,//' "
             "| base64 -d > decoded.png && cmp decoded.png line.png && echo same",
             dir);
    cr_assert_eq(rt_sh(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "same"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "xmllint --html --xpath 'string(//div[@class=\"links\"]/a[1]/@href)' '%s'", path);
    cr_assert_eq(rt_sh(cmd, &out), 0);
    cr_assert(strncmp(out, "line.svg", 8) == 0 && strspn(out + 8, "\n") == strlen(out + 8), "%s", out);
    free(out);
    rt_rmtree(dir);
    free(dir);
}

Test(report_html, bad_figures_are_named) {
    char *dir = rt_tmpdir();
    char path[4200], out[4200];
    rl_html h;
    rl_html_begin(&h, "x");
    snprintf(path, sizeof path, "%s/missing.png", dir);
    rl_html_figure(&h, path, "", "", NULL, 0);
    snprintf(out, sizeof out, "%s/index.html", dir);
    cr_assert_eq(rl_html_write(&h, out), -1);
    cr_assert(strstr(rl_error(), "missing.png"), "%s", rl_error());
    cr_assert(!rl_file_exists(out), "nothing is written on failure");
    rl_html_free(&h);

    snprintf(path, sizeof path, "%s/fake.png", dir);
    cr_assert_eq(rl_write_atomic(path, "GIF89a....", 10), 0);
    rl_html_begin(&h, "x");
    rl_html_figure(&h, path, "", "", NULL, 0);
    cr_assert_eq(rl_html_write(&h, out), -1);
    cr_assert(strstr(rl_error(), "fake.png: not a PNG"), "%s", rl_error());
    rl_html_free(&h);
    rt_rmtree(dir);
    free(dir);
}
