#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
#include <hdf5.h>

/* HDF5 exposes its predefined types and property-list classes as macros that
   expand to global ids initialised by H5open(); Swift cannot import them, so
   they are wrapped here. Each getter calls through the macro at run time. */
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
static inline herr_t CHDF5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
