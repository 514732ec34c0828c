#ifndef CZOOIMAGE_H
#define CZOOIMAGE_H
/* Thin, non-longjmp-ing entry points into libjpeg-turbo and libpng.

   Both libraries report errors by longjmp, which Swift cannot catch, so each
   call here sets its own jump point and turns an error into a -1 return with
   the library's message in the handle. A handle owns every library object it
   creates; czoo_*_close frees it (the Swift wrapper classes call it in deinit).
   Pixels are never allocated here: the caller checks the dimensions first and
   passes its own buffer. */
#include <stddef.h>

/* ---- JPEG ---- */
typedef struct czoo_jpeg czoo_jpeg;

typedef struct {
    unsigned width, height;
    /* Components libjpeg will write per pixel: 1 (grayscale), 3 (RGB), 4 (CMYK). */
    int components;
    /* The file's colour space as libjpeg names it (J_COLOR_SPACE). */
    int color_space;
    /* 1 when an Adobe APP14 marker was seen (Adobe CMYK is stored inverted). */
    int adobe;
    int progressive;
} czoo_jpeg_info;

/* Reads the header of the JPEG in data[0..size) (which must outlive the
   handle). Returns NULL only when out of memory; otherwise check
   czoo_jpeg_error(). */
czoo_jpeg *czoo_jpeg_open(const unsigned char *data, size_t size);
/* NULL when the last call succeeded, else the message. */
const char *czoo_jpeg_error(const czoo_jpeg *j);
/* Header facts (valid after a successful open). */
czoo_jpeg_info czoo_jpeg_get_info(const czoo_jpeg *j);
/* Decodes every scanline into out (width * height * components bytes,
   rows top to bottom) with libjpeg's defaults: accurate integer IDCT and
   fancy upsampling, as PIL decodes. A premature end of data is an error
   here (libjpeg would only warn and pad the image with gray). At most
   max_scans progressive scans are accepted. Returns 0 or -1. */
int czoo_jpeg_read(czoo_jpeg *j, unsigned char *out, size_t out_size, int max_scans);
void czoo_jpeg_close(czoo_jpeg *j);

/* ---- PNG ---- */
typedef struct czoo_png czoo_png;

typedef struct {
    unsigned width, height;
    /* After expansion: palettes become RGB (RGBA when tRNS is present),
       1/2/4-bit gray becomes 8-bit gray (scaled to 0..255). */
    int channels;
    /* 8 or 16 (16-bit samples are big-endian, as in the file). */
    int bit_depth;
    /* PNG colour type and bit depth as stored in the file. */
    int file_color_type;
    int file_bit_depth;
    int interlaced;
    size_t row_bytes;
} czoo_png_info;

czoo_png *czoo_png_open(const unsigned char *data, size_t size, unsigned max_dimension);
const char *czoo_png_error(const czoo_png *p);
czoo_png_info czoo_png_get_info(const czoo_png *p);
/* Decodes (de-interlacing) into out (height * row_bytes bytes). No gamma
   or colour correction is applied, as PIL applies none. Returns 0 or -1. */
int czoo_png_read(czoo_png *p, unsigned char *out, size_t out_size);
void czoo_png_close(czoo_png *p);

/* Library versions, for diagnostics ("2.1.5", "1.6.39"). */
const char *czoo_png_version(void);
int czoo_jpeg_lib_version(void);
#endif
