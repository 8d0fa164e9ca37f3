/* suggest.h: "did you mean": the known word closest to a mistyped one. */
#pragma once

#include <stddef.h>

/* The word of WORDS (N of them) closest to WORD by edit distance
 * (insertions, deletions, substitutions and swaps of two neighbours), or
 * NULL when none is close: at most 1 edit for words of up to 4 letters, 2
 * up to 8, 3 beyond. A suggestion far from what was typed only misleads. */
const char *suggest_word(const char *word, const char *const *words, size_t n);
