/* librope spec strings: parsed values and defaults, format/parse round trip, and a table of bad
 * specs whose error must name the offending field. */
#include "helpers.h"
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <math.h>
#include <string.h>

static rl_rope_spec parse_ok(const char *text) {
    rl_rope_spec s;
    cr_assert_eq(rl_rope_parse(text, &s), 0, "'%s' should parse: %s", text, rl_error());
    return s;
}

Test(rope_spec, values_and_defaults) {
    rl_rope_spec s = parse_ok("nope");
    cr_assert_eq(s.kind, RL_PE_NOPE);
    cr_assert_eq(s.p, 0.0);
    cr_assert_eq(s.scale, RL_SCALE_NONE);

    s = parse_ok("rope:theta=500000");
    cr_assert_eq(s.kind, RL_PE_ROPE);
    cr_assert_eq(s.theta, 500000.0);
    cr_assert_eq(s.p, 1.0);
    cr_assert_eq(s.layout, RL_LAYOUT_HALF);

    s = parse_ok("prope:p=0.75,theta=10000");
    cr_assert_eq(s.kind, RL_PE_PROPE);
    cr_assert_eq(s.p, 0.75);

    s = parse_ok("prope-rev:p=0.75"); /* theta defaults to 10000 */
    cr_assert_eq(s.kind, RL_PE_PROPE_REV);
    cr_assert_eq(s.theta, 10000.0);

    s = parse_ok("partial:p=0.25,theta=10000,layout=interleaved");
    cr_assert_eq(s.kind, RL_PE_PARTIAL);
    cr_assert_eq(s.p, 0.25);
    cr_assert_eq(s.layout, RL_LAYOUT_INTERLEAVED);

    s = parse_ok("rope+linear:factor=4");
    cr_assert_eq(s.scale, RL_SCALE_LINEAR);
    cr_assert_eq(s.factor, 4.0);

    s = parse_ok("rope:theta=10000+dynamic:factor=2,original=2048");
    cr_assert_eq(s.scale, RL_SCALE_DYNAMIC);
    cr_assert_eq(s.original, 2048);

    s = parse_ok("rope+yarn:factor=4,original=4096"); /* HF defaults */
    cr_assert_eq(s.scale, RL_SCALE_YARN);
    cr_assert_eq(s.beta_fast, 32.0);
    cr_assert_eq(s.beta_slow, 1.0);
    cr_assert_eq(s.truncate, 1);
    cr_assert_eq(s.attention_factor, 0.0);
    /* 0.1 ln 4 + 1, to double rounding */
    cr_assert_float_eq(rl_rope_yarn_attention_factor(&s), 0.1 * log(4.0) + 1.0, 1e-15);

    s = parse_ok("rope:theta=500000+llama3:factor=8,original_max_position_embeddings=8192");
    cr_assert_eq(s.scale, RL_SCALE_LLAMA3);
    cr_assert_eq(s.original, 8192);
    cr_assert_eq(s.low_freq_factor, 1.0);
    cr_assert_eq(s.high_freq_factor, 4.0);

    /* a '+' inside a number is part of the number, not the start of a scaling type */
    s = parse_ok("rope:theta=1e+06+linear:factor=2");
    cr_assert_eq(s.theta, 1e6);
    cr_assert_eq(s.factor, 2.0);
}

/* format -> parse gives the same spec, and format is a fixed point (canonical). */
Test(rope_spec, format_parse_round_trip) {
    const char *specs[] = {
        "nope",
        "nope:layout=interleaved",
        "rope:theta=10000",
        "rope:theta=1e20",
        "rope:theta=10000.5,layout=interleaved",
        "prope:p=0.75,theta=10000",
        "prope:p=0.1,theta=1000000",
        "prope-rev:p=0.75",
        "partial:p=0.25,theta=10000,layout=interleaved",
        "rope+linear:factor=2.5",
        "prope:p=0.5+dynamic:factor=2,original=4096",
        "partial:p=0.5+yarn:factor=16,original=4096,beta_fast=24,beta_slow=2,truncate=0",
        "rope+yarn:factor=40,original=4096,mscale=0.707,mscale_all_dim=0.707",
        "rope+yarn:factor=4,original=4096,attention_factor=1.25",
        "rope:theta=500000+llama3:factor=8,original=8192,low_freq_factor=1,high_freq_factor=4",
    };
    for (size_t i = 0; i < RL_ARRAY_LEN(specs); i++) {
        rl_rope_spec a = parse_ok(specs[i]), b;
        char t1[512], t2[512];
        int n = rl_rope_format(&a, t1, sizeof t1);
        cr_assert(n > 0 && (size_t)n < sizeof t1);
        b = parse_ok(t1);
        rl_rope_format(&b, t2, sizeof t2);
        cr_assert_str_eq(t1, t2, "not canonical: %s", specs[i]);
        cr_assert_eq(a.kind, b.kind, "%s", t1);
        cr_assert_eq(a.theta, b.theta, "%s", t1); /* %.17g prints doubles exactly */
        cr_assert_eq(a.p, b.p, "%s", t1);
        cr_assert_eq(a.layout, b.layout, "%s", t1);
        cr_assert_eq(a.scale, b.scale, "%s", t1);
        cr_assert_eq(a.factor, b.factor, "%s", t1);
        cr_assert_eq(a.original, b.original, "%s", t1);
        cr_assert_eq(a.beta_fast, b.beta_fast, "%s", t1);
        cr_assert_eq(a.beta_slow, b.beta_slow, "%s", t1);
        cr_assert_eq(a.truncate, b.truncate, "%s", t1);
        cr_assert_eq(a.low_freq_factor, b.low_freq_factor, "%s", t1);
        cr_assert_eq(a.high_freq_factor, b.high_freq_factor, "%s", t1);
        /* the canonical string carries the resolved yarn attention factor */
        cr_assert_eq(rl_rope_yarn_attention_factor(&a), rl_rope_yarn_attention_factor(&b), "%s", t1);
    }
    /* snprintf contract: the needed length even when the buffer is too small */
    rl_rope_spec s = parse_ok("prope:p=0.75");
    char small[8];
    cr_assert_eq(rl_rope_format(&s, small, sizeof small), (int)strlen("prope:p=0.75,theta=10000"));
}

Test(rope_spec, bad_specs_name_the_field) {
    static const struct {
        const char *spec, *needle;
    } bad[] = {
        {"", "empty"},
        {"rotary", "'rotary'"},
        {"rope:theta=abc", "'theta'"},
        {"rope:theta=", "'theta'"},
        {"rope:theta=0.5", "theta=0.5"},
        {"rope:theta=inf", "'theta'"},
        {"rope:theta", "'theta'"},
        {"rope:p=0.5", "'p'"},
        {"rope:theta=10000,theta=500", "'theta' given twice"},
        {"rope:layout=diagonal", "layout='diagonal'"},
        {"prope", "field p"},
        {"prope:theta=10000", "field p"},
        {"prope:p=1.5", "p=1.5"},
        {"prope:p=-0.25", "p=-0.25"},
        {"partial:p=nan", "'p'"},
        {"nope:theta=10000", "'theta'"},
        {"nope+linear:factor=2", "nope"},
        {"rope+bogus:factor=2", "'bogus'"},
        {"rope+", "scaling type ''"},
        {"rope+linear", "factor"},
        {"rope+linear:factor=0.5", "factor=0.5"},
        {"rope+linear:factor=2,original=5", "'original'"},
        {"rope+linear:factor=2+linear:factor=2", "one scaling"},
        {"rope+dynamic:factor=2", "original"},
        {"rope+yarn:original=4096", "factor"},
        {"rope+yarn:factor=4", "original"},
        {"rope+yarn:factor=4,original=4096.5", "original=4096.5"},
        {"rope+yarn:factor=4,original=0", "original=0"},
        {"rope+yarn:factor=4,original=4096,beta_fast=1,beta_slow=32", "beta_fast"},
        {"rope+yarn:factor=4,original=4096,beta_slow=0", "beta_slow=0"},
        {"rope+yarn:factor=4,original=4096,truncate=2", "truncate=2"},
        {"rope+yarn:factor=4,original=4096,attention_factor=-1", "attention_factor=-1"},
        {"rope+yarn:factor=4,original=4096,mscale=-1", "mscale=-1"},
        {"rope+yarn:factor=4,original=4096,low_freq_factor=1", "'low_freq_factor'"},
        {"rope+llama3:factor=8,original=8192,low_freq_factor=4,high_freq_factor=1", "high_freq_factor"},
        {"rope+llama3:factor=8,original=8192,high_freq_factor=0", "high_freq_factor=0"},
    };
    for (size_t i = 0; i < RL_ARRAY_LEN(bad); i++) {
        rl_rope_spec s;
        rl_clear_error();
        cr_assert_eq(rl_rope_parse(bad[i].spec, &s), -1, "'%s' should not parse", bad[i].spec);
        cr_assert(strstr(rl_error(), bad[i].needle) != NULL, "'%s': error '%s' does not name '%s'", bad[i].spec,
                  rl_error(), bad[i].needle);
    }
}

/* Errors that depend on the head dim, and specs built by hand, fail in rl_rope_freqs_init. */
Test(rope_spec, table_errors_name_the_field) {
    rl_rope_freqs f;
    rl_rope_spec s = parse_ok("partial:p=0.3");
    cr_assert_eq(rl_rope_freqs_init(&f, &s, 10, 0), -1); /* 0.3 * 10 = 3 rotated dims: odd */
    cr_assert(strstr(rl_error(), "p=0.3") != NULL, "%s", rl_error());
    s = parse_ok("rope");
    cr_assert_eq(rl_rope_freqs_init(&f, &s, 7, 0), -1);
    cr_assert(strstr(rl_error(), "head_dim 7") != NULL, "%s", rl_error());
    cr_assert_eq(rl_rope_freqs_init(&f, &s, 0, 0), -1);
    s.theta = 0.5;
    cr_assert_eq(rl_rope_freqs_init(&f, &s, 64, 0), -1);
    cr_assert(strstr(rl_error(), "'theta'") != NULL, "%s", rl_error());
    s = parse_ok("rope+dynamic:factor=2,original=64");
    s.original = 0; /* would divide by zero */
    cr_assert_eq(rl_rope_freqs_init(&f, &s, 64, 0), -1);
    cr_assert(strstr(rl_error(), "'original'") != NULL, "%s", rl_error());
    s = parse_ok("rope");
    s.p = 2;
    cr_assert_eq(rl_rope_freqs_init(&f, &s, 64, 0), -1);
    cr_assert(strstr(rl_error(), "'p'") != NULL, "%s", rl_error());
    rl_rope r;
    s = parse_ok("rope");
    cr_assert_eq(rl_rope_init(&r, &s, 64, -1, 0), -1);
    cr_assert(strstr(rl_error(), "max_pos") != NULL, "%s", rl_error());
}
