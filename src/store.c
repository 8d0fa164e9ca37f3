/* store.c: listing the image store; see store.h. */
#include "mlvm-build.h"

#include <dirent.h>
#include <sys/stat.h>

#include "store.h"
#include "util.h"

#define TAG_FILE_MAX 128

static int cmp_tag(const void *a, const void *b)
{
        return strcmp(((const struct store_tag *)a)->tag, ((const struct store_tag *)b)->tag);
}

static char *read_digest(const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;

        if (read_file_capped(path, TAG_FILE_MAX, &buf, &len) < 0)
                return NULL;
        while (len > 0 && buf[len - 1] == '\n')
                buf[--len] = '\0';
        if (len != 71 || !strstartswith(buf, "sha256:"))
                return NULL;
        for (size_t i = 7; i < len; i++)
                if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f')))
                        return NULL;
        return TAKE_PTR(buf);
}

int store_list_tags(const char *state_dir, struct store_tag **ret, size_t *ret_n, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = xasprintf("%s/images/tags", state_dir);
        struct store_tag *v = NULL;
        size_t n = 0;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                if (errno == ENOENT) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                return err_set(e, -errno, "image store: %s", dir);
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                v = xreallocarray(v, n + 1, sizeof(*v));
                v[n].tag = xstrdup(de->d_name);
                v[n].digest = read_digest(path);
                v[n].present = 0;
                if (v[n].digest) {
                        _cleanup_free_ char *img = xasprintf("%s/images/sha256/%s", state_dir, v[n].digest + 7);
                        struct stat st;
                        v[n].present = stat(img, &st) == 0 && S_ISDIR(st.st_mode);
                }
                n++;
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_tag);
        *ret = v;
        *ret_n = n;
        return 0;
}

void store_tags_free(struct store_tag *t, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(t[i].tag);
                free(t[i].digest);
        }
        free(t);
}
