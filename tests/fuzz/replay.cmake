# cmake -DFUZZER=report_fuzz -DDIR=tests/fuzz/regressions -P replay.cmake
# Runs the fuzz target once over every file in DIR (no mutation); fails
# when any input crashes, leaks or trips a sanitizer.
file(GLOB inputs LIST_DIRECTORIES false ${DIR}/*)
list(FILTER inputs EXCLUDE REGEX "/(README|OPEN)[^/]*$")
# regressions/OPEN: inputs whose bug is not fixed yet (first word of a line).
if(EXISTS ${DIR}/OPEN)
  file(STRINGS ${DIR}/OPEN open_lines REGEX "^[^# ]")
  foreach(line IN LISTS open_lines)
    string(REGEX REPLACE "[ \t].*" "" name "${line}")
    list(REMOVE_ITEM inputs ${DIR}/${name})
  endforeach()
endif()
list(LENGTH inputs n)
if(n EQUAL 0)
  message(STATUS "no inputs in ${DIR}")
  return()
endif()
execute_process(COMMAND ${FUZZER} -runs=1 -timeout=30 -rss_limit_mb=2048 ${inputs}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed on an input of ${DIR} (rc ${rc}):\n${out}")
endif()
message(STATUS "${n} inputs of ${DIR} replayed")
