#include <stdio.h>

/* Make stdout line-buffered, so progress lines reach a pipe as they are printed. */
static inline void evalnet_stdout_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
