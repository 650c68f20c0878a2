#include "enevo/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"

int enevo_read_file(const char *path, size_t max_bytes, char **out, size_t *len, char *err,
                    size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", path);
    while (!rc) {
        if (n + 1 >= cap) {
            if (max_bytes && cap > max_bytes) {
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: larger than %zu bytes", path,
                                max_bytes);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: read error: %s", path,
                                strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!rc && max_bytes && n > max_bytes)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: larger than %zu bytes", path, max_bytes);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int enevo_read_text(const char *path, size_t max_bytes, char **out, size_t *len, char *err,
                    size_t errlen)
{
    char *buf;
    size_t n;
    *out = NULL;
    int rc = enevo_read_file(path, max_bytes, &buf, &n, err, errlen);
    if (!rc) {
        size_t nul = strlen(buf);
        if (nul != n) {
            int line = 1, col = 1;
            for (size_t k = 0; k < nul; k++, col++)
                if (buf[k] == '\n') {
                    line++;
                    col = 0;
                }
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s:%d:%d: expected text, got a NUL byte",
                            path, line, col);
        }
    }
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int enevo_write_atomic(const char *path, const void *data, size_t size, char *err, size_t errlen)
{
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

    int code;
    if (enevo__fault(ENEVO__FAULT_WRITE, path, &code)) {
        /* As a full disk would: the temporary file fails, the old one stays. */
        enevo_errf(err, errlen, ENEVO_EIO, "%s: write failed: %s", path, strerror(code));
        free(tmp);
        return ENEVO_EIO;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot create %s: %s", path, tmp, strerror(e));
        free(tmp);
        return ENEVO_EIO;
    }
    const char *what = NULL; /* the step that failed */
    if (size && fwrite(data, 1, size, f) != size)
        what = "write";
    else if (fflush(f) != 0)
        what = "write";
    else if (fsync(fileno(f)) != 0)
        what = "fsync";
    int e = what ? errno : 0;
    if (fclose(f) != 0 && !what) {
        what = "close";
        e = errno;
    }
    if (!what && rename(tmp, path) != 0) {
        what = "rename";
        e = errno;
    }
    if (what) {
        remove(tmp);
        enevo_errf(err, errlen, ENEVO_EIO, "%s: %s failed: %s", path, what,
                   e ? strerror(e) : "unknown error");
        free(tmp);
        return ENEVO_EIO;
    }
    /* Make the rename itself durable; best effort, the data is already safe. */
    char *dir = tmp; /* reuse: dirname may modify its argument */
    snprintf(dir, tlen, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(tmp);
    return 0;
}

int enevo_mkdir_p(const char *dir, char *err, size_t errlen)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: path too long", dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot create directory: %s", p,
                                  strerror(errno));
            *s = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: not a directory", dir);
    return 0;
}

double enevo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
