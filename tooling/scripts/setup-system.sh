#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmark need on a fresh machine. The
# README's two commands start with it, and CI runs the README's test command. Safe to run again: it
# installs only what is missing or too old, and needs root (or password-less sudo) only then. Without
# either it installs nothing, names what is missing and which tests need it, and exits 1: tests that
# need these packages are never skipped silently.
set -euo pipefail

# Debian packages the test suites need.
#  - Mesa's software renderers, so that the `webgpu` package (Dawn) finds real, if slow, adapters on a
#    machine without a GPU (docs/architecture.md, "WebGPU is tested on three real adapters"): llvmpipe through
#    EGL/OpenGL ES (EGL_PLATFORM=surfaceless, Dawn's `backend=opengles`, compatibility feature level):
#    libegl1 libegl-mesa0 libgles2; and lavapipe through Vulkan (Dawn's `backend=vulkan`, core feature
#    level, with the `subgroups`, `shader-f16` and `timestamp-query` features the optional kernel
#    variants use): mesa-vulkan-drivers, at least Mesa 24 (Dawn rejects older lavapipe), which Debian 12
#    has in bookworm-backports.
#  - Debian's Chromium for the browser tests (headless, SwiftShader's WebGPU adapter), driven by
#    playwright-core with executablePath /usr/bin/chromium (Playwright's own browser download cannot
#    run here).
PACKAGES=(
  libegl1
  libegl-mesa0
  libgles2
  mesa-vulkan-drivers
  chromium
)
# Lowest Mesa major version whose lavapipe Dawn accepts.
MESA_MIN_MAJOR=24
# What needs them, for the message when they cannot be installed.
NEEDED_BY="the WebGPU backend's Node tests and bench rows (Mesa: llvmpipe and lavapipe adapters) and the
  browser tests of @reformer/backend-webgpu and apps/bench (chromium)"

export DEBIAN_FRONTEND=noninteractive

installed() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'install ok installed'
}
installed_major() {
  dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '/install ok installed/ { split($4, v, "[.:~-]"); print v[1]; exit }' || true
}

# 1. What is missing.
codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
mesa_major="$(installed_major mesa-vulkan-drivers)"
mesa_backports=false
if [[ -z "$mesa_major" || "$mesa_major" -lt $MESA_MIN_MAJOR ]] && [[ "$codename" == "bookworm" ]]; then
  mesa_backports=true
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [[ "$mesa_backports" == false && ${#missing[@]} -eq 0 ]]; then
  echo "setup-system: already installed: ${PACKAGES[*]} (Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
  exit 0
fi

# 2. Who can install it.
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
  else
    want=("${missing[@]}")
    [[ "$mesa_backports" == true ]] && want+=("Mesa >= $MESA_MIN_MAJOR (mesa-vulkan-drivers libegl-mesa0 libgl1-mesa-dri from bookworm-backports; installed: ${mesa_major:-none})")
    {
      echo "setup-system: cannot install Debian packages: not root, and no password-less sudo."
      echo "  missing: ${want[*]}"
      echo "  needed by: $NEEDED_BY."
      echo "  Those tests fail without them (they are not skipped). Run this script as root, or install the"
      echo "  packages yourself (see tooling/scripts/setup-system.sh for the exact apt-get commands), then run again."
    } >&2
    exit 1
  fi
fi
as_root() {
  "${SUDO[@]}" "$@"
}

# 3. Install. Mesa first: on Debian 12 the release's Mesa (22.3) is too old for Dawn's Vulkan backend;
# take Mesa (all of it, so that its libraries stay one version) from bookworm-backports.
if [[ "$mesa_backports" == true ]]; then
  echo "setup-system: Mesa ${mesa_major:-missing} < $MESA_MIN_MAJOR: installing Mesa from bookworm-backports"
  echo "deb http://deb.debian.org/debian bookworm-backports main" | as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  as_root apt-get update
  as_root apt-get install -y -t bookworm-backports mesa-vulkan-drivers libegl-mesa0 libgl1-mesa-dri
  missing=()
  for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
  done
fi
if ((${#missing[@]} > 0)); then
  echo "setup-system: installing ${missing[*]}"
  as_root apt-get update
  as_root apt-get install -y "${missing[@]}"
fi
echo "setup-system: installed: ${PACKAGES[*]} (Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
