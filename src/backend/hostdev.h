/* src/backend/hostdev.h — ENEVO_HD marks a small inline function that both
 * backends share: plain C on the host, __host__ __device__ under nvcc.
 * Internal. */
#ifndef ENEVO_HOSTDEV_H
#define ENEVO_HOSTDEV_H

#ifdef __CUDACC__
#define ENEVO_HD __host__ __device__
#else
#define ENEVO_HD
#endif

#endif
