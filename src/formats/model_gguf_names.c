/* Tensor names: Hugging Face (the parameter table's) <-> llama.cpp's GGUF names. */
#include "model_internal.h"

#include <stdio.h>
#include <string.h>

/* Per-layer suffixes: HF name after "model.layers.N." -> GGUF name after "blk.N.". */
static const struct {
    const char *hf, *gguf;
} layer_names[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},       /* Gemma 2 */
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"}, /* Gemma 2 */
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate_proj.bias", "ffn_gate.bias"},
    {"mlp.up_proj.bias", "ffn_up.bias"},
    {"mlp.down_proj.bias", "ffn_down.bias"},
};

int ml_gguf_name(const char *hf, int sandwich, char *out, size_t n) {
    static const struct {
        const char *hf, *gguf;
    } top[] = {{"model.embed_tokens.weight", "token_embd.weight"},
               {"model.norm.weight", "output_norm.weight"},
               {"lm_head.weight", "output.weight"}};
    for (size_t i = 0; i < RL_ARRAY_LEN(top); i++)
        if (strcmp(hf, top[i].hf) == 0) return rl_path(out, n, "%s", top[i].gguf);
    int layer, used = 0;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &used) != 1 || used == 0) return -1;
    const char *rest = hf + used;
    /* post_attention_layernorm: the MLP's input norm, except under Gemma 2's sandwich norms,
     * where it normalises the attention branch output */
    if (strcmp(rest, "post_attention_layernorm.weight") == 0)
        return rl_path(out, n, "blk.%d.%s", layer, sandwich ? "post_attention_norm.weight" : "ffn_norm.weight");
    for (size_t i = 0; i < RL_ARRAY_LEN(layer_names); i++)
        if (strcmp(rest, layer_names[i].hf) == 0) return rl_path(out, n, "blk.%d.%s", layer, layer_names[i].gguf);
    return -1;
}
