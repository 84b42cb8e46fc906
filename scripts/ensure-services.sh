#!/usr/bin/env bash
# Makes sure the servers the tests talk to are up on loopback: PostgreSQL :5432, NATS with
# JetStream :4222, Redis :6379. Starts one that is installed but stopped; installs it from the
# distribution's packages when it is missing; fails loudly when it cannot be had.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do port_open "$port" && return 0; sleep 0.5; done
  echo "ensure-services: $name is not listening on 127.0.0.1:$port" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "ensure-services: need root to install $*" >&2; return 1; fi
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq >/dev/null && APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  port_open 5432 && return 0
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "ensure-services: installing PostgreSQL" >&2
    apt_install postgresql || return 1
    local ver; ver=$(ls /etc/postgresql | sort -n | tail -1)
    # Local test server: trust on loopback, as on the project's machines.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "/etc/postgresql/$ver/main/pg_hba.conf"
  fi
  local ver; ver=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
  wait_port 5432 PostgreSQL || return 1
  for db in test root; do
    psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -d postgres -c "create database $db" >/dev/null
  done
}

ensure_nats() {
  port_open 4222 && return 0
  command -v nats-server >/dev/null || { echo "ensure-services: installing NATS" >&2; apt_install nats-server || return 1; }
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 4222 NATS
}

ensure_redis() {
  port_open 6379 && return 0
  command -v redis-server >/dev/null || { echo "ensure-services: installing Redis" >&2; apt_install redis-server || return 1; }
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_port 6379 Redis
}

rc=0
ensure_postgres || { echo "ensure-services: PostgreSQL cannot be had" >&2; rc=1; }
ensure_nats || { echo "ensure-services: NATS cannot be had" >&2; rc=1; }
ensure_redis || { echo "ensure-services: Redis cannot be had" >&2; rc=1; }
exit $rc
