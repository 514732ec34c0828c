#ifndef CZOOZLIB_SHIM_H
#define CZOOZLIB_SHIM_H
#include <zlib.h>
/* inflateInit2 is a macro; this wrapper accepts gzip and zlib streams (windowBits 15 + 32). */
static inline int czlib_inflate_init(z_stream *s) { return inflateInit2(s, 15 + 32); }
/* Raw deflate (no header), as zip members store it. */
static inline int czlib_inflate_init_raw(z_stream *s) { return inflateInit2(s, -15); }
#endif
