/* Helpers shared inside src/evo: module surgery. Internal. */
#ifndef ENEVO_EVO_INTERNAL_H
#define ENEVO_EVO_INTERNAL_H

#include "enevo/evo.h"

void enevo_module_free(struct enevo_module *m);
int enevo_module_copy(const struct enevo_module *src, struct enevo_module *dst);
/* A module of n_layers random layers of config module type `type`. */
int enevo_module_random(const struct enevo_evo_space *s, int type, int n_layers, enevo_rng *rng,
                        struct enevo_module *out);
/* Insert *m at position pos (takes ownership; *m is zeroed). */
int enevo_module_insert(struct enevo_genotype *gt, int pos, struct enevo_module *m);
int enevo_module_insert_layer(struct enevo_module *m, int pos, struct enevo_dsge *dsge,
                              int levels_back);
void enevo_module_remove_layer(struct enevo_module *m, int pos, int levels_back);
int enevo_module_write(const struct enevo_module *m, unsigned char **buf, size_t *len,
                       size_t *cap);
int enevo_module_read(const struct enevo_evo_space *s, const unsigned char *buf, size_t len,
                      size_t *pos, struct enevo_module *out, char *err, size_t errlen);
/* Restore the sequential backbone and drop inputs outside levels_back. */
void enevo_module_repair(struct enevo_module *m, int levels_back);

#endif
