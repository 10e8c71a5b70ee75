# Writes version.h with the current `git describe`, at every build (not only at configure time),
# touching the file only when its text changes so nothing recompiles needlessly.
execute_process(
  COMMAND git describe --tags --always --dirty
  WORKING_DIRECTORY ${SOURCE_DIR}
  OUTPUT_VARIABLE ORCH_GIT_DESCRIBE
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(NOT ORCH_GIT_DESCRIBE)
  set(ORCH_GIT_DESCRIBE "unknown")
endif()
configure_file(${SOURCE_DIR}/src/version.h.in ${OUTPUT} @ONLY)
