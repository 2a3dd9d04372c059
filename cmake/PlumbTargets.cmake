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

# plumb_forbid_links(TARGETS t1 ... FORBIDDEN lib1 ... [WHY "reason"])
#   Layering rules checked by the build: cores know nothing of gRPC or the generated protos, and
#   the coordinator's libraries link no LibTorch (docs/architecture.md). At the end of
#   configuration, walks each target's LINK_LIBRARIES and INTERFACE_LINK_LIBRARIES transitively
#   and fails the configure step, naming the chain and WHY, when one of FORBIDDEN (target names,
#   or `gRPC::*`-style prefixes ending in `*`) is reachable.
function(plumb_forbid_links)
  cmake_parse_arguments(ARG "" "WHY" "TARGETS;FORBIDDEN" ${ARGN})
  if(NOT ARG_WHY)
    set(ARG_WHY "no gRPC or generated protos in a core; convert at the service's edge instead")
  endif()
  foreach(target IN LISTS ARG_TARGETS)
    # A deferred call reads its arguments' variables when it runs: bake the values in now.
    cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]] CALL \
                   _plumb_check_links [[${target}]] [[${ARG_FORBIDDEN}]] [[${ARG_WHY}]])")
  endforeach()
endfunction()

# The library a link item names: generator expressions such as $<LINK_ONLY:x> unwrapped; "" for
# ones that name no library ($<...:> with an empty value, link flags).
function(_plumb_link_item_name item out)
  string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" item "${item}")
  string(REGEX REPLACE "^::@\\([^)]*\\)::" "" item "${item}")  # a target from another directory
  if(item MATCHES "^\\$<|^-")
    set(item "")
  endif()
  set(${out} "${item}" PARENT_SCOPE)
endfunction()

function(_plumb_check_links target forbidden why)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "plumb_forbid_links: no target ${target}")
  endif()
  set(queue ${target})
  set(seen ${target})
  string(MAKE_C_IDENTIFIER "${target}" key)
  set(via_${key} "${target}")
  while(queue)
    list(POP_FRONT queue current)
    string(MAKE_C_IDENTIFIER "${current}" current_key)
    set(deps)
    get_target_property(type ${current} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(link ${current} LINK_LIBRARIES)
      if(link)
        list(APPEND deps ${link})
      endif()
    endif()
    get_target_property(interface ${current} INTERFACE_LINK_LIBRARIES)
    if(interface)
      list(APPEND deps ${interface})
    endif()
    foreach(raw IN LISTS deps)
      _plumb_link_item_name("${raw}" dep)
      if(dep STREQUAL "" OR dep IN_LIST seen)
        continue()
      endif()
      list(APPEND seen ${dep})
      string(MAKE_C_IDENTIFIER "${dep}" key)
      set(via_${key} "${via_${current_key}} -> ${dep}")
      foreach(bad IN LISTS forbidden)
        set(hit FALSE)
        if(bad MATCHES "\\*$")
          string(REGEX REPLACE "\\*$" "" prefix "${bad}")
          string(FIND "${dep}" "${prefix}" at)
          if(at EQUAL 0)
            set(hit TRUE)
          endif()
        elseif(dep STREQUAL bad)
          set(hit TRUE)
        endif()
        if(hit)
          message(FATAL_ERROR
                  "${target} must not link ${dep} (${why}). Link chain: ${via_${key}}")
        endif()
      endforeach()
      if(TARGET ${dep})
        list(APPEND queue ${dep})
      endif()
    endforeach()
  endwhile()
endfunction()
