/* ropelab: the command-line tool. Dispatches `ropelab COMMAND ...` to src/cli/cmd_*.c. */
#include "cli.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"rope", cmd_rope, "inspect an encoding: `ropelab rope show SPEC --head-dim D`"},
    {"data", cmd_data, "training shards from text: `ropelab data prepare --text FILE... --out DIR`"},
    {"theory", cmd_theory, "the paper's claims as measured figures + verdicts: `ropelab theory --out DIR`"},
    {"maxret", cmd_maxret, "max-retrieval experiment: softmax vs adaptive temperature on growing sets"},
    {"train", cmd_train, "train a model on prepared data: `ropelab train --data DIR --out DIR [--KEY VALUE ...]`"},
    {"eval", cmd_eval, "validation loss at 1-16x the training context: `ropelab eval CKPT --data DIR`"},
    {"analyze", cmd_analyze, "how a model uses its RoPE frequencies: `ropelab analyze MODEL --text FILE... --out DIR`"},
    {"generate", cmd_generate, "continue a prompt: `ropelab generate MODEL --prompt TEXT [-n N]`"},
    {"inspect", cmd_inspect, "list a checkpoint's metadata and tensors (safetensors, HF folder, GGUF, llama2.c)"},
    {"reproduce", cmd_reproduce, "the whole paper in one command, with error bars: `ropelab reproduce --scale tiny`"},
    {"export", cmd_export, "a checkpoint as a Hugging Face folder or a GGUF file: `ropelab export CKPT --hf DIR`"},
};

static void usage(FILE *to) {
    fprintf(to, "usage: ropelab COMMAND [options]   (ropelab COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ropelab: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
