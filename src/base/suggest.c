/* suggest.c: the closest known word to a mistyped one; see suggest.h. */
#include "mlvm-build.h"

#include <string.h>

#include "suggest.h"

/* Longer input is never a typo of one of our words: no suggestion. */
#define SUGGEST_LEN_MAX 64

static size_t min3(size_t a, size_t b, size_t c)
{
        size_t m = a < b ? a : b;
        return m < c ? m : c;
}

/* Optimal string alignment distance (Damerau-Levenshtein without
 * overlapping edits), both lengths at most SUGGEST_LEN_MAX. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
        size_t d[SUGGEST_LEN_MAX + 1][SUGGEST_LEN_MAX + 1];

        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] != b[j - 1];
                        d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
                                d[i][j] = d[i - 2][j - 2] + 1;
                }
        return d[la][lb];
}

const char *suggest_word(const char *word, const char *const *words, size_t n)
{
        size_t lw = strlen(word), best_d = 0;
        const char *best = NULL;

        if (lw == 0 || lw > SUGGEST_LEN_MAX)
                return NULL;
        size_t limit = lw <= 4 ? 1 : lw <= 8 ? 2 : 3;
        for (size_t i = 0; i < n; i++) {
                size_t lc = strlen(words[i]);
                if (lc > SUGGEST_LEN_MAX || strcmp(words[i], word) == 0)
                        continue;
                size_t dist = distance(word, lw, words[i], lc);
                if (dist <= limit && (!best || dist < best_d)) {
                        best = words[i];
                        best_d = dist;
                }
        }
        return best;
}
