//===- RopeAttrTest.cpp - #llm.rope parameters reach the frequency code ----===//

#include "dialects/llm/IR/LLMDialect.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/AsmParser/AsmParser.h"

#include <gtest/gtest.h>

namespace {

TEST(RopeAttr, ParsedParametersConvertToParams) {
  mlir::MLIRContext ctx;
  ctx.loadDialect<llmc::llm::LLMDialect>();
  auto attr = llvm::dyn_cast_or_null<llmc::llm::RopeAttr>(mlir::parseAttribute(
      "#llm.rope<yarn, theta = 150000.0, dim = 64, factor = 32.0, "
      "original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, "
      "attention_factor = 1.3465735902799727, truncate = false>",
      &ctx));
  ASSERT_TRUE(attr);
  llmc::rope::Params p = attr.toParams();
  EXPECT_EQ(p.kind, llmc::rope::Kind::Yarn);
  EXPECT_DOUBLE_EQ(p.theta, 150000.0);
  EXPECT_EQ(p.dim, 64);
  EXPECT_DOUBLE_EQ(p.factor, 32.0);
  EXPECT_EQ(p.originalMaxPosition, 4096);
  EXPECT_FALSE(p.truncate);
  EXPECT_DOUBLE_EQ(attr.getAttentionScaling(), 1.3465735902799727);
}

TEST(RopeAttr, FormatDoubleIsShortestAndExact) {
  using llmc::llm::formatDouble;
  EXPECT_EQ(formatDouble(500000.0), "500000.0");
  EXPECT_EQ(formatDouble(1e-6), "1.0e-06");
  EXPECT_EQ(formatDouble(0.125), "0.125");
  EXPECT_EQ(formatDouble(1.3465735902799727), "1.3465735902799727");
  for (double v : {0.1, 1.0 / 3.0, 0.08838834764831845, 1e-30, 123456.789})
    EXPECT_EQ(std::strtod(formatDouble(v).c_str(), nullptr), v);
}

} // namespace
