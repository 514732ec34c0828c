#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
#include <hdf5.h>
#include <stdio.h>

/* HDF5 exposes its predefined types and property-list classes as macros that
   expand to global ids initialised by H5open(), and several functions are
   macros whose target changes between library versions (1.10 vs 1.12+).
   Swift can import neither, so they are wrapped here with stable names. */
static inline hid_t CHDF5_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t CHDF5_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t CHDF5_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t CHDF5_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t CHDF5_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t CHDF5_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t CHDF5_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t CHDF5_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t CHDF5_C_S1(void) { return H5T_C_S1; }
static inline hid_t CHDF5_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t CHDF5_LINK_ACCESS(void) { return H5P_LINK_ACCESS; }
static inline hid_t CHDF5_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline unsigned CHDF5_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline size_t CHDF5_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t CHDF5_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline haddr_t CHDF5_HADDR_UNDEF(void) { return HADDR_UNDEF; }
static inline herr_t CHDF5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Link type of `name` in `loc` (H5L_TYPE_HARD, _SOFT, _EXTERNAL), or -1. */
static inline int CHDF5_link_type(hid_t loc, const char *name) {
#if H5_VERSION_GE(1, 12, 0)
    H5L_info2_t info;
    if (H5Lget_info2(loc, name, &info, H5P_DEFAULT) < 0) return -1;
#else
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
#endif
    return (int)info.type;
}

/* Frees the memory HDF5 allocated for variable-length data read into `buf`. */
static inline herr_t CHDF5_reclaim(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/* Number of links in group `loc`, or -1. */
static inline long long CHDF5_group_size(hid_t loc) {
    H5G_info_t info;
    if (H5Gget_info(loc, &info) < 0) return -1;
    return (long long)info.nlinks;
}

typedef struct { char text[512]; size_t used; } CHDF5_ErrorBuffer;

static inline herr_t CHDF5_collect_error(unsigned n, const H5E_error2_t *err, void *data) {
    CHDF5_ErrorBuffer *b = (CHDF5_ErrorBuffer *)data;
    (void)n;
    if (err && err->desc && b->used + 3 < sizeof(b->text)) {
        int w = snprintf(b->text + b->used, sizeof(b->text) - b->used, "%s%s", b->used ? "; " : "", err->desc);
        if (w > 0) b->used += (size_t)w < sizeof(b->text) - b->used ? (size_t)w : sizeof(b->text) - b->used - 1;
    }
    return 0;
}

/* The current thread's HDF5 error stack as one line, then cleared. */
static inline void CHDF5_error_text(CHDF5_ErrorBuffer *b) {
    b->text[0] = 0;
    b->used = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CHDF5_collect_error, b);
    H5Eclear2(H5E_DEFAULT);
}
#endif
