/* Image folders: DIR/train/<class>/<image> and DIR/test/<class>/<image>,
 * PNG (libpng) or JPEG (libjpeg-turbo). Class names sorted bytewise become
 * label ids 0, 1, ...; images are read in sorted name order, so a folder
 * always loads the same way. Grey images become three equal channels when
 * the set also holds colour ones. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "data/alloc.h"
#include "data/data_internal.h"

#define FOLDER_PATH 4096
/* Sanity bounds: a corrupt header must not make enevo allocate gigabytes.
 * 2^26 pixels (8192 x 8192) as floats is 768 MiB for the largest image;
 * libjpeg gets at most 1 GiB for its own buffers. */
#define FOLDER_MAX_SIDE 16384
#define FOLDER_MAX_PIXELS (1 << 26)
#define FOLDER_JPEG_MEMORY (1L << 30)

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Sorted names in dir (no dot files); want_dir: directories, else files. */
static int list_dir(const char *dir, bool want_dir, char ***names, int *n, char *err,
                    size_t errlen)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return enevo_errf(err, errlen, ENEVO_EIO, "cannot open folder %s: %s", dir,
                          strerror(errno));
    int cap = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[FOLDER_PATH];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        struct stat st;
        if (stat(p, &st) || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(*names, sizeof *t * (size_t)cap);
            if (!t) {
                rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", dir);
                break;
            }
            *names = t;
        }
        if (!((*names)[*n] = strdup(e->d_name))) {
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc) {
        free_names(*names, *n);
        *names = NULL;
        *n = 0;
        return rc;
    }
    for (int i = 1; i < *n; i++) /* insertion sort: strcmp order, any locale */
        for (int j = i; j > 0 && strcmp((*names)[j - 1], (*names)[j]) > 0; j--) {
            char *t = (*names)[j];
            (*names)[j] = (*names)[j - 1];
            (*names)[j - 1] = t;
        }
    return rc;
}

/* ---- decoding to 8-bit grey or RGB ---- */

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr cinfo)
{
    struct jerr *e = (struct jerr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (a truncated file) are counted, not printed: the caller turns
 * them into an error naming the file. */
static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    if (level < 0)
        cinfo->err->num_warnings++;
}

/* A header's size, checked before the pixels get memory. */
static int check_size(const char *name, unsigned w, unsigned h, char *err, size_t errlen)
{
    if (w == 0 || h == 0 || w > FOLDER_MAX_SIDE || h > FOLDER_MAX_SIDE ||
        (uint64_t)w * h > FOLDER_MAX_PIXELS)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: %ux%u pixels is too large (at most %d a side and %d pixels)", name,
                          w, h, FOLDER_MAX_SIDE, FOLDER_MAX_PIXELS);
    return 0;
}

static int decode_jpeg(const unsigned char *data, size_t len, const char *path, unsigned char **px,
                       int *c, int *h, int *w, char *err, size_t errlen)
{
    struct jpeg_decompress_struct ci;
    struct jerr je;
    /* volatile: assigned between setjmp and a longjmp back to it. */
    unsigned char *volatile buf = NULL;
    ci.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    je.mgr.emit_message = jpeg_quiet;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        free(buf);
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: corrupt JPEG: %s", path, je.msg);
    }
    jpeg_create_decompress(&ci);
    /* libjpeg's own buffers (a progressive image's coefficients) are
     * bounded too: past this it fails instead of allocating. */
    ci.mem->max_memory_to_use = FOLDER_JPEG_MEMORY;
    jpeg_mem_src(&ci, data, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = ci.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    int rc = check_size(path, ci.image_width, ci.image_height, err, errlen);
    if (rc) {
        jpeg_destroy_decompress(&ci);
        return rc;
    }
    jpeg_start_decompress(&ci);
    int cc = ci.output_components;
    size_t row = (size_t)ci.output_width * (size_t)cc;
    /* A truncated file warns (libjpeg pads it with grey): stop at the first
     * warning, so a small file claiming a large image decodes no further. */
    if (!je.mgr.num_warnings)
        buf = malloc(row * ci.output_height + 1);
    if (!buf && !je.mgr.num_warnings) {
        jpeg_destroy_decompress(&ci);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", path);
    }
    while (!je.mgr.num_warnings && ci.output_scanline < ci.output_height) {
        JSAMPROW r = buf + row * ci.output_scanline;
        jpeg_read_scanlines(&ci, &r, 1);
    }
    if (!je.mgr.num_warnings)
        jpeg_finish_decompress(&ci);
    *c = cc;
    *h = (int)ci.output_height;
    *w = (int)ci.output_width;
    jpeg_destroy_decompress(&ci);
    if (je.mgr.num_warnings) {
        free(buf);
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: corrupt JPEG data (truncated?)",
                          path);
    }
    *px = buf;
    return 0;
}

static int decode_png(const unsigned char *data, size_t len, const char *path, unsigned char **px,
                      int *c, int *h, int *w, char *err, size_t errlen)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, data, len))
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: corrupt PNG: %s", path, im.message);
    int rc = check_size(path, im.width, im.height, err, errlen);
    if (rc) {
        png_image_free(&im);
        return rc;
    }
    bool colour = im.format & PNG_FORMAT_FLAG_COLOR;
    im.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY; /* alpha composited on black */
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(im) + 1);
    if (!buf) {
        png_image_free(&im);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", path);
    }
    if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: corrupt PNG: %s", path, im.message);
        png_image_free(&im);
        return rc;
    }
    *c = colour ? 3 : 1;
    *h = (int)im.height;
    *w = (int)im.width;
    *px = buf;
    return 0;
}

int enevo__image_decode_mem(const unsigned char *buf, size_t len, const char *name,
                            unsigned char **px, int *c, int *h, int *w, char *err, size_t errlen)
{
    *px = NULL;
    if (len >= 8 && !png_sig_cmp(buf, 0, 8))
        return decode_png(buf, len, name, px, c, h, w, err, errlen);
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return decode_jpeg(buf, len, name, px, c, h, w, err, errlen);
    return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: neither a PNG nor a JPEG image", name);
}

static int decode(const char *path, unsigned char **px, int *c, int *h, int *w, char *err,
                  size_t errlen)
{
    struct enevo__map m;
    int rc = enevo__map_file(path, &m, err, errlen);
    if (!rc)
        rc = enevo__image_decode_mem(m.p, m.len, path, px, c, h, w, err, errlen);
    enevo__unmap(&m);
    return rc;
}

/* ---- one split ---- */

/* Images as [3, side, side] floats in [0, 1] (grey replicated), or with
 * `bytes` (enevo_data_opts.u8, no resize) as the bytes themselves in b,
 * grown as they come; colour says whether any had colour. */
struct acc {
    float *x;
    uint8_t *b;
    bool bytes;
    uint8_t *y;
    int n, cap, h, w;
    bool colour;
    char first[FOLDER_PATH]; /* the image that fixed the size */
};

static int add_image(struct acc *a, const char *path, int label, int resize, char *err,
                     size_t errlen)
{
    unsigned char *px;
    int c, h, w;
    int rc = decode(path, &px, &c, &h, &w, err, errlen);
    if (rc)
        return rc;
    int oh = resize ? resize : h, ow = resize ? resize : w;
    if (a->n == 0 && !a->h) {
        a->h = oh;
        a->w = ow;
        snprintf(a->first, sizeof a->first, "%s", path);
    } else if (oh != a->h || ow != a->w) {
        free(px);
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s is %dx%d but %s is %dx%d: images of mixed sizes need --resize S",
                          path, h, w, a->first, a->h, a->w);
    }
    size_t img = 3 * (size_t)oh * (size_t)ow;
    if (a->n == a->cap) {
        /* Room for 256 images, or as many as fit 64 MiB when they are large
         * (a fixed 256 made one 1024x1024 image reserve 3 GiB). */
        size_t fit = ((size_t)64 << 20) / (img * (a->bytes ? 1 : sizeof(float)));
        int cap = a->cap ? 2 * a->cap : fit >= 256 ? 256 : fit < 1 ? 1 : (int)fit;
        float *x = NULL;
        uint8_t *b = NULL;
        if (a->bytes) {
            b = realloc(a->b, img * (size_t)cap);
            if (b)
                a->b = b;
        } else {
            x = realloc(a->x, sizeof *x * img * (size_t)cap);
            if (x)
                a->x = x;
        }
        uint8_t *y = x || b ? realloc(a->y, (size_t)cap) : NULL;
        if (!y) {
            free(px);
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", path);
        }
        a->y = y;
        a->cap = cap;
    }
    a->colour |= c == 3;
    if (a->bytes) { /* enevo_dataset_images maps them to floats */
        uint8_t *dst = a->b + img * (size_t)a->n; // [3, h, w]
        size_t plane = (size_t)h * (size_t)w;
        for (int ch = 0; ch < 3; ch++)
            for (size_t i = 0; i < plane; i++)
                dst[(size_t)ch * plane + i] = px[i * (size_t)c + (c == 3 ? (size_t)ch : 0)];
        free(px);
        a->y[a->n++] = (uint8_t)label;
        return 0;
    }
    float *dst = a->x + img * (size_t)a->n; // [3, oh, ow]
    struct enevo_dataset one = {.n = 1, .c = 3, .h = h, .w = w};
    one.x = malloc(sizeof(float) * 3 * (size_t)h * (size_t)w);
    if (!one.x) {
        free(px);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", path);
    }
    size_t plane = (size_t)h * (size_t)w;
    for (int ch = 0; ch < 3; ch++)
        for (size_t i = 0; i < plane; i++)
            one.x[(size_t)ch * plane + i] = (float)px[i * (size_t)c + (c == 3 ? (size_t)ch : 0)] *
                                            (1.0f / 255.0f);
    free(px);
    if (resize && (rc = enevo_dataset_resize(&one, resize, err, errlen))) {
        free(one.x);
        return rc;
    }
    memcpy(dst, one.x, sizeof(float) * img);
    free(one.x);
    a->y[a->n++] = (uint8_t)label;
    return 0;
}

static bool is_image(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    static const char *const ext[] = {".png", ".PNG", ".jpg", ".JPG", ".jpeg", ".JPEG"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcmp(dot, ext[i]))
            return true;
    return false;
}

static int load_split(const char *root, const char *split, char **classes, int n_classes,
                      bool is_train, int resize, struct acc *a, char *err, size_t errlen)
{
    char sdir[FOLDER_PATH];
    if (snprintf(sdir, sizeof sdir, "%s/%s", root, split) >= (int)sizeof sdir)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: path too long", root);
    char **here;
    int n_here;
    int rc = list_dir(sdir, true, &here, &n_here, err, errlen);
    if (rc)
        return rc;
    if (n_here == 0)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: no class folders", sdir);
    for (int k = 0; k < n_here && !rc; k++) {
        int label = -1;
        for (int j = 0; j < n_classes; j++)
            if (!strcmp(classes[j], here[k]))
                label = j;
        if (label < 0) {
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                            "%s/%s: class '%s' is not among the training classes", sdir, here[k],
                            here[k]);
            break;
        }
        char cdir[FOLDER_PATH];
        if (snprintf(cdir, sizeof cdir, "%s/%s", sdir, here[k]) >= (int)sizeof cdir) {
            rc = enevo_errf(err, errlen, ENEVO_EINVAL, "%s/%s: path too long", sdir, here[k]);
            break;
        }
        char **files;
        int n_files;
        if ((rc = list_dir(cdir, false, &files, &n_files, err, errlen)))
            break;
        int used = 0;
        for (int i = 0; i < n_files && !rc; i++) {
            if (!is_image(files[i]))
                continue;
            char p[FOLDER_PATH];
            if (snprintf(p, sizeof p, "%s/%s", cdir, files[i]) >= (int)sizeof p)
                rc = enevo_errf(err, errlen, ENEVO_EINVAL, "%s/%s: path too long", cdir,
                                files[i]);
            else
                rc = add_image(a, p, label, resize, err, errlen);
            used++;
        }
        free_names(files, n_files);
        if (!rc && used == 0 && is_train)
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                            "%s: empty class folder (no .png or .jpg images)", cdir);
    }
    free_names(here, n_here);
    return rc;
}

static int finish(struct acc *a, int n_classes, struct enevo_dataset *d, char *err, size_t errlen)
{
    int c = a->colour ? 3 : 1;
    size_t plane = (size_t)a->h * (size_t)a->w;
    *d = (struct enevo_dataset){.n = a->n, .c = c, .h = a->h, .w = a->w, .n_classes = n_classes};
    if (a->bytes) {
        d->u8 = enevo__data_alloc((size_t)c * plane * (size_t)a->n + 1);
        if (!d->u8)
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory for %d images", a->n);
        for (int i = 0; i < a->n; i++)
            memcpy(d->u8 + (size_t)i * (size_t)c * plane, a->b + (size_t)i * 3 * plane,
                   (size_t)c * plane);
        d->y = a->y;
        a->y = NULL;
        free(a->b);
        a->b = NULL;
        return 0;
    }
    d->x = enevo__data_alloc(sizeof(float) * (size_t)c * plane * (size_t)a->n + 1);
    if (!d->x)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory for %d images", a->n);
    for (int i = 0; i < a->n; i++)
        memcpy(d->x + (size_t)i * (size_t)c * plane, a->x + (size_t)i * 3 * plane,
               sizeof(float) * (size_t)c * plane);
    d->y = a->y;
    a->y = NULL;
    free(a->x);
    a->x = NULL;
    return 0;
}

int enevo__folder_load(const char *dir, const struct enevo_data_opts *o, struct enevo_data *out,
                       char *err, size_t errlen)
{
    char tdir[FOLDER_PATH];
    if (snprintf(tdir, sizeof tdir, "%s/train", dir) >= (int)sizeof tdir)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: path too long", dir);
    char **classes;
    int n_classes;
    int rc = list_dir(tdir, true, &classes, &n_classes, err, errlen);
    if (rc)
        return rc;
    if (n_classes > 256) {
        free_names(classes, n_classes);
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: %d classes (at most 256)", tdir,
                          n_classes);
    }
    struct acc tr = {.bytes = o->u8 && !o->resize}, te = {0};
    rc = load_split(dir, "train", classes, n_classes, true, o->resize, &tr, err, errlen);
    if (!rc)
        rc = load_split(dir, "test", classes, n_classes, false, o->resize, &te, err, errlen);
    if (!rc && te.n && (te.h != tr.h || te.w != tr.w))
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                        "%s is %dx%d but %s is %dx%d: images of mixed sizes need --resize S",
                        te.first, te.h, te.w, tr.first, tr.h, tr.w);
    if (!rc) {
        te.colour = tr.colour = te.colour || tr.colour;
        rc = finish(&tr, n_classes, &out->train, err, errlen);
    }
    if (!rc)
        rc = finish(&te, n_classes, &out->test, err, errlen);
    free(tr.x);
    free(tr.b);
    free(tr.y);
    free(te.x);
    free(te.y);
    if (rc) {
        free_names(classes, n_classes);
        return rc;
    }
    out->class_names = classes;
    out->n_class_names = n_classes;
    return 0;
}
