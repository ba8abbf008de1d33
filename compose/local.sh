#!/usr/bin/env bash
# Local OpenSearch with the k-NN plugin, without Docker.
#
#   compose/local.sh up      fetch (once), install (once), start, wait; prints the URL on stdout
#   compose/local.sh down    stop the node this script started (by its pid file)
#   compose/local.sh status  print the URL, version and plugins of the running node (exit 1 if none)
#
# Everything but the URL goes to stderr, so `url=$(compose/local.sh up)` works.
#
# Environment:
#   KNNBRIDGE_OPENSEARCH_VERSION  2.19.1 (default) or 3.5.0 — see versions.env
#   KNNBRIDGE_OPENSEARCH_PORT     HTTP port; default 9200 when free, else any free port
#   KNNBRIDGE_OPENSEARCH_HOME     where installation, data and logs live
#   KNNBRIDGE_OPENSEARCH_HEAP     JVM heap, default 1g
#   KNNBRIDGE_OPENSEARCH_WRITE_QUEUE  thread_pool.write.queue_size (default: OpenSearch's own)
#   KNNBRIDGE_OPENSEARCH_WAIT     seconds to wait for the node, default 240
#
# Why it is built this way:
# - Maven Central carries the OpenSearch integ-test zip (server + transport
#   module only) and the k-NN plugin zip, but for 2.19.x/3.x it has no zips
#   of the modules the full distribution carries (lang-painless, which k-NN
#   extends; analysis-common; mapper-extras; reindex), only their jars. We
#   assemble those modules from the jars, their runtime dependencies and a
#   descriptor we write.
# - OpenSearch refuses to run as root. As root (CI, sessions) the node runs
#   as a dedicated system user that owns the installation, data and logs,
#   kept outside the checkout so the user can reach them whatever the
#   checkout's permissions are.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

log() { printf '[opensearch] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "$(id -u)" = 0 ]; then
  OS_USER=knnbridge-os
  BASE=${KNNBRIDGE_OPENSEARCH_HOME:-/var/lib/knnbridge-opensearch}
else
  OS_USER=$(id -un)
  BASE=${KNNBRIDGE_OPENSEARCH_HOME:-${KNNBRIDGE_CACHE_DIR:-$here/../.cache}/opensearch}
fi
ARTIFACTS="$BASE/artifacts/$OPENSEARCH_VERSION"
INSTALL="$BASE/opensearch-$OPENSEARCH_VERSION"
RUNDIR="$BASE/run-$OPENSEARCH_VERSION"
PIDFILE="$RUNDIR/opensearch.pid"
PORTFILE="$RUNDIR/http.port"
HEAP=${KNNBRIDGE_OPENSEARCH_HEAP:-1g}
WAIT=${KNNBRIDGE_OPENSEARCH_WAIT:-240}

as_os_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi
}

ensure_user() {
  [ "$(id -u)" = 0 ] || return 0
  if ! id -u "$OS_USER" >/dev/null 2>&1; then
    log "creating system user $OS_USER (OpenSearch refuses to run as root)"
    useradd --system --no-create-home --home-dir "$BASE" --shell /usr/sbin/nologin "$OS_USER"
  fi
}

find_java() {
  local want=$JAVA_MAJOR d v
  for d in ${JAVA_HOME:-} /usr/lib/jvm/*; do
    [ -x "$d/bin/java" ] && [ -f "$d/release" ] || continue
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
    # 2.19 wants exactly 17 (its bundled JDK); 3.x wants 21 or newer.
    if { [ "$want" = 17 ] && [ "$v" = 17 ]; } || { [ "$want" != 17 ] && [ "${v:-0}" -ge "$want" ]; }; then
      echo "$d"; return 0
    fi
  done
  die "no JDK $JAVA_MAJOR$([ "$JAVA_MAJOR" != 17 ] && echo '+') found under /usr/lib/jvm (OpenSearch $OPENSEARCH_VERSION needs it)"
}

# mvn_copy G:A:V[:type] copies one artifact into $ARTIFACTS unless it is there.
# Maven's own repository (~/.m2) caches it across installations too.
mvn_copy() {
  local coords=$1 file=$2
  [ -s "$ARTIFACTS/$file" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch $coords"
  log "fetching $coords"
  mvn -B -q dependency:copy -Dartifact="$coords" -DoutputDirectory="$ARTIFACTS" -Dmdep.overWriteIfNewer=true >&2 \
    || die "could not fetch $coords from Maven Central"
  [ -s "$ARTIFACTS/$file" ] || die "Maven did not produce $ARTIFACTS/$file"
}

# build_module NAME ARTIFACT CLASSNAME EXTENDED DESCRIPTION [POLICY]
# assembles a module directory under $ARTIFACTS/modules/NAME from the
# Maven jar org.opensearch.plugin:ARTIFACT and its runtime dependencies.
# These are system modules in the full distribution: opensearch-plugin
# refuses to install them as plugins, so they are copied into modules/.
#
# One Maven call resolves the whole dependency tree (honouring the POMs'
# exclusions); jars the server already has in lib/ are dropped, since the
# node provides them and a second copy would be jar hell.
build_module() {
  local name=$1 artifact=$2 classname=$3 extended=$4 description=$5 policy=${6:-}
  local dir="$ARTIFACTS/modules/$name"
  [ -f "$dir/plugin-descriptor.properties" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch $artifact"
  local stage="$dir.tmp" pomdir
  pomdir=$(mktemp -d)
  rm -rf "$stage"
  mkdir -p "$stage"
  cat >"$pomdir/pom.xml" <<POM
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>knnbridge.local</groupId><artifactId>module-$name</artifactId><version>0</version>
  <dependencies>
    <dependency>
      <groupId>org.opensearch.plugin</groupId><artifactId>$artifact</artifactId><version>$OPENSEARCH_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.opensearch</groupId><artifactId>opensearch</artifactId></exclusion>
        <exclusion><groupId>org.apache.lucene</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
</project>
POM
  log "fetching $artifact $OPENSEARCH_VERSION and its dependencies"
  mvn -B -q -f "$pomdir/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$stage" >&2 \
    || die "could not fetch org.opensearch.plugin:$artifact:$OPENSEARCH_VERSION from Maven Central"
  rm -rf "$pomdir"
  local provided jar base
  provided=$(unzip -Z1 "$ARTIFACTS/opensearch-$OPENSEARCH_VERSION.zip" | sed -n 's|^[^/]*/lib/\(.*\)-[0-9][^-]*\.jar$|\1|p')
  for jar in "$stage"/*.jar; do
    base=$(basename "$jar" | sed 's|-[0-9][^-]*\.jar$||')
    if grep -qxF "$base" <<<"$provided"; then rm -f "$jar"; fi
  done
  local javaver=11
  [ "$JAVA_MAJOR" = 17 ] || javaver=21
  cat >"$stage/plugin-descriptor.properties" <<DESC
description=$description
version=$OPENSEARCH_VERSION
name=$name
classname=$classname
java.version=$javaver
opensearch.version=$OPENSEARCH_VERSION
extended.plugins=$extended
has.native.controller=false
DESC
  [ -z "$policy" ] || printf '%s\n' "$policy" >"$stage/plugin-security.policy"
  rm -rf "$dir"
  mv "$stage" "$dir"
}

fetch() {
  mkdir -p "$ARTIFACTS"
  mvn_copy "org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" "opensearch-$OPENSEARCH_VERSION.zip"
  mvn_copy "org.opensearch.plugin:opensearch-knn:$KNN_VERSION:zip" "opensearch-knn-$KNN_VERSION.zip"
  # Policies are the modules' own (modules/*/plugin-security.policy in the
  # full distribution): painless generates classes at run time; reindex
  # may call remote clusters (reindex from remote).
  build_module lang-painless lang-painless org.opensearch.painless.PainlessPlugin "" \
    "An easy, safe and fast scripting language for OpenSearch" \
    'grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};'
  build_module analysis-common analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin lang-painless \
    "Adds analyzers, tokenizers and filters (english, stemmers, ...)"
  build_module mapper-extras mapper-extras-client org.opensearch.index.mapper.MapperExtrasPlugin "" \
    "Adds advanced field mappers (scaled_float, rank_feature, search_as_you_type, ...)"
  build_module reindex reindex-client org.opensearch.index.reindex.ReindexPlugin "" \
    "_reindex, _update_by_query and _delete_by_query" \
    'grant {
  permission java.net.SocketPermission "*", "connect";
};'
}

install() {
  # Bump the marker when the set of modules or plugins changes, so an older
  # installation is rebuilt.
  local marker="$INSTALL/.knnbridge-installed-v2"
  [ -f "$marker" ] && return 0
  fetch
  log "installing OpenSearch $OPENSEARCH_VERSION into $INSTALL"
  rm -rf "$INSTALL" "$INSTALL.tmp"
  mkdir -p "$INSTALL.tmp"
  unzip -q "$ARTIFACTS/opensearch-$OPENSEARCH_VERSION.zip" -d "$INSTALL.tmp"
  mv "$INSTALL.tmp/opensearch-$OPENSEARCH_VERSION" "$INSTALL"
  rm -rf "$INSTALL.tmp"
  chown -R "$OS_USER" "$BASE"
  local java; java=$(find_java)
  local m
  for m in lang-painless analysis-common mapper-extras reindex; do
    log "installing module $m"
    cp -r "$ARTIFACTS/modules/$m" "$INSTALL/modules/$m"
  done
  chown -R "$OS_USER" "$INSTALL"
  log "installing plugin opensearch-knn $KNN_VERSION"
  as_os_user env OPENSEARCH_JAVA_HOME="$java" "$INSTALL/bin/opensearch-plugin" install --batch "file://$ARTIFACTS/opensearch-knn-$KNN_VERSION.zip" >&2 \
    || die "plugin install failed: opensearch-knn $KNN_VERSION"
  as_os_user touch "$marker"
}

pid_alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

write_config() {
  local port=$1 transport=$2 conf="$INSTALL/config"
  mkdir -p "$RUNDIR/data" "$RUNDIR/logs"
  cat >"$conf/opensearch.yml" <<EOF
# Written by compose/local.sh: a single local node for knnbridge.
cluster.name: knnbridge-local
node.name: knnbridge-local-1
network.host: 127.0.0.1
http.port: $port
transport.port: $transport
discovery.type: single-node
path.data: $RUNDIR/data
path.logs: $RUNDIR/logs
# Keep a laptop-sized disk from turning indexes read-only mid-test.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  if [ -n "${KNNBRIDGE_OPENSEARCH_WRITE_QUEUE:-}" ]; then
    echo "thread_pool.write.queue_size: $KNNBRIDGE_OPENSEARCH_WRITE_QUEUE" >>"$conf/opensearch.yml"
  fi
  mkdir -p "$conf/jvm.options.d"
  printf -- '-Xms%s\n-Xmx%s\n' "$HEAP" "$HEAP" >"$conf/jvm.options.d/heap.options"
  chown -R "$OS_USER" "$RUNDIR" "$conf"
}

url() { echo "http://127.0.0.1:$(cat "$PORTFILE")"; }

up() {
  if pid_alive && curl -fsS -m 5 "$(url)" >/dev/null 2>&1; then
    log "already running (pid $(cat "$PIDFILE"))"
    url; return 0
  fi
  ensure_user
  mkdir -p "$BASE"
  chown "$OS_USER" "$BASE"
  install
  local port=${KNNBRIDGE_OPENSEARCH_PORT:-}
  if [ -z "$port" ]; then
    if port_free 9200; then port=9200; else port=$(free_port); fi
  fi
  local transport; transport=$(free_port)
  write_config "$port" "$transport"
  echo "$port" >"$PORTFILE"
  local java; java=$(find_java)
  rm -f "$PIDFILE"
  log "starting OpenSearch $OPENSEARCH_VERSION on 127.0.0.1:$port as $OS_USER (heap $HEAP, java $java)"
  as_os_user env OPENSEARCH_JAVA_HOME="$java" "$INSTALL/bin/opensearch" -d -p "$PIDFILE" >&2 \
    || { tail -n 40 "$RUNDIR/logs/knnbridge-local.log" >&2 2>/dev/null; die "OpenSearch did not start"; }
  local deadline=$((SECONDS + WAIT)) health=""
  while [ $SECONDS -lt $deadline ]; do
    # A single node can only be green while no index wants a replica; an
    # index left with replicas (yellow) is still fully usable here.
    health=$(curl -fsS -m 5 "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null || true)
    case "$health" in *'"status":"green"'*|*'"status":"yellow"'*) break ;; esac
    # The pid file appears only once the JVM has bootstrapped.
    if [ -f "$PIDFILE" ] && ! pid_alive || { [ ! -f "$PIDFILE" ] && [ $SECONDS -gt $((deadline - WAIT + 90)) ]; }; then
      tail -n 60 "$RUNDIR/logs/knnbridge-local.log" >&2 2>/dev/null
      die "OpenSearch exited during start-up (log above)"
    fi
    sleep 1
  done
  case "$health" in
    *'"status":"green"'*|*'"status":"yellow"'*) ;;
    *) tail -n 60 "$RUNDIR/logs/knnbridge-local.log" >&2 2>/dev/null; die "OpenSearch not ready within ${WAIT}s" ;;
  esac
  log "ready: $(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$health")"
  url
}

down() {
  if ! pid_alive; then log "not running"; rm -f "$PIDFILE"; return 0; fi
  local pid; pid=$(cat "$PIDFILE")
  log "stopping pid $pid"
  kill "$pid"
  local i
  for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "still alive after 30s: SIGKILL"; kill -9 "$pid"; fi
  rm -f "$PIDFILE"
}

status() {
  if ! pid_alive; then log "not running"; return 1; fi
  local u; u=$(url)
  local info; info=$(curl -fsS -m 5 "$u") || { log "pid $(cat "$PIDFILE") alive but $u does not answer"; return 1; }
  url
  log "version: $(sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p' <<<"$(tr -d '\n' <<<"$info")")"
  log "plugins: $(curl -fsS -m 5 "$u/_cat/plugins?h=component" | tr '\n' ' ')"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  fetch) fetch ;;
  *) echo "usage: $0 up|down|status|fetch" >&2; exit 2 ;;
esac
