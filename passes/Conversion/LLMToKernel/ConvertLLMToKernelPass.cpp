//===- ConvertLLMToKernelPass.cpp - cut a step into kernel launches
//--------===//
//
// Decides which llm ops run together as one launch and outlines each group
// into a kernel.launch. Groups are contiguous runs of ops in program order,
// so every value a group reads from outside is defined before it.
//
//===----------------------------------------------------------------------===//

#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/llm/IR/LLMOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"

namespace llmc {
#define GEN_PASS_DEF_CONVERTLLMTOKERNELPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

/// Heavy ops start a launch: each is the core of a future GPU kernel.
bool startsLaunch(Operation *op) {
  if (isa<llm::EmbeddingOp, llm::AddRMSNormOp, llm::LayerNormOp, llm::LinearOp,
          llm::GatedLinearOp, llm::AttentionOp, llm::LMHeadOp,
          llm::MoERouterOp, llm::MoEExpertsOp, llm::SigmoidGateOp,
          llm::LatentCacheWriteOp, llm::MLAAttentionOp,
          llm::MLAAbsorbQueryOp, llm::LatentAttentionOp,
          llm::MLAAbsorbOutputOp>(op))
    return true;
  // A norm over the hidden state reads whole rows: its own kernel. A norm of
  // each head (QK-norm, rank 3) is an epilogue of the projection before it.
  if (auto norm = dyn_cast<llm::RMSNormOp>(op))
    return cast<RankedTensorType>(norm.getInput().getType()).getRank() == 2;
  return false;
}

/// The module name a NameLoc carries ("model.layers.0.mlp.down_proj").
/// The module names in an op's location: one NameLoc, or several in the
/// FusedLoc of an op that fusion made from several.
SmallVector<std::string> moduleNames(Operation *op) {
  SmallVector<std::string> names;
  op->getLoc()->walk([&](Location loc) {
    if (auto name = dyn_cast<NameLoc>(loc))
      names.push_back(name.getName().str());
    return WalkResult::advance();
  });
  if (names.empty())
    names.push_back(op->getName().stripDialect().str());
  return names;
}

/// Siblings share their parent: "a.b.q_proj", "a.b.k_proj" ->
/// "a.b.q_proj+k_proj". Modules of different parents keep their full names:
/// "model.layers.0.residual+model.layers.1.input_layernorm".
std::string launchName(ArrayRef<std::string> names) {
  SmallVector<std::string> unique;
  for (const std::string &n : names)
    if (!llvm::is_contained(unique, n))
      unique.push_back(n);
  StringRef parent = StringRef(unique.front()).rsplit('.').first;
  bool siblings = llvm::all_of(unique, [&](const std::string &n) {
    auto [p, leaf] = StringRef(n).rsplit('.');
    return !leaf.empty() && p == parent && p != n;
  });
  if (unique.size() == 1 || !siblings)
    return llvm::join(unique, "+");
  SmallVector<StringRef> leaves;
  for (const std::string &n : unique)
    leaves.push_back(StringRef(n).rsplit('.').second);
  return (parent + "." + llvm::join(leaves, "+")).str();
}

struct Group {
  SmallVector<Operation *> ops;
  SmallVector<std::string> anchorNames;
  bool onlyProjections = true; // so far only linears (and their views)
};

/// A shared expert (Qwen2-MoE, DeepSeek, GLM-4.5, Llama 4) joins the launch
/// of the routed experts it is summed with, so that kernel selection can
/// run both in the same kernels: the chain gated_linear(x) -> linear ->
/// [sigmoid_gate(x, .)] -> add(routed, .) right after llm.moe_experts(x).
bool joinsSharedExpert(Operation *op, const Group &cur) {
  auto experts = dyn_cast<llm::MoEExpertsOp>(cur.ops.front());
  if (!experts)
    return false;
  Operation *last = cur.ops.back();
  if (auto gl = dyn_cast<llm::GatedLinearOp>(op))
    return last == experts.getOperation() &&
           gl.getInput() == experts.getInput();
  if (auto lin = dyn_cast<llm::LinearOp>(op))
    return isa<llm::GatedLinearOp>(last) &&
           lin.getInput() == last->getResult(0);
  if (auto gate = dyn_cast<llm::SigmoidGateOp>(op))
    return isa<llm::LinearOp>(last) && gate.getInput() == experts.getInput() &&
           gate.getValue() == last->getResult(0);
  if (auto add = dyn_cast<llm::AddOp>(op)) {
    Value routed = experts.getResult(), shared = last->getResult(0);
    return isa<llm::LinearOp, llm::SigmoidGateOp>(last) &&
           ((add.getLhs() == routed && add.getRhs() == shared) ||
            (add.getLhs() == shared && add.getRhs() == routed));
  }
  return false;
}

/// The name a shared-expert op gives its launch: its module's parent
/// ("model.layers.1.mlp.shared_experts" of "...shared_experts.down_proj"),
/// or the gate's own ("model.layers.1.mlp.shared_expert_gate").
SmallVector<std::string> sharedExpertNames(Operation *op) {
  SmallVector<std::string> names;
  for (const std::string &n : moduleNames(op))
    names.push_back(isa<llm::SigmoidGateOp>(op)
                        ? n
                        : StringRef(n).rsplit('.').first.str());
  return names;
}

class ConvertLLMToKernelPass
    : public llmc::impl::ConvertLLMToKernelPassBase<ConvertLLMToKernelPass> {
public:
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal())
      return;
    Block &body = fn.getBody().front();

    // Weights go first: they are operands of launches, never inside them.
    SmallVector<Operation *> params;
    for (Operation &op : body)
      if (isa<llm::ParamOp>(op))
        params.push_back(&op);
    for (Operation *p : llvm::reverse(params))
      p->moveBefore(&body, body.begin());

    SmallVector<Group> groups;
    DenseMap<Operation *, size_t> groupOf;
    for (Operation &op : llvm::make_early_inc_range(body)) {
      if (isa<llm::ParamOp>(op) || op.hasTrait<OpTrait::IsTerminator>())
        continue;
      if (!isa<llm::LLMDialect>(op.getDialect())) {
        op.emitOpError("cannot be placed in a kernel launch");
        return signalPassFailure();
      }
      // A view (split or merge of heads) is no kernel: it never starts a
      // launch of its own, but joins the launch of the value it views, moved
      // to that launch's end (its users all come later).
      if (isa<llm::SplitHeadsOp, llm::MergeHeadsOp>(op)) {
        Operation *def = op.getOperand(0).getDefiningOp();
        auto it = def ? groupOf.find(def) : groupOf.end();
        if (it != groupOf.end() && it->second + 1 < groups.size()) {
          Group &owner = groups[it->second];
          op.moveAfter(owner.ops.back());
          owner.ops.push_back(&op);
          groupOf[&op] = it->second;
          continue;
        }
      }
      bool joinCurrent = false, shared = false;
      if (!groups.empty()) {
        Group &cur = groups.back();
        if (joinsSharedExpert(&op, cur)) {
          joinCurrent = shared = true;
        } else if (auto lin = dyn_cast<llm::LinearOp>(op)) {
          // Sibling projections of one input share a launch (Q, K, V).
          joinCurrent =
              cur.onlyProjections && llvm::any_of(cur.ops, [&](Operation *o) {
                auto other = dyn_cast<llm::LinearOp>(o);
                return other && other.getInput() == lin.getInput();
              });
        } else if (!startsLaunch(&op)) {
          // An epilogue joins the launch that produced one of its inputs, if
          // that launch is the current one.
          joinCurrent = llvm::any_of(op.getOperands(), [&](Value v) {
            Operation *def = v.getDefiningOp();
            auto it = def ? groupOf.find(def) : groupOf.end();
            return it != groupOf.end() && it->second == groups.size() - 1;
          });
        }
      }
      if (!joinCurrent)
        groups.emplace_back();
      Group &g = groups.back();
      g.ops.push_back(&op);
      groupOf[&op] = groups.size() - 1;
      if (shared && !isa<llm::AddOp>(op))
        g.anchorNames.append(sharedExpertNames(&op));
      else if (startsLaunch(&op) || !joinCurrent)
        g.anchorNames.append(moduleNames(&op));
      if (!isa<llm::LinearOp, llm::SplitHeadsOp>(op))
        g.onlyProjections = false;
    }

    for (Group &g : groups)
      outline(g);
  }

private:
  void outline(Group &g) {
    llvm::SmallPtrSet<Operation *, 16> inGroup(g.ops.begin(), g.ops.end());
    llvm::SetVector<Value> inputs;
    SmallVector<Value> outputs;
    for (Operation *op : g.ops) {
      for (Value v : op->getOperands()) {
        Operation *def = v.getDefiningOp();
        if (!def || !inGroup.contains(def))
          inputs.insert(v);
      }
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *user) {
              return !inGroup.contains(user);
            }))
          outputs.push_back(r);
    }

    OpBuilder b(g.ops.front());
    SmallVector<Type> resultTypes;
    for (Value v : outputs)
      resultTypes.push_back(v.getType());
    auto launch = kernel::LaunchOp::create(
        b, g.ops.front()->getLoc(), resultTypes,
        b.getStringAttr(launchName(g.anchorNames)), inputs.getArrayRef());
    Block *entry = new Block();
    launch.getBody().push_back(entry);
    IRMapping map;
    for (Value v : inputs)
      map.map(v, entry->addArgument(v.getType(), v.getLoc()));

    OpBuilder inner = OpBuilder::atBlockEnd(entry);
    for (Operation *op : g.ops)
      inner.clone(*op, map);
    SmallVector<Value> yielded;
    for (Value v : outputs)
      yielded.push_back(map.lookup(v));
    kernel::YieldOp::create(inner, launch.getLoc(), yielded);

    for (auto [old, res] : llvm::zip(outputs, launch.getResults()))
      old.replaceUsesWithIf(res, [&](OpOperand &use) {
        return !inGroup.contains(use.getOwner());
      });
    for (Operation *op : llvm::reverse(g.ops))
      op->erase();
  }
};

} // namespace
