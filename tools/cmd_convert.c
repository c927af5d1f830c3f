/* Placeholder until the command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_convert(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "w4a16 convert: not built yet\n");
    return EXIT_FAILURE_INPUT;
}
