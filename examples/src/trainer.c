/* trainer.c: the example experiment (examples/README). Trains multinomial
 * logistic regression on a CSV dataset in scikit-learn's layout (Fisher's
 * iris ships in examples/data) and writes model.txt (model.h) and
 * metrics.json into the artifact directory. Static with musl, libc and libm
 * only, so it runs in the "minimal" image (busybox and the agent).
 *
 *   trainer [--out DIR] [--token FILE] [--name NAME] DATA.csv
 *
 * DATA.csv: a header "ROWS,FEATURES,CLASS0,CLASS1,..." and then ROWS lines
 * of FEATURES numbers and a class index. Every 5th row (the 5th, 10th, ...)
 * is held out for testing; the others are standardized and trained on.
 *
 * Deterministic: the split is by row number, plain batch gradient descent
 * starts from zero weights and sums in a fixed order, and numbers are
 * printed with %.17g, so the same binary gives a byte-identical model.txt
 * for the same input, on any x86-64 CPU (musl's libm has no CPU-specific
 * paths; a glibc build differs in the last bits of exp()).
 * Trust: the dataset and the token are input; sizes, line lengths, counts
 * and every number are checked, and the token itself is never printed. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "token.h"

#define DATA_MAX (16u << 20)        /* 16 MiB of CSV */
#define LINE_MAX_BYTES 4096
#define ROWS_MAX 1000000
#define TEST_EVERY 5
#define ITERATIONS 2000
#define LEARNING_RATE 0.5
#define L2 0.001
#define DEFAULT_TOKEN "/run/mlvm/secrets/RUN_TOKEN"

struct data {
        int n, nf, nk;
        char cls[MODEL_MAX_CLASSES][MODEL_NAME_MAX + 1];
        double *x;                  /* n rows of nf */
        int *y;
};

static void die(const char *fmt, ...)
{
        va_list ap;

        fputs("trainer: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

/* The whole of a regular file of at most cap bytes, NUL-terminated. */
static char *slurp(const char *path, size_t cap, size_t *ret_len)
{
        struct stat st;
        size_t len = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                die("%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                die("%s: not a regular file", path);
        if (st.st_size > (off_t)cap)
                die("%s: larger than %zu bytes", path, cap);
        char *buf = malloc(cap + 2);
        if (!buf)
                die("out of memory");
        for (;;) {
                ssize_t n = read(fd, buf + len, cap + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        die("%s: %s", path, strerror(errno));
                if (n == 0)
                        break;
                if ((len += (size_t)n) > cap)
                        die("%s: larger than %zu bytes", path, cap);
        }
        close(fd);
        buf[len] = 0;
        *ret_len = len;
        return buf;
}

/* Splits line (NUL-terminated, modified) at commas into at most max fields. */
static int split(char *line, char **f, int max)
{
        int n = 0;

        for (char *p = line;; p++) {
                if (n == max)
                        return max + 1;
                f[n++] = p;
                p = strchr(p, ',');
                if (!p)
                        return n;
                *p = 0;
        }
}

static int parse_int(const char *s, long lo, long hi, long *ret)
{
        long v = 0;

        if (!*s || strlen(s) > 9)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -1;
                v = v * 10 + (*s - '0');
        }
        if (v < lo || v > hi)
                return -1;
        *ret = v;
        return 0;
}

static void header(const char *path, char *line, struct data *d)
{
        char *f[3 + MODEL_MAX_CLASSES];
        long rows, nf;
        int n = split(line, f, 3 + MODEL_MAX_CLASSES);

        if (n < 4 || n > 2 + MODEL_MAX_CLASSES)
                die("%s:1: header: expected ROWS,FEATURES and 2 to %d class names", path, MODEL_MAX_CLASSES);
        if (parse_int(f[0], 1, ROWS_MAX, &rows) < 0)
                die("%s:1: header: row count \"%.20s\" is not a number in 1..%d", path, f[0], ROWS_MAX);
        if (parse_int(f[1], 1, MODEL_MAX_FEATURES, &nf) < 0)
                die("%s:1: header: feature count \"%.20s\" is not a number in 1..%d", path, f[1], MODEL_MAX_FEATURES);
        d->n = (int)rows;
        d->nf = (int)nf;
        d->nk = n - 2;
        for (int k = 0; k < d->nk; k++) {
                if (!model_name_ok(f[2 + k], strlen(f[2 + k])))
                        die("%s:1: header: class name %d is not [A-Za-z0-9._-]{1,%d}", path, k + 1, MODEL_NAME_MAX);
                memcpy(d->cls[k], f[2 + k], strlen(f[2 + k]) + 1);   /* length checked just above */
                for (int i = 0; i < k; i++)
                        if (strcmp(d->cls[i], d->cls[k]) == 0)
                                die("%s:1: header: class name \"%s\" appears twice", path, d->cls[k]);
        }
}

static void load(const char *path, struct data *d)
{
        size_t len, off = 0, lineno = 0;
        char *buf = slurp(path, DATA_MAX, &len);
        char line[LINE_MAX_BYTES + 1], *f[MODEL_MAX_FEATURES + 2];
        int rows = 0;

        memset(d, 0, sizeof(*d));
        if (memchr(buf, 0, len))
                die("%s: contains a NUL byte", path);
        while (off < len) {
                char *p = buf + off, *nl = memchr(p, '\n', len - off);
                size_t l = nl ? (size_t)(nl - p) : len - off;
                off += l + (nl ? 1 : 0);
                lineno++;
                if (l > 0 && p[l - 1] == '\r')
                        l--;
                if (l > LINE_MAX_BYTES)
                        die("%s:%zu: line longer than %d bytes", path, lineno, LINE_MAX_BYTES);
                if (l == 0)
                        die("%s:%zu: empty line", path, lineno);
                memcpy(line, p, l);
                line[l] = 0;
                if (lineno == 1) {
                        header(path, line, d);
                        d->x = calloc((size_t)d->n * (size_t)d->nf, sizeof(double));
                        d->y = calloc((size_t)d->n, sizeof(int));
                        if (!d->x || !d->y)
                                die("out of memory");
                        continue;
                }
                if (rows == d->n)
                        die("%s:%zu: more rows than the header's %d", path, lineno, d->n);
                int n = split(line, f, d->nf + 1);
                if (n != d->nf + 1)
                        die("%s:%zu: expected %d fields (%d features and a class), got %s%d", path, lineno,
                            d->nf + 1, d->nf, n > d->nf + 1 ? "more than " : "", n > d->nf + 1 ? d->nf + 1 : n);
                for (int j = 0; j < d->nf; j++)
                        if (model_parse_number(f[j], strlen(f[j]), &d->x[(size_t)rows * d->nf + j]) < 0)
                                die("%s:%zu: field %d: \"%.32s\" is not a number", path, lineno, j + 1, f[j]);
                long y;
                if (parse_int(f[d->nf], 0, d->nk - 1, &y) < 0)
                        die("%s:%zu: field %d: class \"%.32s\" is not a number in 0..%d", path, lineno,
                            d->nf + 1, f[d->nf], d->nk - 1);
                d->y[rows++] = (int)y;
        }
        if (lineno == 0)
                die("%s: empty file", path);
        if (rows != d->n)
                die("%s:%zu: the header says %d rows, the file has %d", path, lineno, d->n, rows);
        if (d->n < TEST_EVERY)
                die("%s: %d rows: at least %d are needed to hold one out for testing", path, d->n, TEST_EVERY);
        free(buf);
}

static int is_test(int i)
{
        return i % TEST_EVERY == TEST_EVERY - 1;
}

/* Mean loss (cross-entropy plus the L2 term) of m on the standardized
 * training rows z; with grad_w/grad_b, also its gradient. */
static double loss(const struct model *m, const double *z, const int *y, int n, double (*grad_w)[MODEL_MAX_FEATURES],
                   double *grad_b)
{
        double sum = 0, p[MODEL_MAX_CLASSES], reg = 0;
        int nf = m->nf, nk = m->nk;

        if (grad_w) {
                memset(grad_w, 0, sizeof(double) * MODEL_MAX_CLASSES * MODEL_MAX_FEATURES);
                memset(grad_b, 0, sizeof(double) * MODEL_MAX_CLASSES);
        }
        for (int i = 0; i < n; i++) {
                const double *x = z + (size_t)i * nf;
                double max = -HUGE_VAL, s = 0;
                for (int k = 0; k < nk; k++) {
                        p[k] = m->bias[k];
                        for (int j = 0; j < nf; j++)
                                p[k] += m->w[k][j] * x[j];
                        if (p[k] > max)
                                max = p[k];
                }
                for (int k = 0; k < nk; k++)
                        s += (p[k] = exp(p[k] - max));
                for (int k = 0; k < nk; k++)
                        p[k] /= s;
                sum -= log(p[y[i]] > 1e-300 ? p[y[i]] : 1e-300);
                if (!grad_w)
                        continue;
                for (int k = 0; k < nk; k++) {
                        double g = p[k] - (k == y[i] ? 1.0 : 0.0);
                        grad_b[k] += g;
                        for (int j = 0; j < nf; j++)
                                grad_w[k][j] += g * x[j];
                }
        }
        for (int k = 0; k < nk; k++)
                for (int j = 0; j < nf; j++)
                        reg += m->w[k][j] * m->w[k][j];
        return sum / n + 0.5 * L2 * reg;
}

static FILE *create(const char *dir, const char *name)
{
        char path[4096];

        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
                die("%s: path too long", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
        if (!f)
                die("%s: %s", path, strerror(errno));
        return f;
}

static void finish(FILE *f, const char *dir, const char *name)
{
        if (ferror(f) | fclose(f))
                die("%s/%s: write failed: %s", dir, name, strerror(errno));
}

/* Reads the run's JWT if it was granted; returns 1 with the claims, 0 if
 * there is no token. A token that is there but unreadable is an error. */
static int read_token(const char *path, struct token_claims *c)
{
        const char *why;
        size_t len;

        if (access(path, F_OK) < 0 && errno == ENOENT)
                return 0;
        char *tok = slurp(path, TOKEN_MAX + 2, &len);
        int r = token_claims(tok, len, c, &why);
        memset(tok, 0, len);
        free(tok);
        if (r < 0)
                die("%s: not a usable JWT: %s", path, why);
        return 1;
}

static void usage(void)
{
        fputs("usage: trainer [--out DIR] [--token FILE] [--name NAME] DATA.csv\n", stderr);
        exit(2);
}

int main(int argc, char **argv)
{
        const char *out = getenv("MLVM_ARTIFACTS"), *token = DEFAULT_TOKEN, *name = "iris-logreg", *data = NULL;
        static double gw[MODEL_MAX_CLASSES][MODEL_MAX_FEATURES];
        double gb[MODEL_MAX_CLASSES], prob[MODEL_MAX_CLASSES];
        struct token_claims claims;
        struct model m;
        struct data d;

        setvbuf(stdout, NULL, _IOLBF, 0);   /* mlvm run streams it live */
        for (int i = 1; i < argc; i++) {
                if (i + 1 < argc && strcmp(argv[i], "--out") == 0)
                        out = argv[++i];
                else if (i + 1 < argc && strcmp(argv[i], "--token") == 0)
                        token = argv[++i];
                else if (i + 1 < argc && strcmp(argv[i], "--name") == 0)
                        name = argv[++i];
                else if (argv[i][0] != '-' && !data)
                        data = argv[i];
                else
                        usage();
        }
        if (!data)
                usage();
        if (!out || !*out)
                die("no output directory: give --out DIR or set MLVM_ARTIFACTS");
        if (!model_name_ok(name, strlen(name)))
                die("--name: \"%.40s\" is not [A-Za-z0-9._-]{1,%d}", name, MODEL_NAME_MAX);
        int granted = read_token(token, &claims);
        if (granted)
                printf("using credential RUN_TOKEN for run %s (model %s)\n", claims.run_id, claims.model);

        load(data, &d);
        int ntest = d.n / TEST_EVERY, ntrain = d.n - ntest;   /* is_test() picks exactly these */
        printf("loaded %d rows (%d features, %d classes) from %s: %d to train, %d to test\n", d.n, d.nf, d.nk,
               data, ntrain, ntest);

        memset(&m, 0, sizeof(m));
        memcpy(m.name, name, strlen(name) + 1);   /* length checked by model_name_ok */
        m.nf = d.nf;
        m.nk = d.nk;
        memcpy(m.cls, d.cls, sizeof(m.cls));
        for (int j = 0; j < d.nf; j++) {
                double s = 0, v = 0;
                for (int i = 0; i < d.n; i++)
                        if (!is_test(i))
                                s += d.x[(size_t)i * d.nf + j];
                m.mean[j] = s / ntrain;
                for (int i = 0; i < d.n; i++)
                        if (!is_test(i)) {
                                double e = d.x[(size_t)i * d.nf + j] - m.mean[j];
                                v += e * e;
                        }
                m.std[j] = sqrt(v / ntrain);
                if (!(m.std[j] > 1e-12))
                        m.std[j] = 1;   /* a constant feature: leave it centered */
        }
        double *z = calloc((size_t)ntrain * d.nf, sizeof(double));
        int *zy = calloc((size_t)ntrain, sizeof(int));
        if (!z || !zy)
                die("out of memory");
        for (int i = 0, r = 0; i < d.n; i++) {
                if (is_test(i))
                        continue;
                for (int j = 0; j < d.nf; j++)
                        z[(size_t)r * d.nf + j] = (d.x[(size_t)i * d.nf + j] - m.mean[j]) / m.std[j];
                zy[r++] = d.y[i];
        }

        for (int it = 0; it < ITERATIONS; it++) {
                double l = loss(&m, z, zy, ntrain, gw, gb);
                if (it % 500 == 0)
                        printf("iteration %4d  loss %.6f\n", it, l);
                for (int k = 0; k < m.nk; k++) {
                        m.bias[k] -= LEARNING_RATE * gb[k] / ntrain;
                        for (int j = 0; j < m.nf; j++)
                                m.w[k][j] -= LEARNING_RATE * (gw[k][j] / ntrain + L2 * m.w[k][j]);
                }
        }
        double final_loss = loss(&m, z, zy, ntrain, NULL, NULL);
        printf("iteration %4d  loss %.6f\n", ITERATIONS, final_loss);

        int correct = 0;
        for (int i = 0; i < d.n; i++)
                if (is_test(i) && model_predict(&m, d.x + (size_t)i * d.nf, prob) == d.y[i])
                        correct++;
        double accuracy = (double)correct / ntest;
        printf("test accuracy %.4f (%d of %d)\n", accuracy, correct, ntest);

        FILE *f = create(out, "model.txt");
        model_write(&m, f);
        finish(f, out, "model.txt");
        f = create(out, "metrics.json");
        fprintf(f, "{\n  \"model\": \"%s\",\n  \"accuracy\": %.17g,\n  \"correct\": %d,\n"
                   "  \"train_size\": %d,\n  \"test_size\": %d,\n  \"features\": %d,\n  \"classes\": [",
                m.name, accuracy, correct, ntrain, ntest, m.nf);
        for (int k = 0; k < m.nk; k++)
                fprintf(f, "%s\"%s\"", k ? ", " : "", m.cls[k]);
        fprintf(f, "],\n  \"iterations\": %d,\n  \"learning_rate\": %g,\n  \"l2\": %g,\n  \"final_loss\": %.17g",
                ITERATIONS, LEARNING_RATE, L2, final_loss);
        if (granted)
                fprintf(f, ",\n  \"trained_for_run\": {\"run_id\": \"%s\", \"model\": \"%s\"}", claims.run_id,
                        claims.model);
        fputs("\n}\n", f);
        finish(f, out, "metrics.json");
        printf("wrote %s/model.txt and %s/metrics.json\n", out, out);
        free(z);
        free(zy);
        free(d.x);
        free(d.y);
        return 0;
}
