# Runs one libFuzzer target for SECONDS on its seeds, keeping what it finds
# interesting in WORK/corpus and any crashing input in WORK/. Fails when the
# fuzzer does (a crash, a leak, a sanitizer report, a timeout per input).
#   cmake -DFUZZER=bin/fuzz_x -DNAME=x -DSECONDS=30 -DWORK=dir -DSOURCE_DIR=repo
#         [-DREFERENCE_DIR=../shared/reference] -P run_fuzzer.cmake
# NAME: gguf, run_import, tokenizer or chat_template.
foreach(v FUZZER NAME SECONDS WORK SOURCE_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${v}=... is required")
  endif()
endforeach()
set(seeds ${WORK}/seeds)
file(MAKE_DIRECTORY ${WORK}/corpus ${seeds})
set(dirs ${WORK}/corpus ${seeds})
set(max_len 65536)
if(NAME STREQUAL "gguf")
  list(APPEND dirs ${SOURCE_DIR}/tests/data/gguf-seeds)
elseif(NAME STREQUAL "run_import")
  list(APPEND dirs ${SOURCE_DIR}/tools/fuzz/seeds/run-import)
elseif(NAME STREQUAL "tokenizer")
  set(max_len 4096)
  file(WRITE ${seeds}/hello.txt "Hello world 123 ü <s> </s> Q: 46+11*10+7-(17+37)\nAnswer: 109")
  file(WRITE ${seeds}/spaces.txt "  \t\n\n   a  b\r\n é ")
  if(DEFINED REFERENCE_DIR AND EXISTS ${REFERENCE_DIR}/tokenizer)
    file(GLOB inputs ${REFERENCE_DIR}/tokenizer/*.inp)
    foreach(f ${inputs})
      get_filename_component(n ${f} NAME)
      file(COPY_FILE ${f} ${seeds}/${n} ONLY_IF_DIFFERENT)
    endforeach()
  endif()
elseif(NAME STREQUAL "chat_template")
  # The interpreter's test templates (tests/data/chat-templates) and the
  # reference chat templates of real models.
  file(READ ${SOURCE_DIR}/tests/data/chat-templates/jinja_cases.json cases)
  string(JSON n_sets LENGTH "${cases}" sets)
  math(EXPR last_set "${n_sets} - 1")
  foreach(i RANGE ${last_set})
    string(JSON n LENGTH "${cases}" sets ${i} cases)
    math(EXPR last "${n} - 1")
    foreach(k RANGE ${last})
      string(JSON t GET "${cases}" sets ${i} cases ${k} template)
      file(WRITE ${seeds}/case-${i}-${k}.jinja "${t}")
    endforeach()
  endforeach()
  if(DEFINED REFERENCE_DIR AND EXISTS ${REFERENCE_DIR}/chat-templates)
    list(APPEND dirs ${REFERENCE_DIR}/chat-templates)
  endif()
else()
  message(FATAL_ERROR "run_fuzzer.cmake: unknown NAME ${NAME}")
endif()
message(STATUS "fuzzing ${NAME} for ${SECONDS} s")
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -max_len=${max_len} -timeout=20 -rss_limit_mb=3072
          -print_final_stats=1 -artifact_prefix=${WORK}/ ${dirs}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz_${NAME} failed (exit ${rc}); the input is in ${WORK}/")
endif()
