#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need on a fresh machine. Called by .ci/run;
# safe to run again (it installs only what is missing) and a no-op when the list below is empty.
# Needs root (or sudo) only when something is actually missing.
set -euo pipefail

# Debian packages the test suites need.
#  - Mesa's software renderer, so that the `webgpu` package (Dawn) finds a real, if slow, adapter on a
#    machine without a GPU (DESIGN §6; tests run with EGL_PLATFORM=surfaceless and Dawn's
#    `backend=opengles`): libegl1 libegl-mesa0 libgles2 mesa-vulkan-drivers.
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

if ((${#PACKAGES[@]} == 0)); then
  echo "setup-system: no Debian packages needed"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-system: already installed: ${PACKAGES[*]}"
  exit 0
fi

echo "setup-system: installing ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo env DEBIAN_FRONTEND=noninteractive)
  else
    echo "setup-system: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update && "${SUDO[@]}" apt-get install -y "${missing[@]}"
