# Use ccache for every compile when it is installed; CI keeps its cache between runs.
find_program(PLUMB_CCACHE ccache)
if(PLUMB_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${PLUMB_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PLUMB_CCACHE})
  message(STATUS "plumb: compiling through ${PLUMB_CCACHE}")
endif()
