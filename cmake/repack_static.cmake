# Repacks cargo's libgothook.a into an archive of ONE relocatable object that holds exactly what a
# program linking the archive gets: gothook's code and the few compiler_builtins members it uses.
# cargo's staticlib also carries the rest of Rust's compiler_builtins, some of whose members (the
# f128 and math builtins) reference rust_eh_personality; a C program using __float128 that links
# libgothook.a before libgcc would pull such a member and fail with "undefined reference to
# rust_eh_personality".  A partial link (ld -r) rooted at the exported gothook_ functions keeps
# only the members they need; everything left undefined is libc.
#   cmake -DIN=<cargo .a> -DOUT=<.a> -DLD=<ld> -DAR=<ar> -DREADELF=<readelf> -P repack_static.cmake
foreach(var IN ITEMS IN OUT LD AR READELF)
  if(NOT ${var})
    message(FATAL_ERROR "repack_static.cmake: ${var} is not set")
  endif()
endforeach()

# The exported functions: global, default-visibility definitions named gothook_*.
execute_process(COMMAND "${READELF}" -sW "${IN}" OUTPUT_VARIABLE table RESULT_VARIABLE rc
                ERROR_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "repack_static.cmake: ${READELF} -sW ${IN} failed (${rc})")
endif()
string(REGEX MATCHALL "GLOBAL +DEFAULT +[0-9]+ +gothook_[A-Za-z0-9_]+" defs "${table}")
set(roots)
foreach(d IN LISTS defs)
  string(REGEX REPLACE ".* " "" name "${d}")
  list(APPEND roots "-u" "${name}")
endforeach()
list(REMOVE_DUPLICATES defs)
if(NOT roots)
  message(FATAL_ERROR "repack_static.cmake: no exported gothook_ function found in ${IN}")
endif()

get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
set(obj "${dir}/gothook.o")
file(REMOVE "${obj}" "${OUT}")
execute_process(COMMAND "${LD}" -r -o "${obj}" ${roots} "${IN}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "repack_static.cmake: ${LD} -r failed (${rc})")
endif()
execute_process(COMMAND "${AR}" rcs "${OUT}" "${obj}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "repack_static.cmake: ${AR} rcs ${OUT} failed (${rc})")
endif()
file(REMOVE "${obj}")
