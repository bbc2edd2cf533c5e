# Shared by assemble and assemble-dependencies (sourced, not run): the build
# environment the Node.js S2I builders of OpenShift read, and installing node_modules.

STAMP=node_modules/.slipway-s2i-stamp
# The lockfile as npm left it: npm install rewrites one that is out of sync.
SAVED_LOCKFILE=node_modules/.slipway-s2i-lockfile

# The build's trusted CA bundle (Slipway mounts it over the system bundle) is the one
# npm and node must use for HTTPS: Node keeps its own CA list otherwise.
npm_environment() {
  if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
    export npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
  fi
  if [ -n "${NPM_MIRROR:-}" ]; then
    echo "---> Using npm registry mirror $NPM_MIRROR"
    export npm_config_registry="$NPM_MIRROR"
  fi
  # DEV_MODE=true is the development image of OpenShift's Node.js builders: dev
  # dependencies kept, no production build, NODE_ENV=development.
  if [ "${DEV_MODE:-false}" = true ]; then
    export NODE_ENV=development
  fi
  export NODE_ENV="${NODE_ENV:-production}"

  if [ ! -f package.json ]; then
    echo "error: no package.json in the application source; the nodejs builder needs one" >&2
    exit 1
  fi
  read_scripts
  lockfile=""
  [ -f package-lock.json ] && lockfile=package-lock.json
  [ -f npm-shrinkwrap.json ] && lockfile=npm-shrinkwrap.json

  # A production image whose package.json has a build script gets every dependency
  # for the build, then loses the dev ones (npm prune); without a build script the dev
  # dependencies are never installed. Any other NODE_ENV keeps them.
  if [ "$NODE_ENV" = production ] && [ "${DEV_MODE:-false}" != true ] && has_script build; then
    deps=all-then-prune
  elif [ "$NODE_ENV" = production ]; then
    deps=production
  else
    deps=all
  fi
  # What node_modules depends on; the stamp inside node_modules records it.
  want_key="$(cat package.json ${lockfile:+"$lockfile"} | sha256sum | cut -d' ' -f1) deps=$deps node=$(node --version) registry=${NPM_MIRROR:-default}"
}

# package.json's script names, read once (each node start costs time): " build start ".
read_scripts() {
  scripts=" $(node -e 'console.log(Object.keys(require("./package.json").scripts ?? {}).join(" "))') "
}

has_script() {
  [[ "$scripts" == *" $1 "* ]]
}

# The install lifecycle scripts of the application's own package.json, which npm runs
# after installing its dependencies.
has_install_scripts() {
  local s
  for s in preinstall install postinstall prepublish preprepare prepare postprepare; do
    has_script "$s" && return 0
  done
  return 1
}

installed_key() {
  [ -f "$STAMP" ] && sed -n 's/^key //p' "$STAMP"
}

write_stamp() {
  mkdir -p node_modules
  printf 'key %s\nbuild %s/%s\ninstalled %s\n' "$1" "${OPENSHIFT_BUILD_NAMESPACE:-}" \
    "${OPENSHIFT_BUILD_NAME:-local}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$STAMP"
}

# install_dependencies [reuse] [--ignore-scripts]: npm ci when the lockfile is in sync
# with package.json, npm install otherwise (as OpenShift's Node.js builders, which always
# run npm install) and when node_modules is to be reused.
install_dependencies() {
  local reuse="$1" extra=() log status
  shift
  extra=("$@")
  if [ "$deps" = production ]; then extra+=(--omit=dev); else extra+=(--include=dev); fi
  if [ -n "$lockfile" ] && [ "$reuse" != reuse ]; then
    echo "---> Installing dependencies with npm ci (NODE_ENV=$NODE_ENV, $deps) ..."
    log=$(mktemp)
    set +e
    npm ci --no-progress "${extra[@]}" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ] && grep -q 'can only install packages when your package.json' "$log"; then
      rm -f "$log"
      echo "---> $lockfile is out of sync with package.json: installing with npm install instead"
      npm install --no-progress "${extra[@]}"
    elif [ "$status" -ne 0 ]; then
      rm -f "$log"
      return "$status"
    fi
    rm -f "$log"
  else
    echo "---> Installing dependencies with npm install (NODE_ENV=$NODE_ENV, $deps) ..."
    npm install --no-progress "${extra[@]}"
  fi
  mkdir -p node_modules
  if [ -f package-lock.json ]; then cp package-lock.json "$SAVED_LOCKFILE"; else rm -f "$SAVED_LOCKFILE"; fi
  # OpenShift runs images under arbitrary UIDs in group 0.
  chmod -R g=u node_modules 2>/dev/null || true
  write_stamp "$want_key"
}

# When node_modules was installed elsewhere (the dependency layer, a previous build)
# from an out-of-sync lockfile, the application gets the lockfile npm wrote for it, as
# after its own npm install: npm prune and npm run read it.
restore_lockfile() {
  if [ -f "$SAVED_LOCKFILE" ] && ! cmp -s "$SAVED_LOCKFILE" package-lock.json; then
    echo "---> Using the package-lock.json npm install wrote for these dependencies"
    cp "$SAVED_LOCKFILE" package-lock.json
  fi
}
