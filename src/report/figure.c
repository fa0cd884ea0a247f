/* Figures: write a self-contained gnuplot script and render it to PNG and SVG, atomically. */
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void rl_gp_escape(char *out, int n, const char *in) {
    int k = 0;
    for (; *in && k < n - 2; in++) {
        if (*in == '"' || *in == '\\') out[k++] = '\\';
        out[k++] = *in;
    }
    out[k] = '\0';
}

/* Runs `gnuplot -e "outbase='BASE'" SCRIPT` inside DIR; captures its output into err.
 * Returns 0, -1 (message recorded) or -2 (gnuplot failed; its message is in err). */
static int run_gnuplot(const char *dir, const char *script, const char *outbase, char *err, size_t errn) {
    int fds[2];
    if (pipe(fds) != 0) return rl_fail("pipe: %s", strerror(errno));
    char expr[600];
    snprintf(expr, sizeof expr, "outbase='%s'", outbase);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return rl_fail("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (chdir(dir) != 0) _exit(126);
        execlp("gnuplot", "gnuplot", "-e", expr, script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while ((k = read(fds[0], err + n, errn - 1 - n)) > 0) {
        n += (size_t)k;
        if (n >= errn - 1) {
            char sink[256]; /* keep draining so gnuplot never blocks on a full pipe */
            while (read(fds[0], sink, sizeof sink) > 0) {}
            break;
        }
    }
    err[n] = '\0';
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return rl_fail("gnuplot is not installed; install it with: sudo apt-get install -y gnuplot-nox");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return -2; /* gnuplot's message is in err */
    return 0;
}

int rl_figure(const char *dir, const char *name, const char *body, const rl_figure_opts *opts) {
    int w = opts && opts->width > 0 ? opts->width : 900;
    int h = opts && opts->height > 0 ? opts->height : 560;
    char gp_path[4096];
    if (rl_path(gp_path, sizeof gp_path, "%s/%s.gp", dir, name) != 0) return -1;

    rl_afile f;
    if (rl_afile_open(&f, gp_path) != 0) return -1;
    fprintf(f.fp,
            "# %s.gp, written by ropelab. Edit freely; run `gnuplot %s.gp` in this folder to re-render\n"
            "# %s.png and %s.svg (cairo terminals).\n"
            "if (!exists(\"outbase\")) outbase = \"%s\"\n"
            "set datafile separator \",\"\n"
            "do for [fmt in \"png svg\"] {\n"
            "  if (fmt eq \"png\") {\n"
            "    set terminal pngcairo size %d,%d enhanced font \"Sans,10\" background \"white\"\n"
            "  } else {\n"
            "    set terminal svg size %d,%d dynamic enhanced font \"Sans,10\" background \"white\"\n"
            "  }\n"
            "  set output outbase.\".\".fmt\n"
            "%s\n"
            "  unset output\n"
            "}\n",
            name, name, name, name, name, w, h, w, h, body);
    if (rl_afile_commit(&f) != 0) return -1;

    char tmpbase[512], err[4096];
    snprintf(tmpbase, sizeof tmpbase, "%s.tmp%ld", name, (long)getpid());
    char gp_name[512];
    snprintf(gp_name, sizeof gp_name, "%s.gp", name);
    int rc = run_gnuplot(dir, gp_name, tmpbase, err, sizeof err);
    const char *exts[] = {"png", "svg"};
    for (int i = 0; i < 2; i++) {
        char tmp[4096], dst[4096];
        if (rl_path(tmp, sizeof tmp, "%s/%s.%s", dir, tmpbase, exts[i]) != 0 ||
            rl_path(dst, sizeof dst, "%s/%s.%s", dir, name, exts[i]) != 0)
            return -1;
        if (rc != 0) {
            unlink(tmp);
            continue;
        }
        if (!rl_file_exists(tmp)) return rl_fail("%s: gnuplot wrote no %s image", gp_path, exts[i]);
        if (rl_commit_rename(tmp, dst) != 0) return -1;
    }
    if (rc == -1) return -1;
    if (rc != 0) {
        /* gnuplot's message ends with a newline; trim it */
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
        return rl_fail("%s: gnuplot failed: %s", gp_path, err);
    }
    return 0;
}
