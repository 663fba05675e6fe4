//===- KernelDialect.h - the kernel dialect
//--------------------------------===//

#ifndef LLMC_DIALECTS_KERNEL_IR_KERNELDIALECT_H
#define LLMC_DIALECTS_KERNEL_IR_KERNELDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/kernel/IR/KernelDialect.h.inc"

#endif // LLMC_DIALECTS_KERNEL_IR_KERNELDIALECT_H
