# Runs one libFuzzer binary on a scratch copy of its seed corpus; any crash, hang,
# leak or sanitizer report fails.
#
# The suite's run is bounded by work, not time: seed 1 and a fixed number of inputs
# (RUNS), so an idle or faster machine does not go further than a local run under
# load did (a time budget would). It is not input-for-input reproducible: the
# targets' coverage varies a little between runs (threads, hash seeds), and with it
# the mutations. A time cap (300 s) bounds a much slower machine.
# Exploring: VMRELEASE_FUZZ_SECONDS=N runs for N seconds with no input limit, and
# VMRELEASE_FUZZ_SEED=0 lets libFuzzer pick the seed.
# Usage: cmake -DFUZZER=... -DSEEDS=... -DWORK=... -DRUNS=... [-DMAX_LEN=512] -P run_fuzzer.cmake
if(DEFINED ENV{VMRELEASE_FUZZ_SECONDS})
  set(limit -max_total_time=$ENV{VMRELEASE_FUZZ_SECONDS})
  set(what "$ENV{VMRELEASE_FUZZ_SECONDS}s")
else()
  set(limit -runs=${RUNS} -max_total_time=300)
  set(what "${RUNS} inputs")
endif()
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
  COMMAND ${FUZZER} -seed=${seed} ${limit} -timeout=10 -rss_limit_mb=2048
          -max_len=${MAX_LEN} -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/
          ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); the crashing input is in ${WORK}/artifacts/")
endif()
message(STATUS "${FUZZER}: ${what} (seed ${seed}) without a crash")
