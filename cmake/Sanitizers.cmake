# Applies VMRELEASE_SANITIZE (e.g. "address,undefined" or "thread") to every target.
if(VMRELEASE_SANITIZE)
  string(REPLACE "," ";" _sanitizers "${VMRELEASE_SANITIZE}")
  set(_flags "")
  foreach(s IN LISTS _sanitizers)
    list(APPEND _flags "-fsanitize=${s}")
  endforeach()
  list(APPEND _flags -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${_flags})
  # Line tables are all a sanitizer report's stack needs; full debug info costs about a
  # fifth more compile time and much more link time (measured on types_test.cc: 13.0 s
  # with -g, 10.1 s with -gline-tables-only).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options(-gline-tables-only)
  endif()
  add_link_options(${_flags})
  message(STATUS "vmrelease: sanitizers ${VMRELEASE_SANITIZE}")
endif()

# In a fuzzing build every object carries libFuzzer's coverage instrumentation (without
# its main), so the fuzzers are guided by the code under test, not only by their own
# harness (which alone gave apiserver_request_fuzz 15k PCs of a server with many more).
if(VMRELEASE_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
