# Project-wide warning flags. Third-party headers are included as SYSTEM so
# that -Werror applies to our code only.
function(takeback_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Wunused -Wnull-dereference -Wdouble-promotion
    -Wimplicit-fallthrough)
  if(TAKEBACK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # GCC 12 reports bogus -Wrestrict inside libstdc++'s std::string at -O3
  # (GCC PR105329, e.g. `" " + str`); ASan checks real memcpy overlaps.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
endfunction()

# Adds a GoogleTest executable beside the code it tests.
function(takeback_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT TAKEBACK_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  takeback_warnings(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE TAKEBACK_TESTDATA_DIR="${TAKEBACK_TESTDATA_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()

# A golden or integration test: a GoogleTest executable that may run the real
# `takeback` binary (TAKEBACK_BIN, built first), read ../shared/testdata
# (TAKEBACK_TESTDATA_DIR) and the fetched models (TAKEBACK_MODEL_DIR), and use
# the helpers in tests/support. TIMEOUT is per test in seconds (default 60);
# LABELS defaults to "integration".
#   takeback_binary_test(NAME SOURCES a.cc LIBS lib... [TIMEOUT s] [LABELS l...] [DEFINITIONS X="y"...])
function(takeback_binary_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS;DEFINITIONS" ${ARGN})
  if(NOT TAKEBACK_BUILD_TESTS)
    return()
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS integration)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  takeback_warnings(${name})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    TAKEBACK_BIN="$<TARGET_FILE:takeback>"
    TAKEBACK_TESTDATA_DIR="${TAKEBACK_TESTDATA_DIR}"
    TAKEBACK_MODEL_DIR="${CMAKE_SOURCE_DIR}/models"
    ${ARG_DEFINITIONS})
  add_dependencies(${name} takeback)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()
