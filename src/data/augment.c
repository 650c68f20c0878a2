/* Augmentation: torchvision's transforms, per image, in C. Every image is
 * worked on in its source pixel scale ([0, 1] for 8-bit data) in two
 * ping-pong buffers of the largest intermediate size. */
#include <math.h>
#include <string.h>

#include "enevo/data.h"
#include "enevo/rng.h"
#include "data/data_internal.h"

/* Own stream id, outside the library's enum (as the synthetic data's). */
#define AUG_STREAM 0xa06u

static const char *const aug_names[ENEVO_AUG_KINDS] = {
    [ENEVO_AUG_RESIZE] = "resize",
    [ENEVO_AUG_CENTER_CROP] = "center_crop",
    [ENEVO_AUG_PADDING] = "padding",
    [ENEVO_AUG_NORMALIZE] = "normalize",
    [ENEVO_AUG_RANDOM_CROP] = "random_crop",
    [ENEVO_AUG_HFLIP] = "random_horizontal_flip",
    [ENEVO_AUG_RESIZED_CROP] = "random_resized_crop",
    [ENEVO_AUG_COLOR_JITTER] = "color_jitter",
    [ENEVO_AUG_GRAYSCALE] = "random_grayscale",
    [ENEVO_AUG_BLUR] = "gaussian_blur",
    [ENEVO_AUG_SOLARIZE] = "random_solarize",
};
_Static_assert(sizeof aug_names / sizeof aug_names[0] == ENEVO_AUG_KINDS, "aug_names");

const char *enevo_aug_name(int kind)
{
    return kind >= 0 && kind < ENEVO_AUG_KINDS ? aug_names[kind] : NULL;
}

int enevo_aug_kind(const char *name)
{
    for (int k = 0; k < ENEVO_AUG_KINDS; k++)
        if (!strcmp(name, aug_names[k]))
            return k;
    return -1;
}

int enevo_aug_is_random(int kind)
{
    return kind >= ENEVO_AUG_RANDOM_CROP;
}

/* The image side after op (h, w in/out); 0 when the op cannot apply. */
static void op_shape(const struct enevo_aug_op *o, int *h, int *w)
{
    switch (o->kind) {
    case ENEVO_AUG_RESIZE:
    case ENEVO_AUG_CENTER_CROP:
    case ENEVO_AUG_RANDOM_CROP:
    case ENEVO_AUG_RESIZED_CROP:
        *h = *w = o->size;
        break;
    case ENEVO_AUG_PADDING:
        *h += 2 * o->padding;
        *w += 2 * o->padding;
        break;
    default:
        break;
    }
}

int enevo_augment_check(const struct enevo_augment *a, int c, int h, int w, char *err,
                        size_t errlen)
{
    int hh = h, ww = w;
    for (int i = 0; i < a->n; i++) {
        const struct enevo_aug_op *o = &a->op[i];
        if (o->kind == ENEVO_AUG_RESIZE && o->size != hh)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "augmentation: resize to %d inside the pipeline (images are %dx%d "
                              "there); enevo resizes once at load: use the same size as the "
                              "images",
                              o->size, hh, ww);
        if (o->kind == ENEVO_AUG_RANDOM_CROP &&
            (o->size > hh + 2 * o->padding || o->size > ww + 2 * o->padding))
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "augmentation: random_crop size %d is larger than the padded "
                              "%dx%d images",
                              o->size, hh + 2 * o->padding, ww + 2 * o->padding);
        if (o->kind == ENEVO_AUG_NORMALIZE && o->n_norm != c && o->n_norm != 1)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "augmentation: normalize has %d values but the images have %d "
                              "channels",
                              o->n_norm, c);
        if (o->kind == ENEVO_AUG_BLUR && (o->kernel > hh || o->kernel > ww))
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "augmentation: gaussian_blur kernel %d is larger than the %dx%d "
                              "images",
                              o->kernel, hh, ww);
        op_shape(o, &hh, &ww);
    }
    if (hh != h || ww != w)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "augmentation: the pipeline turns %dx%d images into %dx%d; the "
                          "network takes the loaded size, so the crops must give it back",
                          h, w, hh, ww);
    return 0;
}

size_t enevo_augment_scratch(const struct enevo_augment *a, int c, int h, int w)
{
    size_t most = (size_t)h * (size_t)w;
    int hh = h, ww = w;
    for (int i = 0; i < a->n; i++) {
        op_shape(&a->op[i], &hh, &ww);
        if ((size_t)hh * (size_t)ww > most)
            most = (size_t)hh * (size_t)ww;
    }
    /* Two ping-pong buffers, plus a plane for blur and grey values. */
    return 2 * (size_t)c * most + 2 * most;
}

/* torch's bilinear sampling with align_corners=False, of the region
 * [y0, y0 + rh) x [x0, x0 + rw) of src ([c, h, w]) to an oh x ow dst. */
static void resample(const float *src, int c, int h, int w, int y0, int x0, int rh, int rw,
                     float *dst, int oh, int ow)
{
    float sy = (float)rh / (float)oh, sx = (float)rw / (float)ow;
    for (int oy = 0; oy < oh; oy++) {
        int iy, iy1;
        float ly;
        enevo__bilinear_tap(sy, oy, rh, &iy, &iy1, &ly);
        float hy = 1 - ly;
        for (int ox = 0; ox < ow; ox++) {
            int ix, ix1;
            float lx;
            enevo__bilinear_tap(sx, ox, rw, &ix, &ix1, &lx);
            float hx = 1 - lx;
            for (int ch = 0; ch < c; ch++) {
                const float *p = src + (size_t)ch * (size_t)h * (size_t)w; // [h, w]
                const float *r0 = p + (size_t)(y0 + iy) * (size_t)w + x0;
                const float *r1 = p + (size_t)(y0 + iy1) * (size_t)w + x0;
                dst[((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox] =
                    hy * (hx * r0[ix] + lx * r0[ix1]) + ly * (hx * r1[ix] + lx * r1[ix1]);
            }
        }
    }
}

/* A window of src at (top, left) of oh x ow, zeros outside. */
static void window(const float *src, int c, int h, int w, int top, int left, float *dst, int oh,
                   int ow)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < oh; y++) {
            float *d = dst + ((size_t)ch * (size_t)oh + (size_t)y) * (size_t)ow;
            int sy = y + top;
            if (sy < 0 || sy >= h) {
                memset(d, 0, sizeof *d * (size_t)ow);
                continue;
            }
            const float *s = src + ((size_t)ch * (size_t)h + (size_t)sy) * (size_t)w;
            for (int x = 0; x < ow; x++) {
                int sx = x + left;
                d[x] = sx >= 0 && sx < w ? s[sx] : 0.0f;
            }
        }
}

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* ITU-R 601-2 luma, as torchvision's rgb_to_grayscale. */
static void gray_plane(const float *x, int c, size_t plane, float *g)
{
    if (c < 3) {
        memcpy(g, x, sizeof *g * plane);
        return;
    }
    for (size_t i = 0; i < plane; i++)
        g[i] = 0.299f * x[i] + 0.587f * x[plane + i] + 0.114f * x[2 * plane + i];
}

static void blend(float *x, size_t n, float f, float other)
{
    for (size_t i = 0; i < n; i++)
        x[i] = clamp01(f * x[i] + (1 - f) * other);
}

static void adjust_hue(float *x, size_t plane, float shift)
{
    for (size_t i = 0; i < plane; i++) {
        float r = x[i], g = x[plane + i], b = x[2 * plane + i];
        float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
        float hh = 0, s = mx > 0 ? d / mx : 0, v = mx;
        if (d > 0) {
            if (mx == r)
                hh = (g - b) / d;
            else if (mx == g)
                hh = 2 + (b - r) / d;
            else
                hh = 4 + (r - g) / d;
            hh /= 6;
        }
        hh += shift;
        hh -= floorf(hh);
        float h6 = hh * 6;
        int k = (int)h6 % 6;
        float f = h6 - floorf(h6);
        float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        float rr[6] = {v, q, p, p, t, v}, gg[6] = {t, v, v, q, p, p}, bb[6] = {p, p, t, v, v, q};
        x[i] = rr[k];
        x[plane + i] = gg[k];
        x[2 * plane + i] = bb[k];
    }
}

/* ColorJitter: the four factors in a random order, as torchvision. */
static void color_jitter(const struct enevo_aug_op *o, enevo_rng *r, float *x, int c, size_t plane,
                         float *g)
{
    int order[4] = {0, 1, 2, 3};
    enevo_rng_shuffle(r, order, 4);
    double f[4];
    for (int k = 0; k < 3; k++) {
        double lo = o->a[k] < 1 ? 1 - o->a[k] : 0, hi = 1 + o->a[k];
        f[k] = o->a[k] > 0 ? lo + (hi - lo) * enevo_rng_double(r) : 1;
    }
    f[3] = o->a[3] > 0 ? -o->a[3] + 2 * o->a[3] * enevo_rng_double(r) : 0;
    size_t n = (size_t)c * plane;
    for (int j = 0; j < 4; j++) {
        int k = order[j];
        if (k == 0 && o->a[0] > 0) {
            for (size_t i = 0; i < n; i++)
                x[i] = clamp01((float)f[0] * x[i]);
        } else if (k == 1 && o->a[1] > 0) {
            gray_plane(x, c, plane, g);
            double m = 0;
            for (size_t i = 0; i < plane; i++)
                m += g[i];
            blend(x, n, (float)f[1], (float)(m / (double)plane));
        } else if (k == 2 && o->a[2] > 0 && c >= 3) {
            gray_plane(x, c, plane, g);
            for (int ch = 0; ch < 3; ch++)
                for (size_t i = 0; i < plane; i++) {
                    float *v = x + (size_t)ch * plane + i;
                    *v = clamp01((float)f[2] * *v + (1 - (float)f[2]) * g[i]);
                }
        } else if (k == 3 && o->a[3] > 0 && c >= 3) {
            adjust_hue(x, plane, (float)f[3]);
        }
    }
}

/* Separable Gaussian blur with reflect padding (torchvision's). */
static void blur(const float *src, float *dst, float *tmp, int c, int h, int w, int k, float sigma)
{
    float kw[65];
    int half = k / 2;
    float sum = 0;
    for (int i = 0; i < k; i++) {
        float d = (float)(i - half) / sigma;
        kw[i] = expf(-0.5f * d * d);
        sum += kw[i];
    }
    for (int i = 0; i < k; i++)
        kw[i] /= sum;
    for (int ch = 0; ch < c; ch++) {
        const float *s = src + (size_t)ch * (size_t)h * (size_t)w;
        float *d = dst + (size_t)ch * (size_t)h * (size_t)w;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float v = 0;
                for (int i = 0; i < k; i++) {
                    int sx = x + i - half;
                    sx = sx < 0 ? -sx : sx >= w ? 2 * (w - 1) - sx : sx;
                    v += kw[i] * s[(size_t)y * (size_t)w + (size_t)sx];
                }
                tmp[(size_t)y * (size_t)w + (size_t)x] = v;
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float v = 0;
                for (int i = 0; i < k; i++) {
                    int sy = y + i - half;
                    sy = sy < 0 ? -sy : sy >= h ? 2 * (h - 1) - sy : sy;
                    v += kw[i] * tmp[(size_t)sy * (size_t)w + (size_t)x];
                }
                d[(size_t)y * (size_t)w + (size_t)x] = v;
            }
    }
}

/* RandomResizedCrop.get_params: ten tries at a random area and aspect,
 * then a centre crop clamped to the ratio range. */
static void resized_crop_box(const struct enevo_aug_op *o, enevo_rng *r, int h, int w, int *top,
                             int *left, int *ch, int *cw)
{
    double area = (double)h * w, lr0 = log(o->a[2]), lr1 = log(o->a[3]);
    for (int t = 0; t < 10; t++) {
        double target = area * (o->a[0] + (o->a[1] - o->a[0]) * enevo_rng_double(r));
        double ar = exp(lr0 + (lr1 - lr0) * enevo_rng_double(r));
        int tw = (int)lround(sqrt(target * ar)), th = (int)lround(sqrt(target / ar));
        if (tw > 0 && tw <= w && th > 0 && th <= h) {
            *top = (int)enevo_rng_below(r, (uint32_t)(h - th + 1));
            *left = (int)enevo_rng_below(r, (uint32_t)(w - tw + 1));
            *ch = th;
            *cw = tw;
            return;
        }
    }
    double in_ratio = (double)w / h;
    int tw = w, th = h;
    if (in_ratio < o->a[2]) {
        th = (int)lround(w / o->a[2]);
    } else if (in_ratio > o->a[3]) {
        tw = (int)lround(h * o->a[3]);
    }
    if (th < 1)
        th = 1;
    if (tw < 1)
        tw = 1;
    *top = (h - th) / 2;
    *left = (w - tw) / 2;
    *ch = th;
    *cw = tw;
}

void enevo_augment_image(const struct enevo_augment *a, uint64_t epoch, uint64_t index, int c,
                         int h, int w, const float *src, float *dst, float *scratch)
{
    size_t cap = (enevo_augment_scratch(a, c, h, w) - 0) / (size_t)(2 * c + 2);
    float *cur = scratch, *nxt = scratch + (size_t)c * cap, *plane_buf = nxt + (size_t)c * cap;
    size_t plane = (size_t)h * (size_t)w;
    for (int ch = 0; ch < c; ch++) {
        float m = ch < a->c ? a->mean[ch] : 0, s = ch < a->c ? a->std[ch] : 1;
        for (size_t i = 0; i < plane; i++)
            cur[(size_t)ch * plane + i] = src[(size_t)ch * plane + i] * s + m;
    }
    enevo_rng r;
    enevo_rng_seed3(&r, a->seed, AUG_STREAM, epoch, index);
    int hh = h, ww = w;
    for (int i = 0; i < a->n; i++) {
        const struct enevo_aug_op *o = &a->op[i];
        size_t pl = (size_t)hh * (size_t)ww;
        float *t;
        switch (o->kind) {
        case ENEVO_AUG_RESIZE:
        case ENEVO_AUG_NORMALIZE:
            break; /* done at load */
        case ENEVO_AUG_CENTER_CROP: {
            int top = (int)lround((hh - o->size) / 2.0), left = (int)lround((ww - o->size) / 2.0);
            window(cur, c, hh, ww, top, left, nxt, o->size, o->size);
            hh = ww = o->size;
            t = cur, cur = nxt, nxt = t;
            break;
        }
        case ENEVO_AUG_PADDING:
            window(cur, c, hh, ww, -o->padding, -o->padding, nxt, hh + 2 * o->padding,
                   ww + 2 * o->padding);
            hh += 2 * o->padding;
            ww += 2 * o->padding;
            t = cur, cur = nxt, nxt = t;
            break;
        case ENEVO_AUG_RANDOM_CROP: {
            int top = (int)enevo_rng_below(&r, (uint32_t)(hh + 2 * o->padding - o->size + 1));
            int left = (int)enevo_rng_below(&r, (uint32_t)(ww + 2 * o->padding - o->size + 1));
            window(cur, c, hh, ww, top - o->padding, left - o->padding, nxt, o->size, o->size);
            hh = ww = o->size;
            t = cur, cur = nxt, nxt = t;
            break;
        }
        case ENEVO_AUG_HFLIP:
            if (enevo_rng_double(&r) < o->p)
                for (int ch = 0; ch < c; ch++)
                    for (int y = 0; y < hh; y++) {
                        float *row = cur + ((size_t)ch * (size_t)hh + (size_t)y) * (size_t)ww;
                        for (int x = 0; x < ww / 2; x++) {
                            float v = row[x];
                            row[x] = row[ww - 1 - x];
                            row[ww - 1 - x] = v;
                        }
                    }
            break;
        case ENEVO_AUG_RESIZED_CROP: {
            int top, left, ch_, cw_;
            resized_crop_box(o, &r, hh, ww, &top, &left, &ch_, &cw_);
            resample(cur, c, hh, ww, top, left, ch_, cw_, nxt, o->size, o->size);
            hh = ww = o->size;
            t = cur, cur = nxt, nxt = t;
            break;
        }
        case ENEVO_AUG_COLOR_JITTER:
            color_jitter(o, &r, cur, c, pl, plane_buf);
            break;
        case ENEVO_AUG_GRAYSCALE:
            if (enevo_rng_double(&r) < o->p && c >= 3) {
                gray_plane(cur, c, pl, plane_buf);
                for (int ch = 0; ch < 3; ch++)
                    memcpy(cur + (size_t)ch * pl, plane_buf, sizeof *cur * pl);
            }
            break;
        case ENEVO_AUG_BLUR: {
            float sigma = (float)(o->a[0] + (o->a[1] - o->a[0]) * enevo_rng_double(&r));
            blur(cur, nxt, plane_buf, c, hh, ww, o->kernel, sigma);
            t = cur, cur = nxt, nxt = t;
            break;
        }
        case ENEVO_AUG_SOLARIZE:
            if (enevo_rng_double(&r) < o->p) {
                float thr = (float)o->a[0];
                for (size_t k = 0; k < (size_t)c * pl; k++)
                    if (cur[k] >= thr)
                        cur[k] = 1.0f - cur[k];
            }
            break;
        default:
            break;
        }
    }
    /* enevo_augment_check made hh x ww == h x w. */
    for (int ch = 0; ch < c; ch++) {
        float m = ch < a->c ? a->mean[ch] : 0, inv = ch < a->c ? 1.0f / a->std[ch] : 1;
        for (size_t i = 0; i < plane; i++)
            dst[(size_t)ch * plane + i] = (cur[(size_t)ch * plane + i] - m) * inv;
    }
}
