#!/usr/bin/env bash
# Build the real components of the e2e test cluster from Go module sources.
#
# Why: this machine reaches package registries only (no release pages, no
# container registries, no Docker), so kube-apiserver, etcd, kwok, Argo and
# helm are compiled from the Go module proxy, once, into a cache outside the
# repo keyed by their versions. A warm run only checks that the binaries exist
# and never invokes go.
#
# Usage:
#   tools/build.sh                 build what is missing, then print the bin dir
#   tools/build.sh --print-bin-dir print the bin dir (built or not) and exit
#   tools/build.sh --print-share-dir  where the CRDs/kwok Stages from the same
#                                  modules are copied (bin dir's sibling share/)
#   tools/build.sh --check         exit 0 if every binary is present, 1 if not
#   tools/build.sh --regen-go-mod  rewrite tools/go.mod + go.sum from the pins
#
# Env: ORCH_TOOLS_CACHE (default ~/.cache/orch-tools).
set -euo pipefail

# --- pins (see tools/README.md for why each) ---------------------------------
KUBE_VERSION=v1.36.3          # k8s.io/kubernetes; staging modules at v0.36.3
ETCD_VERSION=v3.6.16          # go.etcd.io/etcd/{server,etcdctl}/v3
KWOK_VERSION=v0.8.0           # sigs.k8s.io/kwok
ARGO_MODULE=github.com/argoproj/argo-workflows/v4
ARGO_VERSION=v4.0.5           # newest Argo the module proxy serves; builds as-is
HELM_VERSION=v3.22.0          # helm.sh/helm/v3
ARGO_V3_VERSION=v3.6.18       # second argo CLI: lint at the contract's lower bound (v3.6)

# Bump when the build recipe (flags, copied manifests) changes, so caches built
# by an older recipe are not reused.
RECIPE=1

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KEY="kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_argo-${ARGO_VERSION}"
KEY+="_argo3-${ARGO_V3_VERSION}_helm-${HELM_VERSION}_r${RECIPE}"
CACHE_ROOT=${ORCH_TOOLS_CACHE:-$HOME/.cache/orch-tools}
BIN_DIR="$CACHE_ROOT/$KEY/bin"
SHARE_DIR="$CACHE_ROOT/$KEY/share"   # manifests taken from the same modules
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd etcdctl kwok
  workflow-controller argo argo-v3.6 helm yamlread nodecompress)

log() { printf '[build.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

yamlread_stamp() { # changes whenever yamlread's source or the pinned modules do
  printf '%s/.yamlread-%s' "$BIN_DIR" \
    "$(cat "$TOOLS_DIR/yamlread/main.go" "$TOOLS_DIR/go.sum" | sha256sum | cut -c1-16)"
}

nodecompress_stamp() { # changes whenever nodecompress's source or its pins do
  printf '%s/.nodecompress-%s' "$BIN_DIR" \
    "$(cat "$TOOLS_DIR/nodecompress/main.go" "$TOOLS_DIR/nodecompress/go.sum" \
      | sha256sum | cut -c1-16)"
}

all_present() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || return 1; done
  [[ -f "$(yamlread_stamp)" && -f "$(nodecompress_stamp)" && -f "$SHARE_DIR/versions.env" ]]
}

module_dir() { # module@version -> its directory in the module cache
  (cd / && go mod download -json "$1") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# The CRDs and kwok Stages the harness installs come from the very modules the
# binaries were built from; they are copied next to bin/ so a warm start reads
# them without go (and survives `go clean -modcache`).
collect_manifests() {
  local argo kwok tmp="$SHARE_DIR.tmp"
  argo=$(module_dir "$ARGO_MODULE@$ARGO_VERSION")
  kwok=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")
  rm -rf "$tmp" && mkdir -p "$tmp/argo-crds/minimal" "$tmp/argo-crds/full" "$tmp/kwok"
  cp "$argo"/manifests/base/crds/minimal/argoproj.io_*.yaml "$tmp/argo-crds/minimal/"
  cp "$argo"/manifests/base/crds/full/argoproj.io_*.yaml "$tmp/argo-crds/full/"
  cp "$kwok/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" "$tmp/kwok/"
  cp "$kwok/kustomize/stage/node/fast/node-initialize.yaml" "$tmp/kwok/"
  cp "$kwok/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" "$tmp/kwok/"
  cp "$kwok/kustomize/stage/pod/fast/pod-ready.yaml" "$tmp/kwok/"
  cp "$kwok/kustomize/stage/pod/fast/pod-delete.yaml" "$tmp/kwok/"
  chmod -R u+w "$tmp"
  cat > "$tmp/versions.env" <<ENV
KUBE_VERSION=$KUBE_VERSION
ETCD_VERSION=$ETCD_VERSION
KWOK_VERSION=$KWOK_VERSION
ARGO_MODULE=$ARGO_MODULE
ARGO_VERSION=$ARGO_VERSION
ARGO_V3_VERSION=$ARGO_V3_VERSION
HELM_VERSION=$HELM_VERSION
ENV
  rm -rf "$SHARE_DIR" && mv "$tmp" "$SHARE_DIR"
}

# The wrapper module (tools/go.mod) exists because k8s.io/kubernetes replaces
# its ~33 staging modules with ./staging/... paths, which are ignored when it is
# a dependency: the wrapper pins each one to the published v0.X.Y. The list is
# read from the downloaded go.mod, never typed by hand. etcd lives in its own
# generated wrapper (see build_etcd) so neither dependency graph drifts.
regen_go_mod() {
  local staging_version="v0.${KUBE_VERSION#v1.}"
  local kmod
  kmod=$(cd / && go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f "$kmod" ]] || { log "cannot download k8s.io/kubernetes@${KUBE_VERSION} go.mod"; exit 1; }
  (
    cd "$TOOLS_DIR"
    rm -f go.mod go.sum
    go mod init github.com/proompteng/orch/tools >/dev/null 2>&1
    local go_line
    go_line=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$kmod")
    go mod edit -go="$go_line" -require="k8s.io/kubernetes@${KUBE_VERSION}"
    local mods
    mods=$(sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._/-]*\) => ./staging/.*#\1#p' "$kmod")
    local n=0 m
    for m in $mods; do
      go mod edit -replace="$m=$m@$staging_version"
      n=$((n + 1))
    done
    log "pinned $n staging modules to $staging_version"
    go mod edit \
      -tool=k8s.io/kubernetes/cmd/kube-apiserver \
      -tool=k8s.io/kubernetes/cmd/kube-controller-manager \
      -tool=k8s.io/kubernetes/cmd/kube-scheduler \
      -tool=k8s.io/kubernetes/cmd/kubectl
    go mod tidy
  )
}

kube_ldflags() {
  local minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  local pkg f=""
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    f+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "-s -w$f"
}

build_kube() {
  [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/kube-controller-manager" \
    && -x "$BIN_DIR/kube-scheduler" && -x "$BIN_DIR/kubectl" ]] && return 0
  if [[ "$(cd "$TOOLS_DIR" && go list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)" \
    != "$KUBE_VERSION" ]]; then
    regen_go_mod
  fi
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBE_VERSION"
  (cd "$TOOLS_DIR" && CGO_ENABLED=0 go build -trimpath -ldflags "$(kube_ldflags)" \
    -o "$BIN_DIR/" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl)
}

# yamlread (tools/yamlread, ours): kubectl's and argo's YAML reader as a filter,
# for the tests that read orch's output the way Go does. Its source is in the
# repo, so the binary is rebuilt whenever the source changes (hash in the name
# of a stamp file beside it).
build_yamlread() {
  local stamp
  stamp=$(yamlread_stamp)
  [[ -x "$BIN_DIR/yamlread" && -f "$stamp" ]] && return 0
  log "building yamlread"
  (cd "$TOOLS_DIR" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -o "$BIN_DIR/yamlread" ./yamlread)
  rm -f "$BIN_DIR"/.yamlread-* && touch "$stamp"
}

# nodecompress (tools/nodecompress, ours, its own small module): Argo v4.1's
# node status compression (gzip, zstd, brotli) as a filter, for the tests that
# decode what a v4.1 cluster writes. Rebuilt whenever its source changes.
build_nodecompress() {
  local stamp
  stamp=$(nodecompress_stamp)
  [[ -x "$BIN_DIR/nodecompress" && -f "$stamp" ]] && return 0
  log "building nodecompress"
  (cd "$TOOLS_DIR/nodecompress" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -o "$BIN_DIR/nodecompress" .)
  rm -f "$BIN_DIR"/.nodecompress-* && touch "$stamp"
}

# etcd's server and etcdctl modules replace their sibling modules with ../api
# etc.; as dependencies of a wrapper those replaces are ignored and the
# published siblings they require are used, so the wrapper needs no replaces.
build_etcd() {
  [[ -x "$BIN_DIR/etcd" && -x "$BIN_DIR/etcdctl" ]] && return 0
  log "building etcd, etcdctl $ETCD_VERSION"
  local w="$CACHE_ROOT/$KEY/wrap-etcd"
  rm -rf "$w" && mkdir -p "$w"
  (
    cd "$w"
    go mod init orch-tools/etcd >/dev/null 2>&1
    go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
      -require="go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" \
      -tool=go.etcd.io/etcd/server/v3 -tool=go.etcd.io/etcd/etcdctl/v3
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcdctl" go.etcd.io/etcd/etcdctl/v3
  )
  rm -rf "$w"
}

# Modules without replace directives: go install pkg@version builds each with
# exactly its own dependency graph (installed to a scratch GOBIN, then renamed).
go_install() { # name pkg version ldflags
  [[ -x "$BIN_DIR/$1" ]] && return 0
  log "building $1 ($2@$3)"
  local gobin="$CACHE_ROOT/$KEY/gobin-$1"
  rm -rf "$gobin"
  (cd / && GOBIN="$gobin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w $4" "$2@$3")
  mv "$gobin/$(basename "$2")" "$BIN_DIR/$1"
  rm -rf "$gobin"
}

# The argo CLIs are built inside a writable copy of their module, with the
# module's own go.mod and go.sum, for two reasons:
# - since v3.7 the CLI embeds the UI bundle (ui/embed.go: //go:embed dist/app),
#   which yarn builds and the module zip lacks, and go refuses -overlay for
#   files in the module cache: the copy gets a one-page placeholder UI
#   (`argo lint --offline` never serves the UI);
# - `go install .../v3/cmd/argo@v3.6.18` fails here: go install reads the
#   module's version list for deprecations, and the proxy answers 403 for
#   argo-workflows/v3's list (single versions download fine).
build_argo_cli() { # name module version
  [[ -x "$BIN_DIR/$1" ]] && return 0
  log "building $1 CLI ($2@$3)"
  local src mod
  mod=$(module_dir "$2@$3")
  src="$CACHE_ROOT/$KEY/src-$1"
  rm -rf "$src" && cp -r "$mod" "$src" && chmod -R u+w "$src"
  if [[ -f "$src/ui/embed.go" ]]; then
    mkdir -p "$src/ui/dist/app"
    echo '<!doctype html><title>UI not built (orch tools/build.sh)</title>' \
      > "$src/ui/dist/app/index.html"
  fi
  local ld="-X $2.version=$3 -X $2.gitTreeState=clean -X $2.buildDate=1970-01-01T00:00:00Z"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ld" -o "$BIN_DIR/$1" ./cmd/argo)
  rm -rf "$src"
}

build_all() {
  mkdir -p "$BIN_DIR"
  local t0=$SECONDS
  build_etcd
  build_kube
  go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
  local av="-X $ARGO_MODULE.version=$ARGO_VERSION -X $ARGO_MODULE.gitTreeState=clean"
  av+=" -X $ARGO_MODULE.buildDate=1970-01-01T00:00:00Z"
  go_install workflow-controller "$ARGO_MODULE/cmd/workflow-controller" "$ARGO_VERSION" "$av"
  build_argo_cli argo "$ARGO_MODULE" "$ARGO_VERSION"
  # helm's Makefile derives its default Kubernetes version (used by `helm
  # template` for .Capabilities and kubeVersion checks) from the client-go it
  # builds with: major = 0 + 1, minor = client-go's minor. Without these it
  # claims v1.20.0.
  local hdir cgo
  hdir=$(module_dir "helm.sh/helm/v3@$HELM_VERSION")
  cgo=$(awk '$1 == "k8s.io/client-go" { print $2 }' "$hdir/go.mod")
  cgo=${cgo#v0.}
  local hv="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    hv+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=${cgo%%.*}"
  done
  go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$hv"
  build_argo_cli argo-v3.6 github.com/argoproj/argo-workflows/v3 "$ARGO_V3_VERSION"
  build_yamlread
  build_nodecompress
  [[ -f "$SHARE_DIR/versions.env" ]] || collect_manifests
  log "all tools in $BIN_DIR (built in $((SECONDS - t0)) s)"
}

case "${1:-}" in
  --print-bin-dir) echo "$BIN_DIR" ;;
  --print-share-dir) echo "$SHARE_DIR" ;;
  --check) all_present ;;
  --regen-go-mod) regen_go_mod ;;
  "")
    if ! all_present; then build_all; fi
    all_present || { log "some binaries are missing in $BIN_DIR"; exit 1; }
    echo "$BIN_DIR"
    ;;
  *) echo "usage: $0 [--print-bin-dir|--check|--regen-go-mod]" >&2; exit 2 ;;
esac
