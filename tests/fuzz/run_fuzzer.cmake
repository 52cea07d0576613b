# Runs one libFuzzer binary for $ENV{VMRELEASE_FUZZ_SECONDS} seconds (default 60), seed
# $ENV{VMRELEASE_FUZZ_SEED} (default 1),
# on a scratch copy of its seed corpus; any crash, leak or sanitizer report fails.
# Usage: cmake -DFUZZER=... -DSEEDS=... -DWORK=... [-DMAX_LEN=512] -P run_fuzzer.cmake
if(DEFINED ENV{VMRELEASE_FUZZ_SECONDS})
  set(seconds $ENV{VMRELEASE_FUZZ_SECONDS})
else()
  set(seconds 60)
endif()
# A fixed seed by default: the suite's run mutates the same way on every machine of the
# same speed, so a result here is the result CI gets. Exploring: VMRELEASE_FUZZ_SEED=0
# (libFuzzer picks one) and a longer VMRELEASE_FUZZ_SECONDS.
if(DEFINED ENV{VMRELEASE_FUZZ_SEED})
  set(seed $ENV{VMRELEASE_FUZZ_SEED})
else()
  set(seed 1)
endif()
if(NOT DEFINED MAX_LEN)
  set(MAX_LEN 512)
endif()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
execute_process(
  COMMAND ${FUZZER} -seed=${seed} -max_total_time=${seconds} -timeout=10 -rss_limit_mb=2048
          -max_len=${MAX_LEN} -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/
          ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); the crashing input is in ${WORK}/artifacts/")
endif()
message(STATUS "${FUZZER}: ${seconds}s without a crash")
