/* libFuzzer target: Hugging Face config.json -> rl_model_config (rl_hf_config_parse), and the
 * parsed config through ropelab's own JSON and back, which must reproduce it exactly. */
#include "ropelab/formats.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_model_config c;
    if (rl_hf_config_parse(&c, (const char *)data, size, "fuzz/config.json") != 0) return 0;
    if (rl_model_config_validate(&c) != 0) abort(); /* a parsed config is always a valid one */
    char *a = rl_model_config_to_json(&c);
    if (!a) abort();
    rl_model_config d;
    rl_model_config_default(&d);
    if (rl_model_config_from_json(&d, a, "fuzz/roundtrip") != 0) abort();
    char *b = rl_model_config_to_json(&d);
    if (!b || strcmp(a, b) != 0) abort();
    free(a);
    free(b);
    return 0;
}
