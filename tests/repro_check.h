/* Checks of a `ropelab reproduce` output folder shared by the reproduce tests: every number of
 * report/summary.json re-read from the file and JSON pointer it names, aggregates recomputed, and
 * report/index.html parsed by libxml2 (xmllint) with every image an embedded PNG and every number
 * cell equal to its source. Independent of the library's own readers. */
#ifndef ROPELAB_TEST_REPRO_CHECK_H
#define ROPELAB_TEST_REPRO_CHECK_H

typedef struct {
    int sourced;        /* {value, source, pointer} entries checked */
    int aggregates;     /* {seeds, mean, ci95} entries recomputed */
    int images;         /* <img> elements, each a data URI decoding to a PNG */
    int cells;          /* number cells whose source was re-read */
    int agg_cells;      /* aggregate cells recomputed */
} rt_repro_counts;

/* Asserts (Criterion) everything above for the output folder `out`; fills counts. */
void rt_repro_check(const char *out, rt_repro_counts *counts);

/* report/summary.json with every timing-independent part (all of it) as text; free it. */
char *rt_repro_summary(const char *out);

/* A corpus that needs no network: the project's docs (docs/NAME.md) copied as .txt files into a fresh temp
 * folder (~190 KB, 11 documents; remove it with rt_rmtree). */
char *rt_repro_corpus(void);

#endif
