/* model.c: model.txt written, loaded (strictly: the file is input to the
 * server, which refuses anything malformed at start) and evaluated; the
 * format is described in model.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

#define LINE_MAX_BYTES 4096
#define MAX_TOKENS (3 + MODEL_MAX_FEATURES + 1)   /* "class I NAME B W.." and one too many */
#define NUMBER_MAX 64

int model_name_ok(const char *s, size_t len)
{
        if (len == 0 || len > MODEL_NAME_MAX)
                return 0;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

int model_parse_number(const char *s, size_t len, double *ret)
{
        char buf[NUMBER_MAX + 1], *end;
        int digits = 0;

        if (len == 0 || len > NUMBER_MAX)
                return -1;
        /* strtod alone would take leading spaces, "inf", "nan" and hex. */
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c >= '0' && c <= '9')
                        digits++;
                else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
                        return -1;
        }
        if (digits == 0)
                return -1;
        memcpy(buf, s, len);
        buf[len] = 0;
        errno = 0;
        double v = strtod(buf, &end);
        if (end != buf + len || !isfinite(v) || (errno == ERANGE && v != 0))
                return -1;
        *ret = v;
        return 0;
}

int model_write(const struct model *m, FILE *f)
{
        fprintf(f, "# mlvm-logreg model (examples/src/model.h describes the format).\n"
                   "# p = softmax(W z + B), z[j] = (x[j] - mean[j]) / std[j];\n"
                   "# each class line: index, name, B, then one W per feature.\n");
        fprintf(f, "mlvm-logreg 1\nname %s\nfeatures %d\nclasses %d\n", m->name, m->nf, m->nk);
        fputs("mean", f);
        for (int j = 0; j < m->nf; j++)
                fprintf(f, " %.17g", m->mean[j]);
        fputs("\nstd", f);
        for (int j = 0; j < m->nf; j++)
                fprintf(f, " %.17g", m->std[j]);
        fputc('\n', f);
        for (int k = 0; k < m->nk; k++) {
                fprintf(f, "class %d %s %.17g", k, m->cls[k], m->bias[k]);
                for (int j = 0; j < m->nf; j++)
                        fprintf(f, " %.17g", m->w[k][j]);
                fputc('\n', f);
        }
        return ferror(f) ? -1 : 0;
}

struct tok {
        const char *s;
        size_t len;
};

static int fail(char *err, size_t cap, const char *path, size_t line, const char *fmt, ...)
{
        char why[200];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        if (line)
                (void)snprintf(err, cap, "%s:%zu: %s", path, line, why);
        else
                (void)snprintf(err, cap, "%s: %s", path, why);
        return -1;
}

static int tok_is(const struct tok *t, const char *word)
{
        return t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

/* A small integer in lo..hi, digits only. */
static int tok_int(const struct tok *t, int lo, int hi, int *ret)
{
        long v = 0;

        if (t->len == 0 || t->len > 6)
                return -1;
        for (size_t i = 0; i < t->len; i++) {
                if (t->s[i] < '0' || t->s[i] > '9')
                        return -1;
                v = v * 10 + (t->s[i] - '0');
        }
        if (v < lo || v > hi)
                return -1;
        *ret = (int)v;
        return 0;
}

static int tok_numbers(const struct tok *t, int n, double *out)
{
        for (int i = 0; i < n; i++)
                if (model_parse_number(t[i].s, t[i].len, &out[i]) < 0)
                        return -1;
        return 0;
}

static int read_all(const char *path, char **ret, size_t *ret_len, char *err, size_t cap)
{
        struct stat st;
        size_t len = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return fail(err, cap, path, 0, "%s", strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MODEL_FILE_MAX) {
                close(fd);
                return fail(err, cap, path, 0, "not a regular file of at most %u bytes", MODEL_FILE_MAX);
        }
        char *buf = malloc(MODEL_FILE_MAX + 1);
        if (!buf) {
                close(fd);
                return fail(err, cap, path, 0, "out of memory");
        }
        for (;;) {
                ssize_t n = read(fd, buf + len, MODEL_FILE_MAX + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        free(buf);
                        close(fd);
                        return fail(err, cap, path, 0, "%s", strerror(e));
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > MODEL_FILE_MAX) {   /* it grew after fstat */
                        free(buf);
                        close(fd);
                        return fail(err, cap, path, 0, "larger than %u bytes", MODEL_FILE_MAX);
                }
        }
        close(fd);
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* One record (tokens t[0..n-1], at line) in state *step. */
static int record(struct model *m, const struct tok *t, int n, int *step, const char *path, size_t line,
                  char *err, size_t cap)
{
        int s = *step, v;

        if (s == 0) {
                if (n != 2 || !tok_is(&t[0], "mlvm-logreg") || !tok_is(&t[1], "1"))
                        return fail(err, cap, path, line, "expected \"mlvm-logreg 1\" (not a model file of this version)");
        } else if (s == 1) {
                if (n != 2 || !tok_is(&t[0], "name") || !model_name_ok(t[1].s, t[1].len))
                        return fail(err, cap, path, line, "expected \"name NAME\" with NAME [A-Za-z0-9._-]{1,%d}", MODEL_NAME_MAX);
                memcpy(m->name, t[1].s, t[1].len);
                m->name[t[1].len] = 0;
        } else if (s == 2) {
                if (n != 2 || !tok_is(&t[0], "features") || tok_int(&t[1], 1, MODEL_MAX_FEATURES, &m->nf) < 0)
                        return fail(err, cap, path, line, "expected \"features N\" with N in 1..%d", MODEL_MAX_FEATURES);
        } else if (s == 3) {
                if (n != 2 || !tok_is(&t[0], "classes") || tok_int(&t[1], 2, MODEL_MAX_CLASSES, &m->nk) < 0)
                        return fail(err, cap, path, line, "expected \"classes N\" with N in 2..%d", MODEL_MAX_CLASSES);
        } else if (s == 4) {
                if (n != 1 + m->nf || !tok_is(&t[0], "mean") || tok_numbers(t + 1, m->nf, m->mean) < 0)
                        return fail(err, cap, path, line, "expected \"mean\" and %d numbers", m->nf);
        } else if (s == 5) {
                if (n != 1 + m->nf || !tok_is(&t[0], "std") || tok_numbers(t + 1, m->nf, m->std) < 0)
                        return fail(err, cap, path, line, "expected \"std\" and %d numbers", m->nf);
                for (int j = 0; j < m->nf; j++)
                        if (!(m->std[j] > 0))
                                return fail(err, cap, path, line, "std %d is not positive", j + 1);
        } else if (s < 6 + m->nk) {
                int k = s - 6;
                if (n != 4 + m->nf || !tok_is(&t[0], "class") || tok_int(&t[1], 0, MODEL_MAX_CLASSES, &v) < 0 ||
                    v != k || !model_name_ok(t[2].s, t[2].len) || tok_numbers(t + 3, 1, &m->bias[k]) < 0 ||
                    tok_numbers(t + 4, m->nf, m->w[k]) < 0)
                        return fail(err, cap, path, line, "expected \"class %d NAME BIAS\" and %d weights", k, m->nf);
                memcpy(m->cls[k], t[2].s, t[2].len);
                m->cls[k][t[2].len] = 0;
                for (int i = 0; i < k; i++)
                        if (strcmp(m->cls[i], m->cls[k]) == 0)
                                return fail(err, cap, path, line, "class name \"%s\" appears twice", m->cls[k]);
        } else {
                return fail(err, cap, path, line, "unexpected record after the last class");
        }
        *step = s + 1;
        return 0;
}

int model_load(const char *path, struct model *ret, char *err, size_t cap)
{
        struct model m;
        struct tok t[MAX_TOKENS];
        char *buf = NULL;
        size_t len = 0, off = 0, line = 0;
        int step = 0, r = 0;

        memset(&m, 0, sizeof(m));
        if (read_all(path, &buf, &len, err, cap) < 0)
                return -1;
        while (off < len && r == 0) {
                const char *p = buf + off, *nl = memchr(p, '\n', len - off);
                size_t l = nl ? (size_t)(nl - p) : len - off;
                off += l + (nl ? 1 : 0);
                line++;
                if (l > 0 && p[l - 1] == '\r')
                        l--;
                if (l > LINE_MAX_BYTES) {
                        r = fail(err, cap, path, line, "line longer than %d bytes", LINE_MAX_BYTES);
                        break;
                }
                if (memchr(p, 0, l)) {
                        r = fail(err, cap, path, line, "NUL byte");
                        break;
                }
                if (l == 0 || p[0] == '#')
                        continue;
                int n = 0;
                for (size_t i = 0; i < l && r == 0;) {
                        while (i < l && (p[i] == ' ' || p[i] == '\t'))
                                i++;
                        if (i == l)
                                break;
                        if (n == MAX_TOKENS) {
                                r = fail(err, cap, path, line, "too many fields");
                                break;
                        }
                        t[n].s = p + i;
                        while (i < l && p[i] != ' ' && p[i] != '\t')
                                i++;
                        t[n].len = (size_t)(p + i - t[n].s);
                        n++;
                }
                if (r == 0 && n > 0)
                        r = record(&m, t, n, &step, path, line, err, cap);
        }
        free(buf);
        if (r < 0)
                return -1;
        if (step < 6 || step < 6 + m.nk)
                return fail(err, cap, path, 0, "truncated: ends before the last class line");
        *ret = m;
        return 0;
}

int model_predict(const struct model *m, const double *x, double *prob)
{
        double z[MODEL_MAX_FEATURES], max = -HUGE_VAL, sum = 0;
        int best = 0;

        for (int j = 0; j < m->nf; j++)
                z[j] = (x[j] - m->mean[j]) / m->std[j];
        for (int k = 0; k < m->nk; k++) {
                double a = m->bias[k];
                for (int j = 0; j < m->nf; j++)
                        a += m->w[k][j] * z[j];
                if (!isfinite(a))
                        return -1;
                prob[k] = a;
                if (a > max)
                        max = a;
        }
        /* Shifted by the largest logit, so exp() never overflows. */
        for (int k = 0; k < m->nk; k++) {
                prob[k] = exp(prob[k] - max);
                sum += prob[k];
        }
        for (int k = 0; k < m->nk; k++) {
                prob[k] /= sum;
                if (prob[k] > prob[best])
                        best = k;
        }
        return best;
}
