//===- Storage.cpp - where a value of a step lives ------------------------===//

#include "dialects/kernel/IR/Storage.h"

#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/llm/IR/LLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;

namespace llmc::kernel {

namespace {

llvm::Error err(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

uint64_t bytesOf(Type t) { return t.getIntOrFloatBitWidth() / 8; }

/// Elements per token of an activation [?, d1, d2, ...].
uint64_t rowElems(Type t) {
  uint64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(t).getShape().drop_front())
    n *= uint64_t(d);
  return n;
}

} // namespace

bool Storage::overlaps(const Storage &o, int64_t maxTokens) const {
  if (kind != StorageKind::Arena || o.kind != StorageKind::Arena)
    return false;
  auto end = [&](const Storage &s) {
    return s.offset + uint64_t(maxTokens) * s.rowElems * bytesOf(s.elementType);
  };
  return offset < end(o) && o.offset < end(*this);
}

llvm::Expected<Storage> resolveStorage(Value v) {
  while (true) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      Operation *owner = arg.getOwner()->getParentOp();
      if (auto launch = dyn_cast<LaunchOp>(owner)) {
        v = launch.getInputs()[arg.getArgNumber()];
        continue;
      }
      if (auto greedy = dyn_cast<GreedyOp>(owner)) {
        v = greedy.getInputs()[arg.getArgNumber()];
        continue;
      }
      if (!isa<func::FuncOp>(owner))
        return err("a block argument of " + owner->getName().getStringRef() +
                   " has no storage");
      Storage s;
      unsigned n = arg.getArgNumber();
      if (n < 3) {
        s.kind = StorageKind::Input;
        s.elementType = getElementTypeOrSelf(arg.getType());
        s.index = n;
        s.rowElems = 1;
        return s;
      }
      Type dtype;
      if (auto cache = dyn_cast<llm::KVCacheType>(arg.getType()))
        dtype = cache.getDtype();
      else if (auto latent = dyn_cast<llm::LatentCacheType>(arg.getType()))
        dtype = latent.getDtype();
      else
        return err("step argument " + llvm::Twine(n) +
                   " is neither a step input nor a KV cache");
      s.kind = StorageKind::KVCache;
      s.elementType = dtype;
      s.index = n - 3;
      return s;
    }
    Operation *def = v.getDefiningOp();
    if (auto p = dyn_cast<llm::ParamOp>(def)) {
      Storage s;
      s.kind = StorageKind::Weight;
      // A quantized weight's operand has the stored values' type.
      if (auto q = dyn_cast<llm::QuantWeightType>(p.getResult().getType()))
        s.elementType = q.getStorage();
      else
        s.elementType = getElementTypeOrSelf(p.getType());
      s.weight = p.getName();
      return s;
    }
    if (auto scratch = dyn_cast<ScratchOp>(def)) {
      Storage s;
      s.kind = StorageKind::Scratch;
      s.elementType = getElementTypeOrSelf(scratch.getType());
      s.offset = uint64_t(scratch.getOffset());
      s.rowElems = uint64_t(scratch.getRowElems());
      return s;
    }
    if (isa<LaunchOp, GreedyOp>(def)) {
      auto yield = cast<YieldOp>(def->getRegion(0).front().getTerminator());
      v = yield.getValues()[cast<OpResult>(v).getResultNumber()];
      continue;
    }
    if (auto write = dyn_cast<llm::KVCacheWriteOp>(def)) {
      v = write.getCache();
      continue;
    }
    if (auto write = dyn_cast<llm::LatentCacheWriteOp>(def)) {
      v = write.getCache();
      continue;
    }
    auto offsets = def->getAttrOfType<DenseI64ArrayAttr>(kOffsetsAttrName);
    unsigned resultNumber = cast<OpResult>(v).getResultNumber();
    if (!offsets || offsets.size() <= resultNumber ||
        offsets[resultNumber] < 0)
      return err("value defined by " + def->getName().getStringRef() +
                 " has no arena offset (run kernel-plan-memory)");
    Type element = getElementTypeOrSelf(v.getType());
    if (!element.isF32() && !element.isF16() && !element.isBF16() &&
        !element.isInteger(32))
      return err("unsupported activation element type");
    Storage s;
    s.kind = StorageKind::Arena;
    s.elementType = element;
    s.offset = uint64_t(offsets[resultNumber]);
    s.rowElems = rowElems(v.getType());
    return s;
  }
}

} // namespace llmc::kernel
