/* Files: whole reads, memory maps, mkdir -p, and atomic writes (temp + fsync + rename). */
#include "ropelab/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void *rl_malloc(size_t n, const char *what) {
    void *p = malloc(n ? n : 1);
    if (!p) rl_fail("out of memory (%zu bytes for %s)", n, what);
    return p;
}

void *rl_calloc(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) rl_fail("out of memory (%zu x %zu bytes for %s)", count, size, what);
    return p;
}

void *rl_alloc_aligned(size_t n, const char *what) {
    size_t rounded = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        rl_fail("out of memory (%zu bytes for %s)", n, what);
        return NULL;
    }
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

char *rl_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = rl_malloc(n, "string");
    if (d) memcpy(d, s, n);
    return d;
}

int rl_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rl_fail("%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return rl_fail("%s: cannot seek: %s", path, strerror(errno));
    }
    long n = ftell(f);
    if (n < 0) {
        fclose(f);
        return rl_fail("%s: cannot tell size: %s", path, strerror(errno));
    }
    rewind(f);
    char *buf = rl_malloc((size_t)n + 1, path);
    if (!buf) {
        fclose(f);
        return -1;
    }
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return rl_fail("%s: short read", path);
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    if (len) *len = (size_t)n;
    return 0;
}

int rl_map_file(const char *path, rl_map *m) {
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rl_fail("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return rl_fail("%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return rl_fail("%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return rl_fail("%s: cannot map: %s", path, strerror(errno));
        }
        m->data = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void rl_unmap(rl_map *m) {
    if (m->data) munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

int rl_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0) return 0;
    if (n >= sizeof buf) return rl_fail("%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return rl_fail("%s: cannot create folder: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return rl_fail("%s: not a folder", path);
    return 0;
}

int rl_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int rl_path(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n) return rl_fail("path too long: %.60s...", buf);
    return 0;
}

/* fsync the folder holding `path`, so that a rename into it survives a power cut. */
static int fsync_parent(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    const char *dir = dirname(buf);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return rl_fail("%s: cannot open folder for fsync: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 && errno != EINVAL) return rl_fail("%s: fsync failed: %s", dir, strerror(errno));
    return 0;
}

int rl_commit_rename(const char *tmp, const char *path) {
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rl_fail("%s: cannot reopen for fsync: %s", tmp, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0) return rl_fail("%s: fsync failed: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0) return rl_fail("%s: cannot rename into place: %s", path, strerror(errno));
    return fsync_parent(path);
}

/* The process umask, read once (umask() can only be read by setting it, so do it before any
 * thread could race with us and restore it at once). */
static mode_t g_umask;
static pthread_once_t g_umask_once = PTHREAD_ONCE_INIT;
static void read_umask(void) {
    g_umask = umask(022);
    umask(g_umask);
}

int rl_afile_open(rl_afile *f, const char *path) {
    f->fp = NULL;
    f->path = NULL;
    f->tmp = NULL;
    size_t n = strlen(path) + 16;
    f->path = rl_strdup(path);
    f->tmp = rl_malloc(n, "temp file name");
    if (!f->path || !f->tmp) goto fail;
    snprintf(f->tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        rl_fail("%s: cannot create temp file: %s", path, strerror(errno));
        goto fail;
    }
    /* mkstemp creates 0600; give the final file the mode a plain fopen would have */
    pthread_once(&g_umask_once, read_umask);
    if (fchmod(fd, 0666 & ~g_umask) != 0) {
        close(fd);
        unlink(f->tmp);
        rl_fail("%s: cannot set permissions: %s", path, strerror(errno));
        goto fail;
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        unlink(f->tmp);
        rl_fail("%s: fdopen failed: %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    return -1;
}

int rl_afile_commit(rl_afile *f) {
    int rc = 0;
    if (fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0)
        rc = rl_fail("%s: write failed: %s", f->path, strerror(errno));
    if (fclose(f->fp) != 0 && rc == 0) rc = rl_fail("%s: close failed: %s", f->path, strerror(errno));
    f->fp = NULL;
    if (rc == 0) {
        if (rename(f->tmp, f->path) != 0)
            rc = rl_fail("%s: cannot rename into place: %s", f->path, strerror(errno));
        else
            rc = fsync_parent(f->path);
    }
    if (rc != 0) unlink(f->tmp);
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    return rc;
}

void rl_afile_abort(rl_afile *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp) unlink(f->tmp);
    free(f->path);
    free(f->tmp);
    f->fp = NULL;
    f->path = f->tmp = NULL;
}

int rl_write_atomic(const char *path, const void *data, size_t n) {
    rl_afile f;
    if (rl_afile_open(&f, path) != 0) return -1;
    if (n && fwrite(data, 1, n, f.fp) != n) {
        rl_afile_abort(&f);
        return rl_fail("%s: write failed", path);
    }
    return rl_afile_commit(&f);
}
