/*===- FakeCudaMinimal.c - a fake CUDA driver too old to use -------------===*
 *
 * Exports two entry points of the many the runtime needs, and says it is
 * CUDA 9.0: Driver::load must name the first one missing.
 *
 *===---------------------------------------------------------------------===*/

#include <cuda.h>

CUresult CUDAAPI cuInit(unsigned int flags) {
  (void)flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int *version) {
  if (!version)
    return CUDA_ERROR_INVALID_VALUE;
  *version = 9000;
  return CUDA_SUCCESS;
}
