# vmrelease_target_defaults(<target>): strict warnings on our own code only.
function(vmrelease_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-deprecated-declarations
    # Designated initializers ({.timeout = 5s}) intentionally leave other members defaulted.
    -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 emits false positives for these inside libstdc++ and nlohmann headers.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-restrict -Wno-stringop-overflow)
  endif()
endfunction()

# vmrelease_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Creates static library vmrelease_<name> and alias vmrelease::<name>.
function(vmrelease_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(vmrelease_${name} STATIC ${ARG_SOURCES})
  add_library(vmrelease::${name} ALIAS vmrelease_${name})
  target_include_directories(vmrelease_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(vmrelease_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  vmrelease_target_defaults(vmrelease_${name})
endfunction()

# vmrelease_test(<name> SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s])
# One executable per feature, registered with CTest (gtest_discover_tests would
# re-run each binary once per test; we register the binary once to keep CI fast).
function(vmrelease_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  vmrelease_target_defaults(${name})
  if(TARGET vmrelease_test_pch)
    target_precompile_headers(${name} REUSE_FROM vmrelease_test_pch)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "VMRELEASE_SOURCE_DIR=${PROJECT_SOURCE_DIR};VMRELEASE_BIN_DIR=${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
endfunction()
