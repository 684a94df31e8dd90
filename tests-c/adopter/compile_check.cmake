# Runs COMPILER on SOURCE with FLAGS (a ;-list) and checks the outcome: EXPECT "pass" needs exit
# status 0; EXPECT "fail" needs a non-zero status and output matching REGEX (so the refusal comes
# from the typed-hook check, not from an unrelated error).
separate_arguments(flag_list UNIX_COMMAND "${FLAGS}")
execute_process(COMMAND ${COMPILER} ${flag_list} -c ${SOURCE} -o ${OUTPUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected ${SOURCE} to compile with ${FLAGS}:\n${out}${err}")
  endif()
  message(STATUS "${SOURCE} compiles with ${FLAGS}")
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "expected ${SOURCE} to be refused with ${FLAGS}, it compiled")
  endif()
  if(NOT "${out}${err}" MATCHES "${REGEX}")
    message(FATAL_ERROR "${SOURCE} was refused, but not by the typed-hook check:\n${out}${err}")
  endif()
  message(STATUS "${SOURCE} refused with ${FLAGS} as expected")
endif()
