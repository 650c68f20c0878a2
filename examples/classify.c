/* examples/classify.c — classify images with a trained enevo model, through
 * the library's public API only.
 *
 *     classify MODEL_FILE IMAGES_IDX LABELS_IDX
 *
 * MODEL_FILE: a model file (enevo train --save, a run's best/model.enevo,
 * examples/train_epoch). IMAGES_IDX, LABELS_IDX: an IDX image file and its
 * labels, raw or .gz (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz
 * of Fashion-MNIST). Prints the first predictions and the accuracy.
 *
 * Build against an installed enevo:
 *     cc classify.c $(pkg-config --cflags --libs enevo) -o classify
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enevo/enevo.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL_FILE IMAGES_IDX LABELS_IDX\n", argv[0]);
        return 2;
    }
    char err[ENEVO_ERR_LEN];
    struct enevo_model_file m;
    struct enevo_phenotype p;
    struct enevo_dataset d = {0};
    struct enevo_net *net = NULL;
    float *x = NULL;
    int rc, status = 1;

    if ((rc = enevo_model_load(argv[1], &m, err, sizeof err)))
        goto fail_model;
    /* The model file holds the network's phenotype text and its weights. */
    if ((rc = enevo_phenotype_parse(m.phenotype, argv[1], &p, err, sizeof err)))
        goto fail_phen;
    if ((rc = enevo_idx_load(argv[2], argv[3], &d, err, sizeof err)))
        goto out;
    if (d.c != m.in_c || d.h != m.in_h || d.w != m.in_w) {
        fprintf(stderr, "%s expects %dx%dx%d images, %s holds %dx%dx%d\n", argv[1], m.in_c, m.in_h,
                m.in_w, argv[2], d.c, d.h, d.w);
        goto out;
    }

    /* An inference net (no gradients) that takes `batch` images at a time,
     * given the trained weights and batch-norm statistics. */
    const int batch = 100;
    struct enevo_net_opts o = {.batch = batch, .training = false, .device = "cpu"};
    struct enevo_shape in = {m.in_c, m.in_h, m.in_w};
    if ((rc = enevo_net_create(&p, in, m.n_classes, &o, &net, err, sizeof err)))
        goto out;
    if (enevo_net_param_count(net) != m.n_params || enevo_net_stats_count(net) != m.n_stats) {
        fprintf(stderr, "%s: the weights do not fit the phenotype\n", argv[1]);
        goto out;
    }
    memcpy(enevo_net_params(net), m.params, m.n_params * sizeof(float));
    memcpy(enevo_net_stats(net), m.stats, m.n_stats * sizeof(float));

    /* enevo_idx_load gives pixels in [0, 1]; the network expects them
     * normalised per channel as in training: (x - mean) / std. */
    size_t image = (size_t)d.c * d.h * d.w, plane = (size_t)d.h * d.w;
    x = calloc((size_t)batch * image, sizeof *x);
    if (!x) {
        rc = enevo_errf(err, sizeof err, ENEVO_ENOMEM, "%d images of %zu floats", batch, image);
        goto out;
    }
    int correct = 0;
    for (int first = 0; first < d.n; first += batch) {
        int n = d.n - first < batch ? d.n - first : batch;
        memcpy(x, d.x + (size_t)first * image, (size_t)n * image * sizeof *x);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < d.c; ch++) {
                float *px = x + (size_t)i * image + (size_t)ch * plane;
                float mean = m.ch_mean[ch], inv = 1.0f / m.ch_std[ch];
                for (size_t k = 0; k < plane; k++)
                    px[k] = (px[k] - mean) * inv;
            }
        if ((rc = enevo_net_forward(net, x, false, 0))) {
            enevo_errf(err, sizeof err, rc, "%s: forward pass failed", argv[1]);
            goto out;
        }
        const float *logits = enevo_net_logits(net); /* [batch, n_classes] */
        for (int i = 0; i < n; i++) {
            const float *l = logits + (size_t)i * m.n_classes;
            int best = 0;
            for (int k = 1; k < m.n_classes; k++)
                best = l[k] > l[best] ? k : best;
            correct += best == d.y[first + i];
            if (first + i < 5)
                printf("image %d: class %d (label %d)\n", first + i, best, d.y[first + i]);
        }
    }
    printf("accuracy %.4f (%d of %d images)\n", (double)correct / d.n, correct, d.n);
    status = 0;
out:
    if (status && rc)
        fprintf(stderr, "classify: %s (%s)\n", err, enevo_strerror(rc));
    free(x);
    enevo_net_free(net);
    enevo_dataset_free(&d);
    enevo_phenotype_free(&p);
    enevo_model_file_free(&m);
    return status;
fail_phen:
    enevo_model_file_free(&m);
fail_model:
    fprintf(stderr, "classify: %s (%s)\n", err, enevo_strerror(rc));
    return 1;
}
