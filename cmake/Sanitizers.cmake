# Sanitizer and fuzzing flags, applied to every target in the build.
#
# TAKEBACK_SANITIZE: ASan + UBSan for the unit tests (any compiler).
# TAKEBACK_FUZZ: libFuzzer (clang only). Every library is compiled with
#   -fsanitize=fuzzer-no-link so that libFuzzer sees its coverage; only the
#   fuzz targets themselves link -fsanitize=fuzzer (tests/fuzz).
if(TAKEBACK_SANITIZE AND TAKEBACK_FUZZ)
  message(FATAL_ERROR "TAKEBACK_SANITIZE and TAKEBACK_FUZZ are separate builds; pick one")
endif()

if(TAKEBACK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

if(TAKEBACK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TAKEBACK_FUZZ needs clang: configure with CC=clang CXX=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=all -g)
  add_link_options(-fsanitize=address,undefined)
  # The fuzz build registers its own ctest tests (regression replay, timed run)
  # even though the unit tests are off there.
  enable_testing()
endif()
