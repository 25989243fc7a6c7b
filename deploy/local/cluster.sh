#!/usr/bin/env bash
# A local ActorNat cluster on 127.0.0.1.
#
#   deploy/local/cluster.sh up N [--config FILE]   start N nodes; prints "node I GRPC_URL", "metrics I URL" (Prometheus
#                                                  /metrics, /healthz/live, /healthz/ready) and "dashboard I URL" (the
#                                                  web dashboard) per node once each is SERVING
#   deploy/local/cluster.sh down                   stop exactly what `up` started (SIGTERM, then SIGKILL after a timeout)
#   deploy/local/cluster.sh kill I                 SIGKILL node I
#   deploy/local/cluster.sh status                 the nodes and whether they still run
#   deploy/local/cluster.sh start I                restart a stopped (killed, left) node I with its gRPC and remoting ports;
#                                                  it joins through the other running nodes (never itself: no second cluster)
#   deploy/local/cluster.sh stop I | cont I        SIGSTOP / SIGCONT node I (a long pause)
#   deploy/local/cluster.sh add                    start one more node that joins the running ones; prints "node I URL"
#   deploy/local/cluster.sh leave I                SIGTERM node I (graceful leave, shards handed off) and wait for its exit
#
# Environment:
#   ACTORNAT_RUN_DIR        pid files, logs, build output, database (default: REPO/.run/local)
#   ACTORNAT_BIN            an `actornat` executable to use instead of building one
#   ACTORNAT_ADMIN_TOKEN    admin token for every node (default: none; the nodes listen on loopback only)
#   ACTORNAT_STOP_TIMEOUT   seconds `down` waits after SIGTERM before SIGKILL (default 20)
#   ACTORNAT_START_TIMEOUT  seconds `up` waits for a node to be SERVING (default 60)
#   ACTORNAT_ACTIVATION_LOG 1: each node appends entity activations and fence changes to RUN/nodeI.activations.jsonl
#                           (`actornat chaos` sets it and checks that no entity was active on two nodes at once)
#   ACTORNAT_POSTGRES       1: one node too keeps its journal in PostgreSQL, as N > 1 do (bench/scale-out.sh compares
#                           node counts on the same journal)
#   ACTORNAT_NODE_GID_BASE  run node I with group id BASE+I (setpriv), so iptables' owner match can tell its packets
#                           apart on loopback (used by `actornat chaos` to partition one node); default: unset
#
# N = 1: one node of the cluster backend with its state in an embedded SQLite file in the run dir; gRPC on a free port
#        (the node binds port 0 and reports it).
# N > 1: the nodes form one cluster: each gets a remoting port, node 1 is the seed, and they share a PostgreSQL
#        database (installed from Debian packages and started in the run dir if needed).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$(realpath -m "${ACTORNAT_RUN_DIR:-$REPO/.run/local}")"  # absolute: PostgreSQL puts its socket there
STOP_TIMEOUT="${ACTORNAT_STOP_TIMEOUT:-20}"
START_TIMEOUT="${ACTORNAT_START_TIMEOUT:-60}"
PG_PORT_FILE="$RUN/postgres.port"

die() { echo "cluster.sh: $*" >&2; exit 1; }
log() { echo "cluster.sh: $*" >&2; }

actornat_bin() {
  if [[ -n "${ACTORNAT_BIN:-}" ]]; then echo "$ACTORNAT_BIN"; return; fi
  local out="$RUN/bin"
  if [[ ! -x "$out/actornat" || -n "$(find "$REPO/src" "$REPO/protos" -newer "$out/actornat" \( -name '*.cs' -o -name '*.proto' -o -name '*.csproj' -o -path '*/Dashboard/www/*' \) -print -quit 2>/dev/null)" ]]; then
    log "building actornat into $out"
    dotnet build "$REPO/src/ActorNat.Cli/ActorNat.Cli.csproj" -c Release -o "$out" -nologo -v quiet >&2 || die "build failed"
  fi
  echo "$out/actornat"
}

# A TCP port on 127.0.0.1 that nothing listens on now (for remoting and PostgreSQL, which need theirs known in advance).
free_port() {
  local port
  for _ in $(seq 200); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free port found"
}

# The pid in a pid file, if that process is still the actornat node we started (guards against pid reuse).
live_pid() {
  local file="$1" pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--name node" || return 1
  echo "$pid"
}

ensure_postgres() {
  if [[ -f "$PG_PORT_FILE" ]] && pg_running; then return; fi
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian packages"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || die "cannot install postgresql"
  fi
  local bindir; bindir="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
  local data="$RUN/pg" port; port="$(free_port)"
  mkdir -p "$data"; chown postgres:postgres "$data" 2>/dev/null || true
  if [[ ! -f "$data/PG_VERSION" ]]; then
    runuser -u postgres -- "$bindir/initdb" -D "$data" -A trust -U actornat >/dev/null || die "initdb failed"
  fi
  touch "$RUN/postgres.log"; chown postgres "$RUN/postgres.log" 2>/dev/null || true  # the server writes it as postgres
  runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -l "$RUN/postgres.log" -o "-p $port -k $data -c listen_addresses=127.0.0.1" -w start >/dev/null \
    || die "postgres did not start (see $RUN/postgres.log)"
  echo "$port" > "$PG_PORT_FILE"
  echo "$bindir" > "$RUN/postgres.bindir"
  runuser -u postgres -- "$bindir/createdb" -h 127.0.0.1 -p "$port" -U actornat actornat 2>/dev/null || true
}

# Can a listening socket bind PORT on 127.0.0.1 now (without SO_REUSEADDR, as remoting binds)?
bindable() {
  python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)' "$1" 2>/dev/null
}

pg_running() { [[ -f "$RUN/pg/postmaster.pid" ]] && kill -0 "$(head -1 "$RUN/pg/postmaster.pid")" 2>/dev/null; }

stop_postgres() {
  [[ -f "$PG_PORT_FILE" ]] || return 0
  if pg_running; then
    runuser -u postgres -- "$(cat "$RUN/postgres.bindir")/pg_ctl" -D "$RUN/pg" -m fast -w stop >/dev/null || log "postgres did not stop cleanly"
  fi
  rm -f "$PG_PORT_FILE"
}

# Starts node I with the given extra flags; prints its gRPC URL once it is SERVING.
start_node() {
  local i="$1"; shift
  local bin="$1"; shift
  local out="$RUN/node$i.out" err="$RUN/node$i.log" url=""
  # Keep what an earlier run of this node wrote (a restart after a fault is when its logs matter most).
  [[ -s "$out" ]] && cat "$out" >> "$RUN/node$i.out.old"
  [[ -s "$err" ]] && cat "$err" >> "$RUN/node$i.log.old"
  : > "$out"
  local token_args=()
  [[ -n "${ACTORNAT_ADMIN_TOKEN:-}" ]] && token_args=(--admin-token "$ACTORNAT_ADMIN_TOKEN")
  local wrap=()
  [[ -n "${ACTORNAT_NODE_GID_BASE:-}" ]] && wrap=(setpriv --regid "$(( ACTORNAT_NODE_GID_BASE + i ))" --clear-groups --)
  local activations=()
  [[ "${ACTORNAT_ACTIVATION_LOG:-}" == 1 ]] && activations=(--activation-log "$RUN/node$i.activations.jsonl")
  printf '%s\n' "$@" > "$RUN/node$i.args"
  nohup "${wrap[@]}" "$bin" node --name "node$i" --grpc "${GRPC_ENDPOINT:-127.0.0.1:0}" "${token_args[@]}" "${activations[@]}" "$@" >"$out" 2>"$err" </dev/null &
  echo $! > "$RUN/node$i.pid"
  local deadline=$(( SECONDS + START_TIMEOUT ))
  while [[ -z "$url" ]]; do
    url="$(sed -n 's/^node .* grpc=\([^ ]*\) .*/\1/p' "$out" | head -1)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$(cat "$RUN/node$i.pid")" 2>/dev/null; then
      die "node $i exited during start: $(tail -5 "$err" | tr '\n' ' ')"
    fi
    (( SECONDS < deadline )) || die "node $i did not report its endpoint within ${START_TIMEOUT}s (see $err)"
    sleep 0.2  # polling the node's output file for its endpoint line
  done
  echo "$url" > "$RUN/node$i.url"
  sed -n 's/^node .* metrics=\([^ ]*\).*/\1/p' "$out" | head -1 > "$RUN/node$i.metrics"
  sed -n 's/^node .* dashboard=\([^ ]*\).*/\1/p' "$out" | head -1 > "$RUN/node$i.dashboard"
  "$bin" health --target "$url" --wait "$START_TIMEOUT" >/dev/null || die "node $i at $url is not SERVING (see $err)"
  echo "$url"
}

cmd_up() {
  local n="${1:-}"; shift || true
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "usage: cluster.sh up N [--config FILE]"
  local extra=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --config) extra+=(--config "$(realpath "$2")"); shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  mkdir -p "$RUN"
  for f in "$RUN"/node*.pid; do
    [[ -e "$f" ]] || continue
    if live_pid "$f" >/dev/null; then die "a cluster is already up in $RUN (run: cluster.sh down)"; fi
  done
  rm -f "$RUN"/node*.pid "$RUN"/node*.url "$RUN"/node*.out "$RUN"/node*.metrics "$RUN"/node*.dashboard "$RUN"/node*.args
  local bin; bin="$(actornat_bin)"
  echo "$n" > "$RUN/size"

  if (( n == 1 )) && [[ "${ACTORNAT_POSTGRES:-}" != 1 ]]; then
    local url; url="$(start_node 1 "$bin" --backend cluster --database "sqlite:$RUN/node1.db" "${extra[@]}")"
    echo "node 1 $url"
    echo "metrics 1 $(cat "$RUN/node1.metrics")"
    echo "dashboard 1 $(cat "$RUN/node1.dashboard")"
    return
  fi

  # N > 1: one cluster on one PostgreSQL database.
  ensure_postgres
  local db="postgres://actornat@127.0.0.1:$(cat "$PG_PORT_FILE")/actornat"
  local ports=() i
  for (( i = 1; i <= n; i++ )); do ports+=("$(free_port)"); done
  local seed="127.0.0.1:${ports[0]}"
  for (( i = 1; i <= n; i++ )); do
    local url
    url="$(start_node "$i" "$bin" --backend cluster --remoting "127.0.0.1:${ports[i-1]}" --seed-node "$seed" --database "$db" "${extra[@]}")" \
      || { cmd_down; exit 1; }
    echo "node $i $url"
    echo "metrics $i $(cat "$RUN/node$i.metrics")"
    echo "dashboard $i $(cat "$RUN/node$i.dashboard")"
  done
}

cmd_down() {
  local pids=() f pid
  for f in "$RUN"/node*.pid; do
    [[ -e "$f" ]] || continue
    if pid="$(live_pid "$f")"; then kill -TERM "$pid" 2>/dev/null && pids+=("$pid"); fi
  done
  local deadline=$(( SECONDS + STOP_TIMEOUT ))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done  # waiting for the process to exit
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid still running after ${STOP_TIMEOUT}s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$RUN"/node*.pid "$RUN"/node*.url
  stop_postgres
  log "stopped ${#pids[@]} node(s)"
}

cmd_kill() {
  local i="${1:-}"
  [[ "$i" =~ ^[1-9][0-9]*$ ]] || die "usage: cluster.sh kill I"
  local pid
  pid="$(live_pid "$RUN/node$i.pid")" || die "node $i is not running"
  kill -KILL "$pid"
  log "node $i (pid $pid) killed"
}

# The remoting HOST:PORT node I was started with (from its saved arguments).
remoting_of() { sed -n '/^--remoting$/{n;p;q}' "$RUN/node$1.args" 2>/dev/null; }

# The indices of the nodes that run now.
running_nodes() {
  local f i
  for f in "$RUN"/node*.pid; do
    [[ -e "$f" ]] || continue
    i="${f##*/node}"; i="${i%.pid}"
    live_pid "$f" >/dev/null && echo "$i"
  done
  return 0
}

# Starts node I with the saved arguments, but seeds = the other running nodes (a node that seeds only from itself
# would found a second cluster on the same database).
restart_node() {
  local i="$1" grpc="$2" bin args=() seeds=() j a skip=0
  bin="$(actornat_bin)"
  [[ -f "$RUN/node$i.args" ]] || die "node $i was never started here"
  local remoting_next=0
  while IFS= read -r a; do
    if (( skip )); then skip=0; continue; fi
    if [[ "$a" == --seed-node ]]; then skip=1; continue; fi
    if (( remoting_next )); then
      remoting_next=0
      # A killed node's port can stay unbindable for a while (connections in TIME_WAIT): then take another one.
      bindable "${a##*:}" || { log "node $i: remoting port ${a##*:} still in use; taking another"; a="127.0.0.1:$(free_port)"; }
    fi
    [[ "$a" == --remoting ]] && remoting_next=1
    args+=("$a")
  done < "$RUN/node$i.args"
  for j in $(running_nodes); do
    [[ "$j" == "$i" ]] && continue
    seeds+=(--seed-node "$(remoting_of "$j")")
  done
  (( ${#seeds[@]} > 0 )) || die "no running node to join"
  GRPC_ENDPOINT="$grpc" start_node "$i" "$bin" "${args[@]}" "${seeds[@]}"
}

cmd_start() {
  local i="${1:-}"
  [[ "$i" =~ ^[1-9][0-9]*$ ]] || die "usage: cluster.sh start I"
  if live_pid "$RUN/node$i.pid" >/dev/null; then die "node $i is running"; fi
  local url; url="$(cat "$RUN/node$i.url" 2>/dev/null)"
  local grpc="${url#http://}"
  url="$(restart_node "$i" "${grpc:-127.0.0.1:0}")"
  echo "node $i $url"
  echo "metrics $i $(cat "$RUN/node$i.metrics")"
  echo "dashboard $i $(cat "$RUN/node$i.dashboard")"
}

cmd_signal() {
  local sig="$1" i="${2:-}"
  [[ "$i" =~ ^[1-9][0-9]*$ ]] || die "usage: cluster.sh stop|cont I"
  local pid; pid="$(live_pid "$RUN/node$i.pid")" || die "node $i is not running"
  kill "-$sig" "$pid"
  log "node $i (pid $pid) $sig"
}

cmd_add() {
  local n=0 f i
  for f in "$RUN"/node*.args; do
    [[ -e "$f" ]] || continue
    i="${f##*/node}"; i="${i%.args}"
    (( i > n )) && n=$i
  done
  (( n > 0 )) || die "no cluster here (run: cluster.sh up N)"
  i=$(( n + 1 ))
  # The new node's arguments: node 1's, with a remoting port of its own.
  local a skip=0 args=()
  while IFS= read -r a; do
    if (( skip )); then skip=0; continue; fi
    if [[ "$a" == --remoting ]]; then skip=1; continue; fi
    args+=("$a")
  done < "$RUN/node1.args"
  args+=(--remoting "127.0.0.1:$(free_port)")
  printf '%s\n' "${args[@]}" > "$RUN/node$i.args"
  local url; url="$(restart_node "$i" "127.0.0.1:0")"
  echo $(( i )) > "$RUN/size"
  echo "node $i $url"
  echo "metrics $i $(cat "$RUN/node$i.metrics")"
  echo "dashboard $i $(cat "$RUN/node$i.dashboard")"
}

cmd_leave() {
  local i="${1:-}"
  [[ "$i" =~ ^[1-9][0-9]*$ ]] || die "usage: cluster.sh leave I"
  local pid; pid="$(live_pid "$RUN/node$i.pid")" || die "node $i is not running"
  kill -TERM "$pid"
  local deadline=$(( SECONDS + STOP_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done  # waiting for the process to exit
  kill -0 "$pid" 2>/dev/null && die "node $i (pid $pid) still running after ${STOP_TIMEOUT}s"
  log "node $i (pid $pid) left"
}

cmd_status() {
  local f i
  for f in "$RUN"/node*.pid; do
    [[ -e "$f" ]] || continue
    i="${f##*/node}"; i="${i%.pid}"
    if live_pid "$f" >/dev/null; then echo "node $i $(cat "$RUN/node$i.url" 2>/dev/null) running"; else echo "node $i stopped"; fi
  done
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  kill) shift; cmd_kill "$@" ;;
  status) cmd_status ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_signal STOP "$@" ;;
  cont) shift; cmd_signal CONT "$@" ;;
  add) cmd_add ;;
  leave) shift; cmd_leave "$@" ;;
  *) echo "usage: cluster.sh up N [--config FILE] | down | kill I | start I | stop I | cont I | add | leave I | status" >&2; exit 2 ;;
esac
