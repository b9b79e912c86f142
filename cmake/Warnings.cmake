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
