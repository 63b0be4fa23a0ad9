#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need on a fresh machine. Called by .ci/run;
# safe to run again (it installs only what is missing or too old).
# Needs root (or sudo) only when something is actually missing.
set -euo pipefail

# Debian packages the test suites need.
#  - Mesa's software renderers, so that the `webgpu` package (Dawn) finds real, if slow, adapters on a
#    machine without a GPU (DESIGN §6): llvmpipe through EGL/OpenGL ES (EGL_PLATFORM=surfaceless,
#    Dawn's `backend=opengles`, compatibility feature level): libegl1 libegl-mesa0 libgles2; and
#    lavapipe through Vulkan (Dawn's `backend=vulkan`, core feature level, with the `subgroups`,
#    `shader-f16` and `timestamp-query` features the optional kernel variants use):
#    mesa-vulkan-drivers, at least Mesa 24 (Dawn rejects older lavapipe), which Debian 12 has in
#    bookworm-backports.
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

SUDO=()
as_root() {
  if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo env DEBIAN_FRONTEND=noninteractive)
    else
      echo "setup-system: need root (or sudo) to run: $*" >&2
      exit 1
    fi
  fi
  "${SUDO[@]}" "$@"
}
export DEBIAN_FRONTEND=noninteractive

installed_major() {
  dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '/install ok installed/ { split($4, v, "[.:~-]"); print v[1]; exit }' || true
}

# Mesa: on Debian 12 the release's Mesa (22.3) is too old for Dawn's Vulkan backend; take Mesa (all of
# it, so that its libraries stay one version) from bookworm-backports.
mesa_major="$(installed_major mesa-vulkan-drivers)"
if [[ -z "$mesa_major" || "$mesa_major" -lt $MESA_MIN_MAJOR ]]; then
  codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
  if [[ "$codename" == "bookworm" ]]; then
    echo "setup-system: Mesa ${mesa_major:-missing} < $MESA_MIN_MAJOR: installing Mesa from bookworm-backports"
    echo "deb http://deb.debian.org/debian bookworm-backports main" | as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    as_root apt-get update
    as_root apt-get install -y -t bookworm-backports mesa-vulkan-drivers libegl-mesa0 libgl1-mesa-dri
  fi
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-system: already installed: ${PACKAGES[*]} (Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
  exit 0
fi

echo "setup-system: installing ${missing[*]}"
as_root apt-get update && as_root apt-get install -y "${missing[@]}"
