#!/usr/bin/env bash
# Local services for development and tests: PostgreSQL, Redis and Kafka (KRaft) on
# loopback, project ports, data under .data/. Every step is idempotent: a second run
# reuses what exists and a running service is detected, not restarted.
#
#   bash infra/services.sh start|stop|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/infra/env.sh"

RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
PG_DIR="$DATA_DIR/postgres"
REDIS_DIR="$DATA_DIR/redis"
KAFKA_DIR="$DATA_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs-$KAFKA_VERSION"
mkdir -p "$RUN_DIR" "$LOG_DIR"

say() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Installs Debian packages when running as root; otherwise prints the exact command.
apt_install() {
  if is_root; then
    say "installing Debian packages: $* (apt-get, about a minute)"
    if [ ! -f "$RUN_DIR/apt-updated" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
      touch "$RUN_DIR/apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$LOG_DIR/apt.log" 2>&1 \
      || die "apt-get install $* failed; see $LOG_DIR/apt.log"
  else
    die "missing $*; install with: sudo apt-get update && sudo apt-get install -y $*"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Before a service starts listening on a port: if other TCP sockets (not TIME-WAIT) still use
# that port, as the closing connections of a service that just stopped do, waits up to 10 s for
# them to go, then names the ones left. Servers bind with SO_REUSEADDR, so most leftovers do
# not stop them; when one does, the start fails with "Address already in use" and this note
# says which socket held the port.
check_port_holders() {
  local port="$1" variable="$2" holders="" i
  command -v ss >/dev/null || return 0
  for ((i = 0; i < 40; i++)); do
    holders="$(ss -Htanp exclude time-wait "sport = :$port" 2>/dev/null | head -n 3)"
    [ -n "$holders" ] || return 0
    sleep 0.25
  done
  say "note: port $port is still used by these sockets; if the start fails with 'Address already in use', set $variable to another port:"
  printf '%s\n' "$holders" | sed 's/^/[services]   /'
}

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

# A process just killed (kill -9 and at once `start`, as the fault tests restore a service) keeps
# its sockets until its last thread has exited, while its main thread already shows as a zombie:
# waits up to 10 s for that, so that its port still open is not taken for a running service.
wait_for_exit() {
  [ -f "$1" ] || return 0
  local pid i; pid="$(head -n1 "$1")"
  for ((i = 0; i < 40; i++)); do
    [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" = Z ] || return 0
    [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -gt 1 ] || return 0
    sleep 0.25
  done
}

# wait_for <what> <seconds> <log file> <command...>: polls until the command succeeds.
wait_for() {
  local what="$1" seconds="$2" log="$3"; shift 3
  local i
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ((i > 0 && i % 20 == 0)); then say "  still waiting for $what ($((i / 4))s)"; fi
    sleep 0.25
  done
  printf '[services] ERROR: %s did not become ready within %ss. Last lines of %s:\n' "$what" "$seconds" "$log" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

# ---------- PostgreSQL ----------

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && printf '%s' "$dir"
}

# PostgreSQL refuses to run as root; as root we run it as the Debian "postgres" user.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# As the cluster's own user: without -U the probe logs in as the shell's user, and PostgreSQL
# logs "FATAL: role ... does not exist" for each probe.
pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; }

start_postgres() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin; bin="$(pg_bin)"
  if pg_ready; then say "postgres already running on :$PG_PORT"; return; fi
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    say "initialising PostgreSQL cluster in $PG_DIR"
    mkdir -p "$PG_DIR"
    if is_root; then chown postgres:postgres "$PG_DIR"; chmod 700 "$PG_DIR"; fi
    as_pg "$bin/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$LOG_DIR/initdb.log" 2>&1 || { tail -n 20 "$LOG_DIR/initdb.log" >&2; die "initdb failed"; }
    cat >>"$PG_DIR/postgresql.conf" <<EOF
# ticketing local settings
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
shared_buffers = 1GB
work_mem = 16MB
maintenance_work_mem = 256MB
wal_buffers = 16MB
max_wal_size = 4GB
checkpoint_timeout = 15min
EOF
  fi
  check_port_holders "$PG_PORT" PG_PORT
  touch "$LOG_DIR/postgres.log"
  is_root && chown postgres:postgres "$LOG_DIR/postgres.log"
  say "starting postgres on 127.0.0.1:$PG_PORT"
  as_pg "$bin/pg_ctl" -D "$PG_DIR" -l "$LOG_DIR/postgres.log" -o "-p $PG_PORT" -w -t 60 start >/dev/null \
    || { tail -n 20 "$LOG_DIR/postgres.log" >&2; die "postgres failed to start"; }
  wait_for postgres 60 "$LOG_DIR/postgres.log" pg_ready
  as_pg "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'" | grep -q 1 \
    || as_pg "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DATABASE"
  say "postgres ready"
}

stop_postgres() {
  local bin; bin="$(pg_bin || true)"
  if [ -n "$bin" ] && [ -f "$PG_DIR/postmaster.pid" ]; then
    say "stopping postgres"
    as_pg "$bin/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null || true
  else
    say "postgres not running"
  fi
}

# ---------- Redis ----------

redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  wait_for_exit "$RUN_DIR/redis.pid"
  if redis_ready; then
    pid_alive "$RUN_DIR/redis.pid" || say "note: a redis this checkout did not start answers on :$REDIS_PORT; reusing it"
    say "redis already running on :$REDIS_PORT"; return
  fi
  if port_open "$REDIS_PORT"; then die "port $REDIS_PORT is taken by something that is not redis; set REDIS_PORT"; fi
  check_port_holders "$REDIS_PORT" REDIS_PORT
  mkdir -p "$REDIS_DIR"
  cat >"$REDIS_DIR/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
dir $REDIS_DIR
daemonize yes
pidfile $RUN_DIR/redis.pid
logfile $LOG_DIR/redis.log
appendonly yes
appendfsync $REDIS_APPENDFSYNC
save ""
protected-mode yes
EOF
  say "starting redis on 127.0.0.1:$REDIS_PORT (appendonly yes, appendfsync $REDIS_APPENDFSYNC)"
  redis-server "$REDIS_DIR/redis.conf" || die "redis-server failed to start; see $LOG_DIR/redis.log"
  wait_for redis 30 "$LOG_DIR/redis.log" redis_ready
  say "redis ready"
}

# Sets STOPPED to none (was not running), clean, or killed (did not stop in time).
stop_pidfile() {
  local name="$1" pidfile="$2" seconds="${3:-30}"
  STOPPED=none
  if ! pid_alive "$pidfile"; then say "$name not running"; rm -f "$pidfile"; return; fi
  local pid; pid="$(head -n1 "$pidfile")"
  say "stopping $name (pid $pid)"
  kill "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < seconds * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; STOPPED=clean; return; }
    sleep 0.25
  done
  say "$name did not stop in ${seconds}s; killing it"
  STOPPED=killed
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# ---------- Kafka ----------

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

ensure_kafka_libs() {
  if [ -f "$KAFKA_LIBS/.complete" ]; then return; fi
  if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then apt_install openjdk-17-jre-headless; fi
  command -v mvn >/dev/null || apt_install maven
  say "resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS (first run only, about a minute)"
  mkdir -p "$KAFKA_DIR"
  cat >"$KAFKA_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ticketing</groupId><artifactId>kafka-dist</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- Kafka logs through SLF4J 1.7; this binds it to the log4j2 that Kafka already brings. -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.4</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$KAFKA_LIBS.tmp"
  mvn -B -ntp -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS.tmp" -DincludeScope=runtime >"$LOG_DIR/maven.log" 2>&1 \
    || { tail -n 30 "$LOG_DIR/maven.log" >&2; die "maven could not resolve Kafka $KAFKA_VERSION; see $LOG_DIR/maven.log"; }
  rm -rf "$KAFKA_LIBS"; mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
  say "kafka jars ready ($(ls "$KAFKA_LIBS" | wc -l) jars)"
}

kafka_ready() {
  port_open "$KAFKA_PORT" && grep -q "Kafka Server started\|KafkaRaftServer.*started\|Kafka startTimeMs" "$LOG_DIR/kafka.log"
}

# Kafka's class archive (AppCDS): a JVM started without one writes it as it exits cleanly, and
# later starts map it instead of loading and verifying every class again, which takes about a
# quarter of the CPU a start costs. Named for the Kafka version and the java binary, so that an
# upgrade of either makes a new one (a JVM ignores an archive another JDK wrote).
kafka_archive() { printf '%s/classes-%s-%s.jsa' "$KAFKA_DIR" "$KAFKA_VERSION" "$(stat -Lc %Y "$(command -v java)")"; }

stop_kafka() {
  stop_pidfile kafka "$RUN_DIR/kafka.pid" 60
  command -v java >/dev/null || return 0
  local archive; archive="$(kafka_archive)"
  [ -f "$archive.partial" ] || return 0
  # Written while the JVM exits, so only one whose JVM was seen to exit on its own is kept, and
  # only once a JVM has mapped it: a truncated archive crashes the JVM that maps it.
  if [ "$STOPPED" = clean ] && java -Xshare:on -XX:SharedArchiveFile="$archive.partial" -XX:ErrorFile="$LOG_DIR/kafka-archive-check.log" \
    -cp "$KAFKA_LIBS/*" -version >/dev/null 2>&1; then
    mv "$archive.partial" "$archive"
  else
    rm -f "$archive.partial"
  fi
}

write_kafka_config() {
  cat >"$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A broker killed without a clean shutdown comes back as a new incarnation, which the controller
# turns away (DuplicateBrokerRegistrationException) until the old one's session has expired; on
# this single node the session only guards against the broker's own JVM stalling, so it is short.
broker.session.timeout.ms=2000
broker.heartbeat.interval.ms=500
# Consumer session timeouts the broker accepts. Classic protocol (kafkajs): the client asks, this
# is the floor (default 6 s). Consumer protocol (KIP-848): the broker sets session and heartbeat
# for every group (defaults 45 s and 5 s, floors the same), a group config may go down to the floor.
group.min.session.timeout.ms=2000
group.consumer.min.session.timeout.ms=2000
group.consumer.session.timeout.ms=6000
group.consumer.min.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=1000
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF
  cat >"$KAFKA_DIR/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="$LOG_DIR/kafka.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
EOF
}

start_kafka() {
  ensure_kafka_libs
  wait_for_exit "$RUN_DIR/kafka.pid"
  if port_open "$KAFKA_PORT"; then
    pid_alive "$RUN_DIR/kafka.pid" || say "note: a broker this checkout did not start listens on :$KAFKA_PORT; reusing it"
    say "kafka already running on :$KAFKA_PORT"; return
  fi
  check_port_holders "$KAFKA_PORT" KAFKA_PORT
  check_port_holders "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
  write_kafka_config
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    say "formatting Kafka storage (KRaft, standalone)"
    local cluster_id
    cluster_id="$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.xml" kafka.tools.StorageTool format \
      --standalone -t "$cluster_id" -c "$KAFKA_DIR/server.properties" >"$LOG_DIR/kafka-format.log" 2>&1 \
      || { cat "$LOG_DIR/kafka-format.log" >&2; die "kafka storage format failed"; }
  fi
  : >"$LOG_DIR/kafka.log"
  local archive class_archive
  archive="$(kafka_archive)"
  if [ -f "$archive" ]; then
    class_archive="-XX:SharedArchiveFile=$archive"
  else
    rm -f "$archive.partial"
    class_archive="-XX:ArchiveClassesAtExit=$archive.partial"
  fi
  say "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (heap $KAFKA_HEAP)"
  nohup java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 "$class_archive" \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.xml" \
    -Dkafka.logs.dir="$LOG_DIR" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >>"$LOG_DIR/kafka.out" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/kafka.pid"
  wait_for kafka 90 "$LOG_DIR/kafka.log" kafka_ready
  say "kafka ready"
}

# ---------- commands ----------

status_line() {
  local name="$1" port="$2" ok="$3"
  if $ok; then printf '  %-9s up    127.0.0.1:%s\n' "$name" "$port"; else printf '  %-9s down  (port %s)\n' "$name" "$port"; fi
}

case "${1:-}" in
  start)
    start_postgres
    start_redis
    start_kafka
    say "all services up (data in $DATA_DIR)"
    ;;
  stop)
    stop_kafka
    stop_pidfile redis "$RUN_DIR/redis.pid" 30
    stop_postgres
    ;;
  status)
    status_line postgres "$PG_PORT" "$( [ -n "$(pg_bin)" ] && pg_ready && echo true || echo false)"
    status_line redis "$REDIS_PORT" "$(command -v redis-cli >/dev/null && redis_ready && echo true || echo false)"
    status_line kafka "$KAFKA_PORT" "$(port_open "$KAFKA_PORT" && echo true || echo false)"
    ;;
  *)
    echo "usage: bash infra/services.sh start|stop|status" >&2
    exit 2
    ;;
esac
