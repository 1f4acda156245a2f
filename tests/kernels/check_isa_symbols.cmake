# Every symbol a SIMD kernel object defines with external linkage must live in
# that object's own namespace (rs::kernels::avx2, rs::kernels::avx512): an
# inline function or library template shared with other objects is one weak
# symbol, and the linker may keep the copy compiled for AVX-512 for every
# caller (an illegal instruction on older CPUs).
# Usage: cmake -DNM=nm -DOBJECTS="a.o;b.o" -P check_isa_symbols.cmake
set(failed "")
set(checked 0)
foreach(obj IN LISTS OBJECTS)
  get_filename_component(name "${obj}" NAME)
  if(name MATCHES "^avx2\\.")
    set(ns avx2)
  elseif(name MATCHES "^avx512\\.")
    set(ns avx512)
  else()
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  execute_process(COMMAND ${NM} -C --defined-only "${obj}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${obj}")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line IN LISTS lines)
    # Symbols visible to the linker: T/D/B/R (global), W/V (weak), u (unique).
    if(NOT line MATCHES "^[0-9a-f]+ [TDBRWVu] (.*)$")
      continue()
    endif()
    set(sym "${CMAKE_MATCH_1}")
    # The name itself (after a guard-variable prefix or a plain return type),
    # not just a template argument, must be in the namespace.
    if(sym MATCHES "^(guard variable for )?([A-Za-z_][A-Za-z0-9_:]* )?rs::kernels::${ns}::"
       OR sym STREQUAL "DW.ref.__gxx_personality_v0")
      continue()
    endif()
    if(sym MATCHES "^rs::kernels::k(Avx2|Avx512)Table$")
      continue()
    endif()
    # Type descriptors (UBSan's function checks emit them): data, the same in
    # every object, no code compiled for an instruction set.
    if(sym MATCHES "^typeinfo (name )?for ")
      continue()
    endif()
    string(APPEND failed "\n  ${name}: ${sym}")
  endforeach()
endforeach()
if(checked LESS 2)
  message(FATAL_ERROR "expected the avx2 and avx512 kernel objects among: ${OBJECTS}")
endif()
if(failed)
  message(FATAL_ERROR "kernel objects define symbols outside their ISA namespace:${failed}")
endif()
message(STATUS "${checked} kernel objects: every linker-visible symbol in its ISA namespace")
