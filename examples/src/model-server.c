/* model-server.c: the example model (examples/README). A small HTTP/1.1
 * server for a model.txt (model.h), static with musl, for the "minimal"
 * image:
 *
 *   model-server --port N --weights FILE [--bind ADDR] [--idle-timeout S]
 *
 *   GET  /health   {"status":"ok","model":"NAME"}
 *   POST /predict  {"features":[F numbers]} -> {"label":..,"probabilities":[..]}
 *
 * One process, one poll() loop, up to MAX_CONNS connections with keep-alive
 * (HTTP/1.1 by default, HTTP/1.0 on request) and pipelining. Trust: every
 * byte from a client is input: a request head is capped at HEAD_MAX, a body
 * at BODY_MAX (Content-Length only; chunked bodies are refused), a
 * connection is closed after --idle-timeout seconds (default 10) without
 * progress or 3 times that for one request (slow clients), and the body must be exactly the JSON above. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

#define MAX_CONNS 512
#define HEAD_MAX 8192
#define BODY_MAX 65536
#define OUT_MAX 4096
#define DRAIN_MS 2000

struct conn {
        int fd;
        char *in;
        size_t in_len, in_cap;
        char out[OUT_MAX];
        size_t out_len, out_off;
        bool close_after;          /* once out is written */
        bool eof;                  /* the client will send nothing more */
        bool draining;             /* answered and shut down for writing: reading until EOF */
        int64_t drain_ms;          /* since when, for at most DRAIN_MS */
        int64_t last_ms;           /* last progress either way */
        int64_t req_ms;            /* first byte of the pending request, 0 if none */
};

static struct model model;
static int64_t idle_ms = 10000;
static int64_t accept_paused_until;   /* out of file descriptors: retry later, not in a busy loop */
static struct conn conns[MAX_CONNS];
static int nconns;

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(int i)
{
        close(conns[i].fd);
        free(conns[i].in);
        conns[i] = conns[--nconns];
}

static void respond(struct conn *c, int status, const char *extra, const char *body)
{
        const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 404 ? "Not Found" :
                             status == 405 ? "Method Not Allowed" : status == 411 ? "Length Required" :
                             status == 413 ? "Content Too Large" : status == 431 ? "Request Header Fields Too Large" :
                             status == 501 ? "Not Implemented" : "Error";
        size_t bl = strlen(body);
        int n = snprintf(c->out, sizeof(c->out),
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s"
                         "Connection: %s\r\n\r\n%s",
                         status, reason, bl, extra, c->close_after ? "close" : "keep-alive", body);
        if (n < 0 || (size_t)n >= sizeof(c->out)) {   /* cannot happen: bodies are short */
                c->close_after = true;
                n = snprintf(c->out, sizeof(c->out), "HTTP/1.1 500 Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        c->out_len = (size_t)n;
        c->out_off = 0;
}

static void respond_error(struct conn *c, int status, const char *why)
{
        char body[256];

        (void)snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", why);   /* why: fixed strings only */
        respond(c, status, "", body);
}

/* An answer after which the connection closes (the request cannot be
 * delimited, or is refused as a whole). */
static int refuse(struct conn *c, int status, const char *why)
{
        c->close_after = true;
        respond_error(c, status, why);
        return 1;
}

/* Case-insensitive: does the list v (e.g. "keep-alive, Close") hold word? */
static bool has_word(const char *v, size_t n, const char *word)
{
        size_t wl = strlen(word);

        for (size_t i = 0; i + wl <= n; i++)
                if (strncasecmp(v + i, word, wl) == 0)
                        return true;
        return false;
}

/* ---- the body of POST /predict: {"features":[n, ...]} and nothing else */

static void skip_ws(const char *s, size_t n, size_t *i)
{
        while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
                (*i)++;
}

/* A JSON number (RFC 8259 grammar) at *i. */
static int json_number(const char *s, size_t n, size_t *i, double *ret)
{
        size_t st = *i, j = *i;

        if (j < n && s[j] == '-')
                j++;
        if (j < n && s[j] == '0')
                j++;
        else if (j < n && s[j] >= '1' && s[j] <= '9')
                while (j < n && s[j] >= '0' && s[j] <= '9')
                        j++;
        else
                return -1;
        if (j < n && s[j] == '.') {
                if (++j >= n || s[j] < '0' || s[j] > '9')
                        return -1;
                while (j < n && s[j] >= '0' && s[j] <= '9')
                        j++;
        }
        if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                if (++j < n && (s[j] == '+' || s[j] == '-'))
                        j++;
                if (j >= n || s[j] < '0' || s[j] > '9')
                        return -1;
                while (j < n && s[j] >= '0' && s[j] <= '9')
                        j++;
        }
        if (model_parse_number(s + st, j - st, ret) < 0)   /* also: finite, at most 64 bytes */
                return -1;
        *i = j;
        return 0;
}

static const char *parse_features(const char *s, size_t n, double *x)
{
        static const char key[] = "\"features\"";
        size_t i = 0;
        int count = 0;

        skip_ws(s, n, &i);
        if (i >= n || s[i++] != '{')
                return "body must be a JSON object {\\\"features\\\":[...]}";
        skip_ws(s, n, &i);
        if (n - i < sizeof(key) - 1 || memcmp(s + i, key, sizeof(key) - 1) != 0)
                return "body must have exactly one field, \\\"features\\\"";
        i += sizeof(key) - 1;
        skip_ws(s, n, &i);
        if (i >= n || s[i++] != ':')
                return "invalid JSON";
        skip_ws(s, n, &i);
        if (i >= n || s[i++] != '[')
                return "features must be an array of numbers";
        skip_ws(s, n, &i);
        if (i < n && s[i] == ']') {
                i++;
        } else {
                for (;;) {
                        double v;
                        skip_ws(s, n, &i);
                        if (json_number(s, n, &i, &v) < 0)
                                return "features must be an array of finite numbers";
                        if (count == model.nf)
                                return "features has too many numbers";
                        x[count++] = v;
                        skip_ws(s, n, &i);
                        if (i < n && s[i] == ',') {
                                i++;
                                continue;
                        }
                        if (i < n && s[i] == ']') {
                                i++;
                                break;
                        }
                        return "invalid JSON";
                }
        }
        if (count != model.nf)
                return "features has too few numbers";
        skip_ws(s, n, &i);
        if (i >= n || s[i++] != '}')
                return "body must have exactly one field, \\\"features\\\"";
        skip_ws(s, n, &i);
        return i == n ? NULL : "trailing data after the JSON object";
}

static void predict(struct conn *c, const char *body, size_t n)
{
        double x[MODEL_MAX_FEATURES], p[MODEL_MAX_CLASSES];
        char out[128 + MODEL_MAX_CLASSES * 16];
        const char *why = parse_features(body, n, x);

        int k = why ? -1 : model_predict(&model, x, p);
        if (k < 0) {
                respond_error(c, 400, why ? why : "features out of range");
                return;
        }
        size_t o = (size_t)snprintf(out, sizeof(out), "{\"label\":\"%s\",\"probabilities\":[", model.cls[k]);
        for (int i = 0; i < model.nk && o < sizeof(out); i++)
                o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.6f", i ? "," : "", p[i]);
        if (o < sizeof(out))
                (void)snprintf(out + o, sizeof(out) - o, "]}\n");
        respond(c, 200, "", out);
}

/* ---- requests */

/* The end of the head (after its empty line), or 0 if not there yet. */
static size_t head_end(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '\n')
                        continue;
                if (i + 1 < n && s[i + 1] == '\n')
                        return i + 2;
                if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

static bool token_char(char ch)
{
        return ch > 32 && ch < 127 && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* Handles the request at the start of c->in if it is complete. Returns 1
 * if it produced a response, 0 if more bytes are needed. */
static int handle(struct conn *c)
{
        char *s = c->in;
        size_t hl = head_end(s, c->in_len < HEAD_MAX ? c->in_len : HEAD_MAX);

        if (c->in_len > 0 && c->req_ms == 0)
                c->req_ms = now_ms();
        if (!hl)
                return c->in_len >= HEAD_MAX ? refuse(c, 431, "request head too large") : 0;
        if (memchr(s, 0, hl))
                return refuse(c, 400, "malformed request");
        /* Request line: METHOD SP TARGET SP HTTP/1.x */
        char *eol = memchr(s, '\n', hl), *sp1 = memchr(s, ' ', (size_t)(eol - s));
        char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        size_t vl = sp2 ? (size_t)(eol - sp2 - 1) - (eol[-1] == '\r') : 0;
        bool http11 = sp2 && vl == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0;
        if (!sp2 || sp1 == s || sp2 == sp1 + 1 || sp1[1] != '/' || vl != 8 ||
            (!http11 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
                return refuse(c, 400, "malformed request line");
        for (char *p = s; p < sp1; p++)
                if (!token_char(*p))
                        return refuse(c, 400, "malformed request line");
        size_t ml = (size_t)(sp1 - s), tl = (size_t)(sp2 - sp1 - 1);
        char *q = memchr(sp1 + 1, '?', tl);
        if (q)
                tl = (size_t)(q - sp1 - 1);

        /* Headers: only Content-Length, Transfer-Encoding and Connection matter. */
        long clen = -1;
        bool keep = http11, te = false, bad = false;
        for (char *l = eol + 1; l < s + hl;) {
                char *e = memchr(l, '\n', (size_t)(s + hl - l));
                size_t len = (size_t)(e - l);
                if (len > 0 && l[len - 1] == '\r')
                        len--;
                if (len == 0)
                        break;
                char *colon = memchr(l, ':', len);
                if (!colon || colon == l) {
                        bad = true;
                        break;
                }
                for (char *p = l; p < colon; p++)
                        bad |= !token_char(*p);
                size_t nl = (size_t)(colon - l);
                char *v = colon + 1, *ve = l + len;
                while (v < ve && (*v == ' ' || *v == '\t'))
                        v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;
                size_t vlen = (size_t)(ve - v);
                if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
                        long n = vlen ? 0 : -1;
                        for (size_t k = 0; k < vlen; k++)
                                if (v[k] < '0' || v[k] > '9')
                                        n = -1;
                        /* Stops growing past BODY_MAX: no overflow, however many digits. */
                        for (size_t k = 0; k < vlen && n >= 0 && n <= BODY_MAX; k++)
                                n = n * 10 + (v[k] - '0');
                        if (n < 0 || (clen >= 0 && clen != n))
                                bad = true;
                        clen = n;
                } else if (nl == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
                        te = true;
                } else if (nl == 10 && strncasecmp(l, "connection", 10) == 0) {
                        if (has_word(v, vlen, "close"))
                                keep = false;
                        else if (has_word(v, vlen, "keep-alive"))
                                keep = true;
                }
                l = e + 1;
        }
        c->close_after = !keep || c->eof;
        if (te)
                return refuse(c, 501, "Transfer-Encoding is not supported: send Content-Length");
        if (bad)
                return refuse(c, 400, "malformed header");
        if (clen > BODY_MAX)
                return refuse(c, 413, "body larger than 65536 bytes");
        if (clen < 0)
                clen = 0;
        if (c->in_len - hl < (size_t)clen)   /* at EOF it will never come */
                return c->eof ? refuse(c, 400, "body shorter than Content-Length") : 0;
        const char *body = s + hl;
        bool is_health = tl == 7 && memcmp(sp1 + 1, "/health", 7) == 0;
        bool is_predict = tl == 8 && memcmp(sp1 + 1, "/predict", 8) == 0;
        if (is_health && ml == 3 && memcmp(s, "GET", 3) == 0) {
                char out[128];
                (void)snprintf(out, sizeof(out), "{\"status\":\"ok\",\"model\":\"%s\"}\n", model.name);
                respond(c, 200, "", out);
        } else if (is_predict && ml == 4 && memcmp(s, "POST", 4) == 0) {
                predict(c, body, (size_t)clen);
        } else if (is_health || is_predict) {
                respond(c, 405, is_health ? "Allow: GET\r\n" : "Allow: POST\r\n", "{\"error\":\"method not allowed\"}\n");
        } else {
                respond_error(c, 404, "not found");
        }
        /* Consume the request; a pipelined next one stays in the buffer. */
        size_t used = hl + (size_t)clen;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->req_ms = 0;
        return 1;
}

/* Writes what is pending; returns -1 when the connection is to be closed. */
static int flush(struct conn *c, int64_t now)
{
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n <= 0)
                        return -1;
                c->out_off += (size_t)n;
                c->last_ms = now;
        }
        c->out_len = c->out_off = 0;
        if (!c->close_after)
                return 0;
        if (c->eof)
                return -1;
        /* Read what the client still sends before closing: closing with
         * unread bytes resets the connection, and the client could lose the
         * answer (a 413 while it is still sending its body). */
        shutdown(c->fd, SHUT_WR);
        c->draining = true;
        c->drain_ms = now;
        c->in_len = 0;
        return 0;
}

/* Answers every complete request buffered, one at a time as output drains. */
static int serve(struct conn *c, int64_t now)
{
        while (!c->draining && c->out_len == 0 && handle(c))
                if (flush(c, now) < 0)
                        return -1;
        if (c->out_len == 0 && c->eof)   /* nothing pending and nothing more to come */
                return -1;
        return 0;
}

static int readable(struct conn *c, int64_t now)
{
        if (c->draining) {
                char junk[4096];
                ssize_t n = recv(c->fd, junk, sizeof(junk), 0);
                if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                return n > 0 ? 0 : -1;
        }
        if (c->in_len == c->in_cap) {
                size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
                if (cap > HEAD_MAX + BODY_MAX)
                        cap = HEAD_MAX + BODY_MAX;
                if (cap == c->in_cap)
                        return 0;   /* full: a request is being answered; poll waits for POLLOUT */
                char *p = realloc(c->in, cap);
                if (!p)
                        return -1;
                c->in = p;
                c->in_cap = cap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        if (n == 0)
                c->eof = true;
        c->in_len += (size_t)n;
        c->last_ms = now;
        return serve(c, now);
}

static void accept_all(int lfd, int64_t now)
{
        while (nconns < MAX_CONNS) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM))
                        accept_paused_until = now + 100;
                if (fd < 0)
                        return;
                conns[nconns] = (struct conn){ .fd = fd, .last_ms = now };
                nconns++;
        }
}

static int listen_on(const char *addr, unsigned port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        socklen_t sl = sizeof(sa);
        int one = 1, fd;

        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
                fprintf(stderr, "model-server: --bind: \"%s\" is not an IPv4 address\n", addr);
                exit(2);
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 256) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
                fprintf(stderr, "model-server: listen on %s:%u: %s\n", addr, port, strerror(errno));
                exit(1);
        }
        printf("model-server listening on %s:%u\n", addr, ntohs(sa.sin_port));
        return fd;
}

static void usage(void)
{
        fputs("usage: model-server --port N --weights FILE [--bind ADDR] [--idle-timeout S]\n", stderr);
        exit(2);
}

/* A whole number in lo..hi, or usage(). */
static long number_arg(const char *s, long lo, long hi)
{
        char *end;

        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || s[0] < '0' || s[0] > '9' || v < lo || v > hi)
                usage();
        return v;
}

int main(int argc, char **argv)
{
        static struct pollfd pfd[MAX_CONNS + 1];
        const char *weights = NULL, *bind_addr = "127.0.0.1";
        char err[512];
        long port = -1;

        setvbuf(stdout, NULL, _IOLBF, 0);
        for (int i = 1; i < argc; i++) {
                if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
                        port = number_arg(argv[++i], 0, 65535);
                } else if (i + 1 < argc && strcmp(argv[i], "--idle-timeout") == 0) {
                        idle_ms = number_arg(argv[++i], 1, 3600) * 1000;
                } else if (i + 1 < argc && strcmp(argv[i], "--weights") == 0) {
                        weights = argv[++i];
                } else if (i + 1 < argc && strcmp(argv[i], "--bind") == 0) {
                        bind_addr = argv[++i];
                } else {
                        usage();
                }
        }
        if (port < 0 || !weights)
                usage();
        if (model_load(weights, &model, err, sizeof(err)) < 0) {
                fprintf(stderr, "model-server: %s\n", err);
                return 1;
        }
        printf("model-server: loaded %s (%d features, %d classes) from %s\n", model.name, model.nf, model.nk, weights);
        signal(SIGPIPE, SIG_IGN);
        int lfd = listen_on(bind_addr, (unsigned)port);

        for (;;) {
                int n = 0;
                bool accepting = nconns < MAX_CONNS && now_ms() >= accept_paused_until;
                pfd[n++] = (struct pollfd){ .fd = lfd, .events = accepting ? POLLIN : 0 };
                for (int i = 0; i < nconns; i++) {
                        struct conn *c = &conns[i];
                        short ev = c->out_len ? POLLOUT : (!c->eof && c->in_len < HEAD_MAX + BODY_MAX ? POLLIN : 0);
                        pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
                }
                if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR) {
                        perror("model-server: poll");
                        return 1;
                }
                int64_t now = now_ms();
                /* Walk backwards: conn_close moves the last connection into the hole. */
                for (int i = n - 2; i >= 0; i--) {
                        struct conn *c = &conns[i];
                        short re = pfd[i + 1].revents;
                        int r = 0;
                        if (re & POLLOUT)
                                r = flush(c, now) < 0 ? -1 : serve(c, now);
                        else if (re & (POLLIN | POLLHUP | POLLERR))
                                r = readable(c, now);
                        if (r == 0 && (now - c->last_ms > idle_ms || (c->req_ms && now - c->req_ms > 3 * idle_ms) ||
                                       (c->draining && now - c->drain_ms > DRAIN_MS)))
                                r = -1;   /* idle, too slow to send one request, or drained long enough */
                        if (r < 0)
                                conn_close(i);
                }
                if (pfd[0].revents & POLLIN)
                        accept_all(lfd, now);
        }
}
