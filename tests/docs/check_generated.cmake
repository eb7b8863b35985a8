# Fails when a committed generated file differs from what its generator prints now, showing
# the difference and the command that regenerates it.
#   cmake -DGENERATOR=program -DCOMMITTED=file -DGENERATED=scratch_file -P check_generated.cmake
execute_process(COMMAND ${GENERATOR} OUTPUT_FILE ${GENERATED} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${GENERATOR} failed (${status})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${COMMITTED} ${GENERATED} RESULT_VARIABLE different)
if(different)
  execute_process(COMMAND diff -u ${COMMITTED} ${GENERATED})
  message(FATAL_ERROR "${COMMITTED} is not what the code generates (diff above: - committed, + generated). "
                      "Regenerate it with:\n  ${GENERATOR} > ${COMMITTED}")
endif()
