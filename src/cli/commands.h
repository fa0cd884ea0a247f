/* Every `ropelab` command, one per file src/cli/cmd_<name>.c. main.c lists them. */
#ifndef ROPELAB_COMMANDS_H
#define ROPELAB_COMMANDS_H

int cmd_rope(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_theory(int argc, char **argv);
int cmd_maxret(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_generate(int argc, char **argv);

#endif
