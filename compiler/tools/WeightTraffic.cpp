//===- WeightTraffic.cpp - parameters and the bytes a decode step reads ---===//

#include "compiler/tools/WeightTraffic.h"

#include <algorithm>
#include <vector>

namespace pl = llmc::plan;

namespace llmc::tools {

WeightTraffic weightTraffic(const pl::Plan &plan) {
  WeightTraffic t;
  const auto &weights = *plan.weights();
  // Per weight, the fraction of its parameters a token uses and of its bytes
  // a decode step reads; the largest over its uses (a tied embedding is read
  // in full by the LM head).
  std::vector<double> active(weights.size(), 0.0), read(weights.size(), 0.0);
  std::vector<unsigned> embeddings;
  auto use = [&](const pl::Operand *o, double activeFraction,
                 double readFraction) {
    if (!o || o->kind() != pl::OperandKind::Weight ||
        o->index() >= weights.size())
      return;
    active[o->index()] = std::max(active[o->index()], activeFraction);
    read[o->index()] = std::max(read[o->index()], readFraction);
  };
  if (const pl::Program *decode = plan.decode())
    for (const pl::Kernel *k : *decode->kernels())
      for (const pl::Op *op : *k->ops()) {
        const auto &in = *op->inputs();
        double fraction = 1.0;
        if (const pl::MoEExperts *m = op->params_as_MoEExperts()) {
          fraction = double(m->top_k()) / double(m->experts());
          if (!t.experts) {
            t.experts = m->experts();
            t.topK = m->top_k();
          }
          for (unsigned i = 0; i < in.size(); ++i)
            use(in[i], i >= 3 ? fraction : 1.0, i >= 3 ? fraction : 1.0);
          continue;
        }
        if (const pl::Embedding *e = op->params_as_Embedding()) {
          for (const pl::Operand *o : in) {
            use(o, 1.0, 1.0 / double(std::max<int64_t>(1, e->vocab())));
            if (o->kind() == pl::OperandKind::Weight)
              embeddings.push_back(o->index());
          }
          continue;
        }
        for (const pl::Operand *o : in)
          use(o, 1.0, 1.0);
      }
  for (unsigned i : embeddings)
    if (i < weights.size() && read[i] < 1.0)
      t.embeddingRowOnly = true;
  // A quantized weight's scales are read with its values; they are not
  // parameters of the model.
  std::vector<bool> isScales(weights.size(), false);
  for (unsigned i = 0; i < weights.size(); ++i)
    if (const pl::WeightQuant *q = weights[i]->quant();
        q && q->scales() < weights.size()) {
      isScales[q->scales()] = true;
      active[q->scales()] = std::max(active[q->scales()], active[i]);
      read[q->scales()] = std::max(read[q->scales()], read[i]);
    }
  for (unsigned i = 0; i < weights.size(); ++i) {
    const pl::Weight *w = weights[i];
    uint64_t elems = 1;
    for (int64_t d : *w->shape())
      elems *= uint64_t(d);
    t.totalBytes += w->size();
    t.decodeBytes += uint64_t(double(w->size()) * read[i] + 0.5);
    if (isScales[i])
      continue;
    t.totalParams += elems;
    t.activeParams += uint64_t(double(elems) * active[i] + 0.5);
  }
  return t;
}

} // namespace llmc::tools
