# Helpers that give every Plumb target the same warnings, include layout and test registration.
#
#   plumb_library(NAME SRCS a.cc ... [DEPS t1 ...] [PRIVATE_DEPS t2 ...])
#       A shared library `NAME`; include paths are rooted at the repository (`#include
#       "common/status/status_macros.h"`). Tests and binaries link these instead of recompiling.
#   plumb_binary(NAME SRCS ... [DEPS ...])           An executable in build/bin.
#   plumb_test(NAME SRCS ... [DEPS ...] [LABELS ...] [TIMEOUT s] [ENV k=v ...])
#       A GoogleTest executable registered with CTest (one CTest entry per binary).

# Designated initializers ({.target = ...}) leave other fields at their defaults on purpose.
set(PLUMB_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wno-unused-parameter -Wno-missing-field-initializers)
if(PLUMB_WERROR)
  list(APPEND PLUMB_WARNING_FLAGS -Werror)
endif()

function(_plumb_common target)
  target_compile_options(${target} PRIVATE ${PLUMB_WARNING_FLAGS})
  target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
endfunction()

function(plumb_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} SHARED ${ARG_SRCS})
  _plumb_common(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

function(plumb_binary name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  _plumb_common(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

function(plumb_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS;ENV" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  _plumb_common(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set(env "PLUMB_BIN_DIR=${CMAKE_BINARY_DIR}/bin" "PLUMB_SOURCE_DIR=${CMAKE_SOURCE_DIR}" ${ARG_ENV})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}"
                                          ENVIRONMENT "${env}")
endfunction()
