# shellcheck shell=bash
# The one list of Debian 12 packages Takeback needs, and the function that
# installs whichever of them are missing. Sourced by scripts/setup and
# scripts/test; not meant to be run on its own.

# Build, test, fuzz and lint dependencies.
TAKEBACK_BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config g++
  clang libclang-rt-14-dev clang-format clang-tidy
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg62-turbo-dev libturbojpeg0-dev libpng-dev libwebp-dev libgif-dev libheif-dev
  libssl-dev libsodium-dev nlohmann-json3-dev libfaiss-dev
  libzip-dev zlib1g-dev unzip  # zip evidence bundles (issue 7); unzip for the standard-tool check
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  libdlib-dev libdlib-data libopenblas0-pthread libblas-dev liblapack-dev  # faces (issue 5)
  libsqlite3-dev libcpp-httplib-dev libyaml-cpp-dev wrk bc curl  # service, its OpenAPI test and load bench (issue 4)
  libicu-dev  # Unicode normalisation for doxxing detection, src/text (issue 6)
  chromium  # headless check that report.html runs no injected script (issue 6 integration test)
)

# The README example: real photographs (BSD-3-Clause, The Go Authors) from the
# golang.org/x/image test data, in PNG, WebP and BMP, under
# /usr/share/gocode/src/golang.org/x/image/testdata; and cjpeg/jpegtran to
# make a JPEG and a rotated copy of one of them.
TAKEBACK_EXAMPLE_PACKAGES=(golang-golang-x-image-dev libjpeg-turbo-progs)
TAKEBACK_EXAMPLE_SOURCE_DIR=/usr/share/gocode/src/golang.org/x/image/testdata

# Prints the packages among "$@" that dpkg does not report as installed.
takeback_missing_packages() {
  local pkg
  for pkg in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

# Installs whichever of "$@" are missing, with apt-get, as root or through
# sudo. Does not touch apt at all when everything is present.
takeback_install_packages() {
  local missing
  mapfile -t missing < <(takeback_missing_packages "$@")
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps: all $# packages already installed"
    return 0
  fi
  echo "deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
  local -a sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "deps: not root and no sudo; install these as root: apt-get install ${missing[*]}" >&2
      return 1
    fi
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

takeback_install_build_deps() { takeback_install_packages "${TAKEBACK_BUILD_PACKAGES[@]}"; }
takeback_install_example_deps() { takeback_install_packages "${TAKEBACK_EXAMPLE_PACKAGES[@]}"; }

# Prints a section header.
takeback_section() {
  printf '\n==== %s ====\n' "$*"
}

# CMake arguments shared by every build: Ninja for a new build tree, ccache
# when installed. Appends to the array named by $1; $2 is the build dir.
takeback_cmake_common_args() {
  local -n out=$1
  if [[ ! -f "$2/CMakeCache.txt" ]]; then
    out+=(-G Ninja)
  fi
  if command -v ccache >/dev/null 2>&1; then
    out+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
}

# Parallelism: 2 by default (CI has 2 cores); override with TAKEBACK_JOBS.
TAKEBACK_JOBS=${TAKEBACK_JOBS:-2}
