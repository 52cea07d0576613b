#!/usr/bin/env bash
# The container image built from scratch here and started (issue 13): scripts/build-image.sh
# with the suite's controller binary into a temporary directory, then checks on what it made:
#   - `vmrelease-controller --version` ran in the image (podman, or a chroot of its root
#     filesystem when this machine cannot run containers) and printed the binary's version;
#   - the OCI config: user 65532:65532 (the Deployments' runAsUser/runAsGroup, checked), the
#     entrypoint;
#   - a minimal runtime: no shell, no package manager, no compiler in any layer;
#   - deploy/image/Dockerfile installs exactly deploy/image/packages.txt, runs as 65532:65532;
#     .dockerignore leaves out every /path .gitignore does.
# Needs root and mmdebstrap, umoci (scripts/setup.sh --image; podman optional); exits 77 (CTest: skipped)
# when they are missing. The Debian base is cached (scripts/build-image.sh, VMRELEASE_IMAGE_CACHE).
set -euo pipefail

SRC=${VMRELEASE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
BIN=${VMRELEASE_BIN_DIR:-$SRC/build/bin}
for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing (scripts/setup.sh --image)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: scripts/build-image.sh needs root"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
problems=()

start=$(date +%s)
"$SRC/scripts/build-image.sh" --binary "$BIN/vmrelease-controller" --out "$tmp/image" --tag test \
  | tee "$tmp/build.log"
echo "image_test: scripts/build-image.sh took $(( $(date +%s) - start ))s"
grep -q '^image: ok' "$tmp/build.log" || problems+=("build-image.sh did not end with 'image: ok'")
want=$("$BIN/vmrelease-controller" --version)
grep -qF -- "--version: $want" "$tmp/build.log" \
  || problems+=("the image's --version is not the binary's ($want)")

# The OCI config and the layers' contents.
oci=$tmp/image/oci
python3 - "$oci" test >"$tmp/config.txt" <<'EOF' || problems+=("cannot read the OCI layout")
import json, sys
oci, tag = sys.argv[1], sys.argv[2]
def blob(d):
    algo, h = d["digest"].split(":")
    return f"{oci}/blobs/{algo}/{h}"
index = json.load(open(f"{oci}/index.json"))
m = [d for d in index["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
manifest = json.load(open(blob(m[0])))
config = json.load(open(blob(manifest["config"])))["config"]
print("user", config.get("User", ""))
print("entrypoint", " ".join(config.get("Entrypoint") or []))
for layer in manifest["layers"]:
    print("layer", blob(layer))
EOF
grep -qx 'user 65532:65532' "$tmp/config.txt" || problems+=("image user is not 65532:65532: $(grep ^user "$tmp/config.txt")")
grep -qx 'entrypoint /usr/local/bin/vmrelease-controller' "$tmp/config.txt" \
  || problems+=("image entrypoint: $(grep ^entrypoint "$tmp/config.txt")")
: >"$tmp/files.txt"
while read -r _ layer; do tar -tzf "$layer" >>"$tmp/files.txt"; done < <(grep ^layer "$tmp/config.txt")
grep -qx './usr/local/bin/vmrelease-controller' "$tmp/files.txt" || problems+=("no controller in the layers")
for f in bin/sh bin/bash usr/bin/bash usr/bin/dash usr/bin/apt usr/bin/apt-get usr/bin/dpkg usr/bin/gcc usr/bin/cc; do
  if grep -qx "\./$f" "$tmp/files.txt"; then problems+=("the runtime holds /$f"); fi
done
echo "image_test: $(sort -u "$tmp/files.txt" | wc -l) paths in $(grep -c ^layer "$tmp/config.txt") layers, $(du -sh "$oci" | cut -f1)"

# The Dockerfile describes the same runtime.
dockerfile=$SRC/deploy/image/Dockerfile
listed=$(grep -v '^\s*#' "$SRC/deploy/image/packages.txt" | grep -v '^\s*$' | sort | tr '\n' ' ')
runtime=$(awk '/^FROM .* AS runtime/{on=1} on' "$dockerfile" \
  | sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' \
  | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vxE 'apt-get|update|install|rm|DEBIAN_FRONTEND=noninteractive' \
  | sort | tr '\n' ' ')
[ "$runtime" = "$listed" ] || problems+=("Dockerfile runtime packages ($runtime) != packages.txt ($listed)")
grep -qx 'USER 65532:65532' "$dockerfile" || problems+=("the Dockerfile does not run as 65532:65532")
# The user the Deployments (kustomize and Helm) run the image as.
for d in "$SRC/deploy/kustomize/base/deployment.yaml" "$SRC/helm/vmrelease/templates/deployment.yaml"; do
  grep -qE '^\s+runAsUser: 65532$' "$d" && grep -qE '^\s+runAsGroup: 65532$' "$d" \
    || problems+=("$d does not run as 65532:65532, the image's user")
done
[ "$(grep -c '^FROM ' "$dockerfile")" -ge 2 ] || problems+=("the Dockerfile is not multi-stage")
# Its build context (the repository root) leaves out what the repository leaves out: build
# trees and tools would be gigabytes sent with every `docker build`.
while read -r pattern; do
  grep -qxF -- "$pattern" "$SRC/.dockerignore" 2>/dev/null ||
    problems+=(".dockerignore does not leave out $pattern (.gitignore does)")
done < <(grep -E '^/' "$SRC/.gitignore")

if [ ${#problems[@]} -gt 0 ]; then
  printf 'image_test: FAILED\n'; printf '  - %s\n' "${problems[@]}"
  exit 1
fi
echo "image_test: ok"
