/* Encoding spec strings: parse "base[:k=v,...][+scaling[:k=v,...]]" and print them back. */
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void rl_rope_spec_default(rl_rope_spec *s) {
    memset(s, 0, sizeof *s);
    s->kind = RL_PE_ROPE;
    s->theta = 10000.0;
    s->p = 1.0;
    s->layout = RL_LAYOUT_HALF;
    s->scale = RL_SCALE_NONE;
    s->factor = 1.0;
    s->original = 0;
    s->beta_fast = 32.0;
    s->beta_slow = 1.0;
    s->attention_factor = 0.0;
    s->truncate = 1;
    s->low_freq_factor = 1.0;
    s->high_freq_factor = 4.0;
    s->mscale = 0.0;
    s->mscale_all_dim = 0.0;
}

static const char *const kind_names[] = {"nope", "rope", "prope", "prope-rev", "partial"};
static const char *const scale_names[] = {"none", "linear", "dynamic", "yarn", "llama3"};

const char *rl_pe_kind_name(rl_pe_kind k) { return (unsigned)k < 5 ? kind_names[k] : "?"; }
const char *rl_scale_name(rl_scale_kind s) { return (unsigned)s < 5 ? scale_names[s] : "?"; }
const char *rl_layout_name(rl_layout l) { return l == RL_LAYOUT_INTERLEAVED ? "interleaved" : "half"; }

/* Which keys each part accepts. */
enum {
    K_THETA = 1 << 0, K_P = 1 << 1, K_LAYOUT = 1 << 2, K_FACTOR = 1 << 3, K_ORIGINAL = 1 << 4,
    K_BETA_FAST = 1 << 5, K_BETA_SLOW = 1 << 6, K_ATTN = 1 << 7, K_TRUNC = 1 << 8, K_LOW = 1 << 9,
    K_HIGH = 1 << 10, K_MSCALE = 1 << 11, K_MSCALE_ALL = 1 << 12
};

static const struct {
    const char *name;
    int bit;
} key_table[] = {
    {"theta", K_THETA},         {"p", K_P},
    {"layout", K_LAYOUT},       {"factor", K_FACTOR},
    {"original", K_ORIGINAL},   {"original_max_position_embeddings", K_ORIGINAL},
    {"beta_fast", K_BETA_FAST}, {"beta_slow", K_BETA_SLOW},
    {"attention_factor", K_ATTN}, {"truncate", K_TRUNC},
    {"low_freq_factor", K_LOW}, {"high_freq_factor", K_HIGH},
    {"mscale", K_MSCALE},       {"mscale_all_dim", K_MSCALE_ALL},
};

static int allowed_keys_base(rl_pe_kind k) {
    switch (k) {
    case RL_PE_NOPE: return K_LAYOUT;
    case RL_PE_ROPE: return K_THETA | K_LAYOUT;
    default: return K_THETA | K_P | K_LAYOUT;
    }
}

static int allowed_keys_scale(rl_scale_kind s) {
    switch (s) {
    case RL_SCALE_LINEAR: return K_FACTOR;
    case RL_SCALE_DYNAMIC: return K_FACTOR | K_ORIGINAL;
    case RL_SCALE_YARN:
        return K_FACTOR | K_ORIGINAL | K_BETA_FAST | K_BETA_SLOW | K_ATTN | K_TRUNC | K_MSCALE | K_MSCALE_ALL;
    case RL_SCALE_LLAMA3: return K_FACTOR | K_ORIGINAL | K_LOW | K_HIGH;
    default: return 0;
    }
}

static int required_keys_scale(rl_scale_kind s) {
    switch (s) {
    case RL_SCALE_LINEAR: return K_FACTOR;
    case RL_SCALE_DYNAMIC:
    case RL_SCALE_YARN:
    case RL_SCALE_LLAMA3: return K_FACTOR | K_ORIGINAL;
    default: return 0;
    }
}

/* Parses "k=v,k=v" (may be empty) into *s; `allowed` is the key set of this part. */
static int parse_params(const char *spec, const char *part, char *params, int allowed, int *seen,
                        rl_rope_spec *s) {
    if (!params || !*params) return 0;
    char *save = NULL;
    for (char *kv = strtok_r(params, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) return rl_fail("rope spec '%s': '%s' in '%s' is not key=value", spec, kv, part);
        *eq = '\0';
        const char *key = kv, *val = eq + 1;
        int bit = 0;
        for (size_t i = 0; i < RL_ARRAY_LEN(key_table); i++)
            if (strcmp(key_table[i].name, key) == 0) bit = key_table[i].bit;
        if (!bit || !(allowed & bit))
            return rl_fail("rope spec '%s': unknown field '%s' for '%s'", spec, key, part);
        if (*seen & bit) return rl_fail("rope spec '%s': field '%s' given twice", spec, key);
        *seen |= bit;
        if (bit == K_LAYOUT) {
            if (strcmp(val, "half") == 0) s->layout = RL_LAYOUT_HALF;
            else if (strcmp(val, "interleaved") == 0) s->layout = RL_LAYOUT_INTERLEAVED;
            else return rl_fail("rope spec '%s': layout='%s' (expected half or interleaved)", spec, val);
            continue;
        }
        double v;
        if (rl_parse_double(val, &v) != 0)
            return rl_fail("rope spec '%s': field '%s' has value '%s', not a finite number", spec, key, val);
        switch (bit) {
        case K_THETA:
            if (!(v > 1.0)) return rl_fail("rope spec '%s': theta=%s must be > 1", spec, val);
            s->theta = v;
            break;
        case K_P:
            if (!(v >= 0.0 && v <= 1.0)) return rl_fail("rope spec '%s': p=%s must be in [0, 1]", spec, val);
            s->p = v;
            break;
        case K_FACTOR:
            if (!(v >= 1.0)) return rl_fail("rope spec '%s': factor=%s must be >= 1", spec, val);
            s->factor = v;
            break;
        case K_ORIGINAL:
            if (!(v >= 1.0 && v == floor(v) && v < 2147483648.0))
                return rl_fail("rope spec '%s': original=%s must be a positive integer", spec, val);
            s->original = (int64_t)v;
            break;
        case K_BETA_FAST:
            if (!(v > 0)) return rl_fail("rope spec '%s': beta_fast=%s must be > 0", spec, val);
            s->beta_fast = v;
            break;
        case K_BETA_SLOW:
            if (!(v > 0)) return rl_fail("rope spec '%s': beta_slow=%s must be > 0", spec, val);
            s->beta_slow = v;
            break;
        case K_ATTN:
            if (!(v > 0)) return rl_fail("rope spec '%s': attention_factor=%s must be > 0", spec, val);
            s->attention_factor = v;
            break;
        case K_TRUNC:
            if (v != 0 && v != 1) return rl_fail("rope spec '%s': truncate=%s must be 0 or 1", spec, val);
            s->truncate = (int)v;
            break;
        case K_LOW:
            if (!(v > 0)) return rl_fail("rope spec '%s': low_freq_factor=%s must be > 0", spec, val);
            s->low_freq_factor = v;
            break;
        case K_HIGH:
            if (!(v > 0)) return rl_fail("rope spec '%s': high_freq_factor=%s must be > 0", spec, val);
            s->high_freq_factor = v;
            break;
        case K_MSCALE:
            if (!(v >= 0)) return rl_fail("rope spec '%s': mscale=%s must be >= 0", spec, val);
            s->mscale = v;
            break;
        case K_MSCALE_ALL:
            if (!(v >= 0)) return rl_fail("rope spec '%s': mscale_all_dim=%s must be >= 0", spec, val);
            s->mscale_all_dim = v;
            break;
        }
    }
    return 0;
}

int rl_rope_parse(const char *text, rl_rope_spec *out) {
    rl_rope_spec s;
    rl_rope_spec_default(&s);
    if (!text || !*text) return rl_fail("rope spec is empty (try 'rope:theta=10000')");
    char buf[512];
    if (strlen(text) >= sizeof buf) return rl_fail("rope spec is too long (%zu chars)", strlen(text));
    snprintf(buf, sizeof buf, "%s", text);

    /* The scaling part starts at a '+' that is not part of a number: in "theta=1e+06" (which
     * rl_rope_format prints for large values) the '+' is followed by a digit. */
    char *scale_part = NULL;
    for (char *q = buf; *q; q++) {
        if (*q != '+' || isdigit((unsigned char)q[1]) || q[1] == '.') continue;
        if (scale_part) return rl_fail("rope spec '%s': only one scaling type may follow '+'", text);
        *q = '\0';
        scale_part = q + 1;
    }

    /* base */
    char *colon = strchr(buf, ':');
    char *params = NULL;
    if (colon) {
        *colon = '\0';
        params = colon + 1;
    }
    int found = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(buf, kind_names[i]) == 0) found = i;
    if (found < 0)
        return rl_fail("rope spec '%s': unknown encoding '%s' (expected nope, rope, prope, prope-rev or partial)",
                       text, buf);
    s.kind = (rl_pe_kind)found;
    int seen = 0;
    if (parse_params(text, buf, params, allowed_keys_base(s.kind), &seen, &s) != 0) return -1;
    if ((s.kind == RL_PE_PROPE || s.kind == RL_PE_PROPE_REV || s.kind == RL_PE_PARTIAL) && !(seen & K_P))
        return rl_fail("rope spec '%s': '%s' needs the field p (e.g. %s:p=0.75)", text, buf, buf);
    if (s.kind == RL_PE_NOPE) s.p = 0.0;
    if (s.kind == RL_PE_ROPE) s.p = 1.0;

    /* scaling */
    if (scale_part) {
        char *c2 = strchr(scale_part, ':');
        char *p2 = NULL;
        if (c2) {
            *c2 = '\0';
            p2 = c2 + 1;
        }
        int sf = -1;
        for (int i = 1; i < 5; i++)
            if (strcmp(scale_part, scale_names[i]) == 0) sf = i;
        if (sf < 0)
            return rl_fail("rope spec '%s': unknown scaling type '%s' (expected linear, dynamic, yarn or llama3)",
                           text, scale_part);
        s.scale = (rl_scale_kind)sf;
        if (s.kind == RL_PE_NOPE) return rl_fail("rope spec '%s': nope has no frequencies to scale", text);
        int seen2 = 0;
        if (parse_params(text, scale_part, p2, allowed_keys_scale(s.scale), &seen2, &s) != 0) return -1;
        int req = required_keys_scale(s.scale);
        if ((seen2 & req) != req)
            return rl_fail("rope spec '%s': '%s' needs the fields %s", text, scale_part,
                           req & K_ORIGINAL ? "factor and original" : "factor");
        if (s.scale == RL_SCALE_YARN && !(s.beta_fast >= s.beta_slow))
            return rl_fail("rope spec '%s': yarn needs beta_fast >= beta_slow (got beta_fast=%g, beta_slow=%g)", text,
                           s.beta_fast, s.beta_slow);
        if (s.scale == RL_SCALE_LLAMA3 && !(s.high_freq_factor > s.low_freq_factor))
            return rl_fail("rope spec '%s': llama3 needs high_freq_factor > low_freq_factor (got %g and %g)", text,
                           s.high_freq_factor, s.low_freq_factor);
    }
    *out = s;
    return 0;
}

int rl_rope_format(const rl_rope_spec *s, char *buf, size_t n) {
    char base[256], scale[256] = "";
    switch (s->kind) {
    case RL_PE_NOPE: snprintf(base, sizeof base, "nope"); break;
    case RL_PE_ROPE: snprintf(base, sizeof base, "rope:theta=%.17g", s->theta); break;
    default: snprintf(base, sizeof base, "%s:p=%.17g,theta=%.17g", rl_pe_kind_name(s->kind), s->p, s->theta); break;
    }
    if (s->layout == RL_LAYOUT_INTERLEAVED)
        strncat(base, s->kind == RL_PE_NOPE ? ":layout=interleaved" : ",layout=interleaved",
                sizeof base - strlen(base) - 1);
    switch (s->scale) {
    case RL_SCALE_NONE: break;
    case RL_SCALE_LINEAR: snprintf(scale, sizeof scale, "+linear:factor=%.17g", s->factor); break;
    case RL_SCALE_DYNAMIC:
        snprintf(scale, sizeof scale, "+dynamic:factor=%.17g,original=%lld", s->factor, (long long)s->original);
        break;
    case RL_SCALE_YARN:
        snprintf(scale, sizeof scale,
                 "+yarn:factor=%.17g,original=%lld,beta_fast=%.17g,beta_slow=%.17g,attention_factor=%.17g,truncate=%d",
                 s->factor, (long long)s->original, s->beta_fast, s->beta_slow, rl_rope_yarn_attention_factor(s),
                 s->truncate);
        break;
    case RL_SCALE_LLAMA3:
        snprintf(scale, sizeof scale, "+llama3:factor=%.17g,original=%lld,low_freq_factor=%.17g,high_freq_factor=%.17g",
                 s->factor, (long long)s->original, s->low_freq_factor, s->high_freq_factor);
        break;
    }
    return snprintf(buf, n, "%s%s", base, scale);
}
