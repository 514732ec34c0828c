#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): runs the fuzzing
   loop with `callback` as the target. The harnesses call it from the entry point
   SwiftPM names for an executable, so libFuzzer's own main is not needed. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
