# Writes OUT (slim/Version.inc) with Slim's version and the source tree's
# commit (`git describe --always --dirty`, "unknown" outside a git checkout),
# only when the text changes, so that a build without a new commit
# recompiles nothing. Run at build time by the slim-version target.
execute_process(
  COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "#define SLIM_VERSION \"${VERSION}\"\n#define SLIM_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE "${OUT}" "${text}")
endif()
