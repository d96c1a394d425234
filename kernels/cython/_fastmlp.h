/* C inlines shared by the Cython kernels (the .pxd declares what the .pyx files use). */
#ifndef FASTMLP_CYTHON_KERNELS_H
#define FASTMLP_CYTHON_KERNELS_H

#include "_simd.h"
#include "_chunks.h"
#include "_philox.h"
#include "_vecmath.h"

#endif
