# Writes ${OUT}: each file of ${FILES} (a |-separated list) as a C++ raw string
# constant, so that the kernel templates are edited as .cuh files and ship
# inside the compiler.
set(content "// Generated from compiler/codegen/cuda/templates by EmbedTemplates.cmake.\n")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f IN LISTS FILES)
  get_filename_component(name "${f}" NAME_WE)
  file(READ "${f}" text)
  string(APPEND content
    "inline constexpr const char *k_${name}_cuh = R\"LLMC_CUH(${text})LLMC_CUH\";\n")
endforeach()
file(WRITE "${OUT}.tmp" "${content}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
