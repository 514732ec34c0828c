#include "CZooImage.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* ------------------------------------------------------------------ JPEG */

struct czoo_jpeg {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int created;
    int failed;
    int max_scans;
    char message[JMSG_LENGTH_MAX + 64];
};

static void czoo_jpeg_error_exit(j_common_ptr cinfo) {
    czoo_jpeg *j = (czoo_jpeg *)cinfo->client_data;
    (*cinfo->err->format_message)(cinfo, j->message);
    j->failed = 1;
    longjmp(j->jump, 1);
}

static void czoo_jpeg_emit(j_common_ptr cinfo, int level) {
    /* Warnings (level -1) are ignored like PIL ignores them, except running
       out of data: libjpeg would pad the rest of the image with gray, PIL
       reports "image file is truncated". */
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        czoo_jpeg *j = (czoo_jpeg *)cinfo->client_data;
        snprintf(j->message, sizeof j->message, "the image data ends early (file truncated)");
        j->failed = 1;
        longjmp(j->jump, 1);
    }
}

static void czoo_jpeg_progress(j_common_ptr common) {
    j_decompress_ptr cinfo = (j_decompress_ptr)common;
    czoo_jpeg *j = (czoo_jpeg *)common->client_data;
    if (cinfo->progressive_mode && j->max_scans > 0 && cinfo->input_scan_number > j->max_scans) {
        snprintf(j->message, sizeof j->message, "more than %d progressive scans (a decompression bomb?)", j->max_scans);
        j->failed = 1;
        longjmp(j->jump, 1);
    }
}

czoo_jpeg *czoo_jpeg_open(const unsigned char *data, size_t size) {
    czoo_jpeg *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->cinfo.err = jpeg_std_error(&j->err);
    j->err.error_exit = czoo_jpeg_error_exit;
    j->err.emit_message = czoo_jpeg_emit;
    j->cinfo.client_data = j;
    if (setjmp(j->jump)) return j;
    jpeg_create_decompress(&j->cinfo);
    j->created = 1;
    if (size == 0) {
        snprintf(j->message, sizeof j->message, "the file is empty");
        j->failed = 1;
        return j;
    }
    jpeg_mem_src(&j->cinfo, data, (unsigned long)size);
    j->progress.progress_monitor = czoo_jpeg_progress;
    j->cinfo.progress = &j->progress;
    jpeg_read_header(&j->cinfo, TRUE);
    switch (j->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: j->cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK: case JCS_YCCK: j->cinfo.out_color_space = JCS_CMYK; break;
    default: j->cinfo.out_color_space = JCS_RGB; break;
    }
    j->cinfo.dct_method = JDCT_ISLOW;
    j->cinfo.do_fancy_upsampling = TRUE;
    jpeg_calc_output_dimensions(&j->cinfo);
    return j;
}

const char *czoo_jpeg_error(const czoo_jpeg *j) { return j->failed ? j->message : NULL; }

czoo_jpeg_info czoo_jpeg_get_info(const czoo_jpeg *j) {
    czoo_jpeg_info info;
    info.width = j->cinfo.output_width;
    info.height = j->cinfo.output_height;
    info.components = j->cinfo.out_color_components;
    info.color_space = (int)j->cinfo.jpeg_color_space;
    info.adobe = j->cinfo.saw_Adobe_marker ? 1 : 0;
    info.progressive = j->cinfo.progressive_mode ? 1 : 0;
    return info;
}

int czoo_jpeg_read(czoo_jpeg *j, unsigned char *out, size_t out_size, int max_scans) {
    if (j->failed) return -1;
    j->max_scans = max_scans;
    if (setjmp(j->jump)) return -1;
    jpeg_start_decompress(&j->cinfo);
    size_t stride = (size_t)j->cinfo.output_width * (size_t)j->cinfo.output_components;
    if (stride == 0 || out_size / stride < j->cinfo.output_height) {
        snprintf(j->message, sizeof j->message, "output buffer too small");
        j->failed = 1;
        return -1;
    }
    while (j->cinfo.output_scanline < j->cinfo.output_height) {
        JSAMPROW row = out + (size_t)j->cinfo.output_scanline * stride;
        if (jpeg_read_scanlines(&j->cinfo, &row, 1) != 1) {
            snprintf(j->message, sizeof j->message, "the image data ends early (file truncated)");
            j->failed = 1;
            return -1;
        }
    }
    jpeg_finish_decompress(&j->cinfo);
    return 0;
}

void czoo_jpeg_close(czoo_jpeg *j) {
    if (!j) return;
    if (j->created && !setjmp(j->jump)) jpeg_destroy_decompress(&j->cinfo);
    free(j);
}

int czoo_jpeg_lib_version(void) {
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
    return LIBJPEG_TURBO_VERSION_NUMBER;
#else
    return JPEG_LIB_VERSION;
#endif
}

/* ------------------------------------------------------------------- PNG */

struct czoo_png {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size, offset;
    int failed;
    czoo_png_info facts;
    char message[256];
};

static void czoo_png_error_fn(png_structp png, png_const_charp msg) {
    czoo_png *p = (czoo_png *)png_get_error_ptr(png);
    snprintf(p->message, sizeof p->message, "%s", msg ? msg : "libpng error");
    p->failed = 1;
    png_longjmp(png, 1);
}

static void czoo_png_warning_fn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void czoo_png_read_fn(png_structp png, png_bytep out, size_t length) {
    czoo_png *p = (czoo_png *)png_get_io_ptr(png);
    if (length > p->size - p->offset) png_error(png, "the image data ends early (file truncated)");
    memcpy(out, p->data + p->offset, length);
    p->offset += length;
}

czoo_png *czoo_png_open(const unsigned char *data, size_t size, unsigned max_dimension) {
    czoo_png *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->data = data;
    p->size = size;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(p->message, sizeof p->message, size == 0 ? "the file is empty" : "not a PNG file (bad signature)");
        p->failed = 1;
        return p;
    }
    p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, p, czoo_png_error_fn, czoo_png_warning_fn);
    if (!p->png) { snprintf(p->message, sizeof p->message, "out of memory"); p->failed = 1; return p; }
    p->info = png_create_info_struct(p->png);
    if (!p->info) { snprintf(p->message, sizeof p->message, "out of memory"); p->failed = 1; return p; }
    if (setjmp(png_jmpbuf(p->png))) return p;
    png_set_read_fn(p->png, p, czoo_png_read_fn);
    png_set_user_limits(p->png, max_dimension, max_dimension);
    /* Bound the memory one ancillary chunk may take (zTXt/iCCP bombs). */
    png_set_chunk_malloc_max(p->png, 8u << 20);
    png_read_info(p->png, p->info);
    int color = png_get_color_type(p->png, p->info);
    int depth = png_get_bit_depth(p->png, p->info);
    p->facts.file_color_type = color;
    p->facts.file_bit_depth = depth;
    p->facts.interlaced = png_get_interlace_type(p->png, p->info) != PNG_INTERLACE_NONE;
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(p->png);
    if (p->facts.interlaced) png_set_interlace_handling(p->png);
    png_read_update_info(p->png, p->info);
    p->facts.width = png_get_image_width(p->png, p->info);
    p->facts.height = png_get_image_height(p->png, p->info);
    p->facts.channels = png_get_channels(p->png, p->info);
    p->facts.bit_depth = png_get_bit_depth(p->png, p->info);
    p->facts.row_bytes = png_get_rowbytes(p->png, p->info);
    return p;
}

const char *czoo_png_error(const czoo_png *p) { return p->failed ? p->message : NULL; }

czoo_png_info czoo_png_get_info(const czoo_png *p) { return p->facts; }

int czoo_png_read(czoo_png *p, unsigned char *out, size_t out_size) {
    if (p->failed) return -1;
    size_t h = p->facts.height, stride = p->facts.row_bytes;
    if (stride == 0 || out_size / stride < h) {
        snprintf(p->message, sizeof p->message, "output buffer too small");
        p->failed = 1;
        return -1;
    }
    png_bytep *rows = malloc(h * sizeof *rows);
    if (!rows) { snprintf(p->message, sizeof p->message, "out of memory"); p->failed = 1; return -1; }
    for (size_t y = 0; y < h; y++) rows[y] = out + y * stride;
    if (setjmp(png_jmpbuf(p->png))) { free(rows); return -1; }
    png_read_image(p->png, rows);
    free(rows);
    return 0;
}

void czoo_png_close(czoo_png *p) {
    if (!p) return;
    if (p->png) png_destroy_read_struct(&p->png, p->info ? &p->info : NULL, NULL);
    free(p);
}

const char *czoo_png_version(void) { return png_get_libpng_ver(NULL); }
