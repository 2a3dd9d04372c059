# Use ccache for every compile when it is installed; CI keeps its cache between runs. Paths are
# rewritten relative to the source tree (CCACHE_BASEDIR), so a fresh clone in another folder, as
# CI makes, hits the cache a previous checkout filled.
find_program(PLUMB_CCACHE ccache)
if(PLUMB_CCACHE)
  set(PLUMB_CCACHE_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}
                            ${PLUMB_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${PLUMB_CCACHE_LAUNCHER})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PLUMB_CCACHE_LAUNCHER})
  message(STATUS "plumb: compiling through ${PLUMB_CCACHE} (base dir ${CMAKE_SOURCE_DIR})")
endif()
