#!/usr/bin/env bash
# Starts, stops and reports the real services Driftline's tests and demo use, without Docker:
#   Kafka (KRaft, one JVM, jars from Maven Central), Redis (the machine's redis-server), ClickHouse
#   (embedded chdb in-process by default; a server URL if DRIFTLINE_CLICKHOUSE_URL is set), and on demand
#   a Prometheus (Debian's package, installed when missing) that scrapes given targets and loads
#   deploy/prometheus/rules/*.yml.
# Idempotent: `up` starts only what is not running; `down` stops only what this script started (by PID).
# Usage: scripts/services.sh up|down|status|reset|redis-cluster-up|redis-cluster-down|prometheus-install|prometheus-up|prometheus-down|s3proxy-up|s3proxy-down
# `up` also installs prometheus/promtool (the test suite runs `promtool test rules`) but does not start it.
# Prometheus settings (environment):
#   DRIFTLINE_PROMETHEUS_PORT      listen port of our instance (default 9490, not the package's 9090)
#   DRIFTLINE_PROMETHEUS_DIR       config, data and PID file (default .run/prometheus)
#   DRIFTLINE_PROMETHEUS_TARGETS   job=host:port[,job=host:port...] to scrape (default: scorer 9464,
#                                  aggregator 9465, API 8080 on 127.0.0.1, with the compose file's job names)
#   DRIFTLINE_PROMETHEUS_INTERVAL  scrape and rule evaluation interval (default 15s)
# Redis Cluster (3 masters, no replicas, for the aggregator's cluster mode and its tests; `up` starts it):
#   DRIFTLINE_REDIS_CLUSTER_PORTS  the masters' ports (default "7001 7002 7003"); data under .run/redis-cluster/
#   Aggregator side: DRIFTLINE_REDIS_CLUSTER_NODES=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
# S3Proxy (an S3-compatible server on the local filesystem, for the S3 artifact store; `up` starts it):
#   DRIFTLINE_S3PROXY_PORT         listen port (default 9300); identity driftline / driftline-local-secret
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${DRIFTLINE_RUN_DIR:-$ROOT/.run}"
JARS="${DRIFTLINE_KAFKA_JARS:-$ROOT/.cache/kafka-jars}"
LOGS="$RUN/logs"
KAFKA_HOME="$RUN/kafka"
KAFKA_PORT="${DRIFTLINE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${DRIFTLINE_KAFKA_CONTROLLER_PORT:-9093}"
CLUSTER_ID="ZHJpZnRsaW5lLWNsdXN0ZQ"   # fixed: base64url of "driftline-cluste" (16 bytes)
REDIS_PORT="${DRIFTLINE_REDIS_PORT:-6379}"
read -r -a CLUSTER_PORTS <<< "${DRIFTLINE_REDIS_CLUSTER_PORTS:-7001 7002 7003}"
CLUSTER_HOME="$RUN/redis-cluster"
PROM_PORT="${DRIFTLINE_PROMETHEUS_PORT:-9490}"
PROM_DIR="${DRIFTLINE_PROMETHEUS_DIR:-$RUN/prometheus}"
PROM_TARGETS="${DRIFTLINE_PROMETHEUS_TARGETS:-driftline-scorer=127.0.0.1:9464,driftline-aggregator=127.0.0.1:9465,driftline-api=127.0.0.1:8080}"
PROM_INTERVAL="${DRIFTLINE_PROMETHEUS_INTERVAL:-15s}"
S3_PORT="${DRIFTLINE_S3PROXY_PORT:-9300}"
S3_HOME="$RUN/s3proxy"
S3_JARS="${DRIFTLINE_S3PROXY_JARS:-$ROOT/.cache/s3proxy}"
S3_VERSION="2.4.1"
mkdir -p "$LOGS" "$KAFKA_HOME"

log() { printf '[services] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits until `CHECK ARGS...` succeeds for NAME, started in the background with its PID in PIDFILE; fails
# (showing the end of LOGFILE) when the process exits or after 60 s.
wait_started() {
  local name="$1" pidfile="$2" logfile="$3"; shift 3
  local deadline=$((SECONDS + 60))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$pidfile"; then log "$name exited; see $logfile"; tail -20 "$logfile" >&2; return 1; fi
    if [ $SECONDS -ge $deadline ]; then log "$name not ready in time; see $logfile"; return 1; fi
    sleep 0.3
  done
  log "$name ready"
}

# Stops the process in PIDFILE (TERM, up to POLLS × 0.25 s, then KILL) and removes the file.
stop_pidfile() {
  local name="$1" pidfile="$2" polls="$3"
  if pid_alive "$pidfile"; then
    local pid; pid="$(cat "$pidfile")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$polls"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

fetch_kafka_jars() {
  if ls "$JARS"/kafka_2.13-*.jar >/dev/null 2>&1; then return; fi
  log "fetching Apache Kafka jars from Maven Central (once; cached in $JARS)"
  mkdir -p "$JARS"
  mvn -q -B -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$JARS" -DincludeScope=runtime >"$LOGS/mvn.log" 2>&1 \
    || { log "mvn failed, see $LOGS/mvn.log"; tail -20 "$LOGS/mvn.log" >&2; exit 1; }
}

write_kafka_config() {
  cat >"$KAFKA_HOME/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_HOME/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
transaction.abort.timed.out.transaction.cleanup.interval.ms=10000
log.retention.hours=24
log.segment.bytes=67108864
PROPS
  cat >"$KAFKA_HOME/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOGS/kafka.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
}

kafka_java() {
  java -Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_HOME/log4j.properties" -cp "$JARS/*" "$@"
}

wait_kafka_metadata() {
  local deadline=$((SECONDS + ${1:-90}))
  until node "$ROOT/scripts/kafka-ready.mjs" "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then log "Kafka did not answer metadata in time; see $LOGS/kafka.out"; tail -30 "$LOGS/kafka.out" >&2 || true; return 1; fi
    if ! pid_alive "$RUN/kafka.pid"; then log "Kafka exited; see $LOGS/kafka.out"; tail -30 "$LOGS/kafka.out" >&2 || true; return 1; fi
    sleep 1
  done
}

kafka_up() {
  if pid_alive "$RUN/kafka.pid" && port_open "$KAFKA_PORT"; then log "kafka already running (pid $(cat "$RUN/kafka.pid"))"; return; fi
  if port_open "$KAFKA_PORT"; then log "something else listens on $KAFKA_PORT; using it"; return; fi
  command -v java >/dev/null || { log "java not found (Java 17 is needed for Kafka)"; exit 1; }
  fetch_kafka_jars
  write_kafka_config
  if [ ! -f "$KAFKA_HOME/data/meta.properties" ]; then
    log "formatting KRaft storage (cluster id $CLUSTER_ID)"
    kafka_java kafka.tools.StorageTool format --cluster-id "$CLUSTER_ID" --config "$KAFKA_HOME/server.properties" --ignore-formatted >"$LOGS/kafka-format.log" 2>&1 \
      || { cat "$LOGS/kafka-format.log" >&2; exit 1; }
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  nohup bash -c "$(declare -f kafka_java); JARS='$JARS' KAFKA_HOME='$KAFKA_HOME' kafka_java kafka.Kafka '$KAFKA_HOME/server.properties'" \
    >"$LOGS/kafka.out" 2>&1 &
  echo $! >"$RUN/kafka.pid"
  wait_kafka_metadata 120
  log "kafka ready"
}

kafka_down() {
  if pid_alive "$RUN/kafka.pid"; then
    local pid; pid="$(cat "$RUN/kafka.pid")"
    log "stopping kafka (pid $pid)"
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/kafka.pid"
}

redis_up() {
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then log "redis already running"; return; fi
  command -v redis-server >/dev/null || { log "redis-server missing: installing from Debian's packages"; apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$RUN/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RUN/redis" --logfile "$LOGS/redis.log" --pidfile "$RUN/redis.pid"
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  touch "$RUN/redis.started-by-us"
}

redis_down() {
  if [ -f "$RUN/redis.started-by-us" ] && pid_alive "$RUN/redis.pid"; then
    log "stopping redis (pid $(cat "$RUN/redis.pid"))"; kill -TERM "$(cat "$RUN/redis.pid")" || true
  fi
  rm -f "$RUN/redis.started-by-us"
}

# Redis Cluster: one redis-server per port with --cluster-enabled (its nodes.conf, data and PID file in
# .run/redis-cluster/<port>/), then `redis-cli --cluster create` assigns the 16384 slots. Idempotent: a
# cluster that answers cluster_state:ok is left alone; masters that run but hold no slots are joined.
cluster_ok() { redis-cli -h 127.0.0.1 -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

redis_cluster_up() {
  if cluster_ok; then log "redis cluster already running"; return; fi
  command -v redis-server >/dev/null || { log "redis-server missing: installing from Debian's packages"; apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
  local nodes=()
  for port in "${CLUSTER_PORTS[@]}"; do
    nodes+=("127.0.0.1:$port")
    if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then continue; fi
    log "starting redis cluster node on 127.0.0.1:$port"
    mkdir -p "$CLUSTER_HOME/$port"
    # A node whose slots were never assigned (or a cluster from another run) starts afresh.
    rm -f "$CLUSTER_HOME/$port/nodes.conf"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 5000 --save "" --appendonly no --dir "$CLUSTER_HOME/$port" \
      --logfile "$LOGS/redis-cluster-$port.log" --pidfile "$CLUSTER_HOME/$port/redis.pid"
    for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    touch "$CLUSTER_HOME/$port/started-by-us"
  done
  log "creating the redis cluster (${nodes[*]})"
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$LOGS/redis-cluster-create.log" 2>&1 \
    || { log "redis-cli --cluster create failed: see $LOGS/redis-cluster-create.log"; return 1; }
  for _ in $(seq 1 100); do cluster_ok && return; sleep 0.1; done
  log "redis cluster did not reach cluster_state:ok"; return 1
}

redis_cluster_down() {
  for port in "${CLUSTER_PORTS[@]}"; do
    local dir="$CLUSTER_HOME/$port"
    if [ -f "$dir/started-by-us" ] && pid_alive "$dir/redis.pid"; then
      log "stopping redis cluster node $port (pid $(cat "$dir/redis.pid"))"; kill -TERM "$(cat "$dir/redis.pid")" || true
    fi
    rm -f "$dir/started-by-us" "$dir/nodes.conf"
  done
}

redis_cluster_status() {
  if cluster_ok; then echo "redis cluster: running (127.0.0.1:${CLUSTER_PORTS[*]})"; else echo "redis cluster: down"; fi
}

# S3Proxy (org.gaul:s3proxy, one jar with its dependencies from Maven Central) answers the S3 API with v2/v4
# signatures over a local directory: the S3 artifact store's tests run against a real S3 server, no Docker.
s3proxy_up() {
  if pid_alive "$S3_HOME/s3proxy.pid" && port_open "$S3_PORT"; then log "s3proxy already running (pid $(cat "$S3_HOME/s3proxy.pid"))"; return; fi
  if port_open "$S3_PORT"; then log "something else listens on $S3_PORT; using it as the S3 server"; return; fi
  local jar="$S3_JARS/s3proxy-$S3_VERSION-jar-with-dependencies.jar"
  if [ ! -f "$jar" ]; then
    log "fetching S3Proxy $S3_VERSION from Maven Central (once; cached in $S3_JARS)"
    mkdir -p "$S3_JARS"
    mvn -q -B dependency:copy -Dartifact="org.gaul:s3proxy:$S3_VERSION:jar:jar-with-dependencies" -DoutputDirectory="$S3_JARS" \
      >"$LOGS/mvn-s3proxy.log" 2>&1 || { log "mvn failed, see $LOGS/mvn-s3proxy.log"; tail -20 "$LOGS/mvn-s3proxy.log" >&2; return 1; }
  fi
  mkdir -p "$S3_HOME/data"
  cat >"$S3_HOME/s3proxy.conf" <<PROPS
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=driftline
s3proxy.credential=driftline-local-secret
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3_HOME/data
PROPS
  log "starting s3proxy on 127.0.0.1:$S3_PORT (objects in $S3_HOME/data)"
  nohup java -Xms64m -Xmx256m -jar "$jar" --properties "$S3_HOME/s3proxy.conf" >"$LOGS/s3proxy.log" 2>&1 &
  echo $! >"$S3_HOME/s3proxy.pid"
  wait_started s3proxy "$S3_HOME/s3proxy.pid" "$LOGS/s3proxy.log" port_open "$S3_PORT"
}

s3proxy_down() { stop_pidfile s3proxy "$S3_HOME/s3proxy.pid" 20; }

s3proxy_status() {
  if pid_alive "$S3_HOME/s3proxy.pid" && port_open "$S3_PORT"; then echo "s3proxy: running (pid $(cat "$S3_HOME/s3proxy.pid"), http://127.0.0.1:$S3_PORT)";
  elif port_open "$S3_PORT"; then echo "s3proxy: a server not started by this script listens on $S3_PORT";
  else echo "s3proxy: down"; fi
}

clickhouse_status() {
  if [ -n "${DRIFTLINE_CLICKHOUSE_URL:-}" ]; then
    if curl -fsS "${DRIFTLINE_CLICKHOUSE_URL%/}/ping" >/dev/null 2>&1; then echo "clickhouse: server at $DRIFTLINE_CLICKHOUSE_URL answers"; else echo "clickhouse: server at $DRIFTLINE_CLICKHOUSE_URL NOT reachable"; fi
  else
    echo "clickhouse: embedded chdb (in-process, path ${DRIFTLINE_CLICKHOUSE_PATH:-.data/chdb}); nothing to start"
  fi
}

# Debian's package gives prometheus + promtool (2.42). Its maintainer scripts would start a system-wide
# prometheus on 9090: a policy-rc.d that denies service starts (unless the machine already has one) keeps
# them from doing so, and --no-install-recommends leaves out node-exporter (another daemon on 9100).
prometheus_install() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return; fi
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || { log "prometheus/promtool missing and cannot apt-get install them (needs root on Debian)"; return 1; }
  log "prometheus missing: installing Debian's prometheus package (prometheus + promtool)"
  local policy=/usr/sbin/policy-rc.d placed=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; placed=1; fi
  local rc=0
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >"$LOGS/prometheus-install.log" 2>&1) || rc=$?
  if [ -n "$placed" ]; then rm -f "$policy"; fi
  [ $rc = 0 ] || { log "apt-get install prometheus failed, see $LOGS/prometheus-install.log"; return 1; }
  # Belt and braces: if a packaged service got started anyway, stop it and keep it from starting at boot.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then systemctl stop prometheus || true; systemctl disable prometheus >/dev/null 2>&1 || true; fi
  if [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
}

write_prometheus_config() {
  local config="$PROM_DIR/prometheus.yml" entry job target
  {
    printf '# Written by scripts/services.sh prometheus-up; edit DRIFTLINE_PROMETHEUS_TARGETS instead.\n'
    printf 'global:\n  scrape_interval: %s\n  evaluation_interval: %s\n' "$PROM_INTERVAL" "$PROM_INTERVAL"
    printf 'rule_files:\n  - %s/deploy/prometheus/rules/*.yml\n' "$ROOT"
    printf 'scrape_configs:\n'
    IFS=',' read -ra entries <<<"$PROM_TARGETS"
    for entry in "${entries[@]}"; do
      job="${entry%%=*}"; target="${entry#*=}"
      [ -n "$job" ] && [ -n "$target" ] && [ "$job" != "$entry" ] || { log "DRIFTLINE_PROMETHEUS_TARGETS: '$entry' is not job=host:port"; exit 2; }
      printf '  - job_name: %s\n    static_configs:\n      - targets: ["%s"]\n' "$job" "$target"
    done
  } >"$config"
  promtool check config "$config" >"$LOGS/prometheus-check.log" 2>&1 || { log "generated config is invalid"; cat "$LOGS/prometheus-check.log" >&2; exit 1; }
}

prometheus_up() {
  if pid_alive "$PROM_DIR/prometheus.pid" && port_open "$PROM_PORT"; then log "prometheus already running (pid $(cat "$PROM_DIR/prometheus.pid"), port $PROM_PORT)"; return; fi
  if port_open "$PROM_PORT"; then log "port $PROM_PORT is taken by another process; set DRIFTLINE_PROMETHEUS_PORT"; exit 1; fi
  prometheus_install || exit 1
  mkdir -p "$PROM_DIR/data"
  write_prometheus_config
  log "starting prometheus on 127.0.0.1:$PROM_PORT (data in $PROM_DIR/data)"
  nohup prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-lifecycle >"$PROM_DIR/prometheus.log" 2>&1 &
  echo $! >"$PROM_DIR/prometheus.pid"
  wait_started prometheus "$PROM_DIR/prometheus.pid" "$PROM_DIR/prometheus.log" curl -fsS "http://127.0.0.1:$PROM_PORT/-/ready" || exit 1
}

prometheus_down() { stop_pidfile prometheus "$PROM_DIR/prometheus.pid" 40; }

prometheus_status() {
  if pid_alive "$PROM_DIR/prometheus.pid" && port_open "$PROM_PORT"; then echo "prometheus: running (pid $(cat "$PROM_DIR/prometheus.pid"), 127.0.0.1:$PROM_PORT)";
  elif command -v promtool >/dev/null; then echo "prometheus: installed, not started (scripts/services.sh prometheus-up)";
  else echo "prometheus: not installed"; fi
}

status() {
  if pid_alive "$RUN/kafka.pid" && port_open "$KAFKA_PORT"; then echo "kafka: running (pid $(cat "$RUN/kafka.pid"), 127.0.0.1:$KAFKA_PORT)";
  elif port_open "$KAFKA_PORT"; then echo "kafka: a broker not started by this script listens on $KAFKA_PORT";
  else echo "kafka: down"; fi
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then echo "redis: running (127.0.0.1:$REDIS_PORT)"; else echo "redis: down"; fi
  redis_cluster_status
  clickhouse_status
  prometheus_status
  s3proxy_status
}

case "${1:-status}" in
  # Not fatal for `up`: without promtool only the Prometheus tests fail (and say why), not every test.
  up) redis_up; redis_cluster_up; kafka_up; s3proxy_up || log "s3proxy did not start: the S3 artifact-store tests will fail"; prometheus_install || log "prometheus/promtool are not installed: the Prometheus rule and integration tests will fail"; status ;;
  down) prometheus_down; s3proxy_down; kafka_down; redis_cluster_down; redis_down; status ;;
  status) status ;;
  kafka-up) kafka_up ;;
  kafka-down) kafka_down ;;
  redis-up) redis_up ;;
  redis-down) redis_down ;;
  redis-cluster-up) redis_cluster_up ;;
  redis-cluster-down) redis_cluster_down ;;
  prometheus-install) prometheus_install || exit 1 ;;
  prometheus-up) prometheus_up ;;
  s3proxy-up) s3proxy_up ;;
  s3proxy-down) s3proxy_down ;;
  prometheus-down) prometheus_down ;;
  reset) kafka_down; rm -rf "$KAFKA_HOME/data"; log "kafka data removed" ;;
  *) echo "usage: $0 up|down|status|reset|kafka-up|kafka-down|redis-up|redis-down|redis-cluster-up|redis-cluster-down|prometheus-install|prometheus-up|prometheus-down" >&2; exit 2 ;;
esac
