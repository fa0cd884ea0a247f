/* Frequency bands: the rotated chunks of a layer in frequency order, and the keep-masks of bands. */
#include "internal.h"

#include <math.h>

int rl_analysis_rotated_order(const double *freq, int n_chunks, int *order) {
    int n = 0;
    for (int c = 0; c < n_chunks; c++)
        if (freq[c] > 0) order[n++] = c;
    /* insertion sort: highest frequency first, ties by chunk index (stable) */
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        while (j > 0 && freq[order[j - 1]] < freq[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    return n;
}

int rl_analysis_band_mask(const double *freq, int n_chunks, int band, int n_bands, double edge_fraction,
                          uint8_t *keep) {
    for (int c = 0; c < n_chunks; c++) keep[c] = 1;
    if (band == RL_BAND_UNROTATED) {
        int k = 0;
        for (int c = 0; c < n_chunks; c++)
            if (!(freq[c] > 0)) keep[c] = 0, k++;
        return k;
    }
    int order[n_chunks > 0 ? n_chunks : 1];
    const int n = rl_analysis_rotated_order(freq, n_chunks, order);
    if (n == 0) return 0;
    int lo, hi;
    if (band == RL_BAND_HIGH || band == RL_BAND_LOW) {
        int e = (int)floor(edge_fraction * n + 0.5);
        e = RL_MIN(RL_MAX(e, 1), n);
        lo = band == RL_BAND_HIGH ? 0 : n - e;
        hi = band == RL_BAND_HIGH ? e : n;
    } else {
        if (band < 0 || n_bands < 1 || band >= n_bands) return 0;
        lo = (int)((int64_t)band * n / n_bands);
        hi = (int)((int64_t)(band + 1) * n / n_bands);
    }
    for (int i = lo; i < hi; i++) keep[order[i]] = 0;
    return hi - lo;
}
