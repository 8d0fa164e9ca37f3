/* model.h: the model file of the examples (model.txt), shared by the
 * trainer (writes it) and the model server (loads it), so that the trainer's
 * test accuracy is computed by the very code that serves predictions.
 *
 * model.txt, version 1: text, one record per line, '#' lines and blank lines
 * ignored, records in this order:
 *
 *   mlvm-logreg 1
 *   name NAME                    [A-Za-z0-9._-]{1,32}
 *   features F                   1..MODEL_MAX_FEATURES
 *   classes K                    2..MODEL_MAX_CLASSES
 *   mean M1 .. MF                per-feature mean of the training set
 *   std S1 .. SF                 per-feature standard deviation (> 0)
 *   class I NAME B W1 .. WF      K lines, I = 0..K-1 in order
 *
 * Numbers are printed with %.17g, which round-trips every double exactly.
 * The probabilities of an input x are softmax(W z + B) over the classes,
 * where z[j] = (x[j] - mean[j]) / std[j]. */
#ifndef EXAMPLES_MODEL_H
#define EXAMPLES_MODEL_H

#include <stddef.h>
#include <stdio.h>

#define MODEL_MAX_FEATURES 64
#define MODEL_MAX_CLASSES 32
#define MODEL_NAME_MAX 32
#define MODEL_FILE_MAX (1u << 20)   /* 1 MiB: a few KiB is all a valid file needs */

struct model {
        char name[MODEL_NAME_MAX + 1];
        int nf, nk;
        char cls[MODEL_MAX_CLASSES][MODEL_NAME_MAX + 1];
        double mean[MODEL_MAX_FEATURES], std[MODEL_MAX_FEATURES];
        double bias[MODEL_MAX_CLASSES];
        double w[MODEL_MAX_CLASSES][MODEL_MAX_FEATURES];
};

/* A name as model.txt and the JSON answers carry it: [A-Za-z0-9._-]{1,32}
 * (nothing that needs quoting anywhere). */
int model_name_ok(const char *s, size_t len);

/* Parses exactly len bytes as a finite decimal number ([+-], digits, '.',
 * exponent; no spaces, hex, inf or nan); returns 0, or -1. */
int model_parse_number(const char *s, size_t len, double *ret);

/* Writes m to f as model.txt; returns 0, or -1 when a write failed. */
int model_write(const struct model *m, FILE *f);

/* Loads path into m. Returns 0, or -1 with a one-line reason
 * ("FILE:LINE: what") in err. */
int model_load(const char *path, struct model *m, char *err, size_t errcap);

/* Class probabilities of the raw features x (m->nf of them) into prob
 * (m->nk); returns the most probable class (the lowest index on a tie), or
 * -1 when inputs so far out of range make a logit infinite. */
int model_predict(const struct model *m, const double *x, double *prob);

#endif
