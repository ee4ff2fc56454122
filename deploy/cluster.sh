#!/usr/bin/env bash
# A local Twostep cluster: nginx on 127.0.0.1:$CLUSTER_PORT in front of 3 gunicorn instances
# on other loopback ports, all on one PostgreSQL database and one Redis.
#
#   deploy/cluster.sh start    start everything in the background (prints how to stop)
#   deploy/cluster.sh stop     stop nginx and the instances (the database is kept)
#   deploy/cluster.sh status   one line per process, with /readyz of each instance
#   deploy/cluster.sh restart  rolling restart, one instance at a time (after editing
#                              secrets.env, e.g. for a key-ring rotation); nginx sends the
#                              traffic to the others meanwhile
#   deploy/cluster.sh env      print the environment an instance runs with (secrets hidden)
#   deploy/cluster.sh manage COMMAND ...   a management command with the instances' environment
#                              (e.g. manage create_user ..., manage rotate_keyring)
#
# Settings (environment; defaults in brackets):
#   CLUSTER_PORT [8080]                   nginx's port on 127.0.0.1
#   CLUSTER_INSTANCE_PORTS ["8101 8102 8103"]   one gunicorn per port, on 127.0.0.1
#   CLUSTER_WORKERS [2]                   gunicorn workers per instance
#   CLUSTER_DB [twostep_cluster]          PostgreSQL database, created when missing
#   CLUSTER_PG [postgresql://postgres@127.0.0.1:5432]   PostgreSQL server (no database part)
#   REDIS_URL [redis://127.0.0.1:6379/0]  Redis for the session cache
#   CLUSTER_DIR [var/cluster]             pid files, logs, secrets.env, rendered nginx.conf
#   CLUSTER_DEMO [1]                      1: create the demo office on an empty database
#   TWOSTEP_ENV [development]             plain HTTP on loopback needs development mode
#                                         (production sets Secure cookies; see docs/deployment.md)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CLUSTER_BIN:-$ROOT/.venv/bin}
CLUSTER_PORT=${CLUSTER_PORT:-8080}
CLUSTER_INSTANCE_PORTS=${CLUSTER_INSTANCE_PORTS:-8101 8102 8103}
CLUSTER_WORKERS=${CLUSTER_WORKERS:-2}
CLUSTER_DB=${CLUSTER_DB:-twostep_cluster}
CLUSTER_PG=${CLUSTER_PG:-postgresql://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
CLUSTER_DIR=${CLUSTER_DIR:-$ROOT/var/cluster}
CLUSTER_DEMO=${CLUSTER_DEMO:-1}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
SECRETS=$CLUSTER_DIR/secrets.env

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { [ -s "$1" ] && cat "$1" || true; }

ensure_secrets() {
    # Generated once; every instance reads the same file, so sessions, CSRF tokens and the
    # encrypted 2FA keys work on every instance.
    [ -s "$SECRETS" ] && return
    mkdir -p "$CLUSTER_DIR"
    (
        umask 077
        "$BIN/python" - >"$SECRETS.tmp" <<'PY'
import base64, secrets
print("TWOSTEP_SECRET_KEY=" + secrets.token_urlsafe(50))
print("TWOSTEP_KEY_RING=k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
PY
        mv "$SECRETS.tmp" "$SECRETS"
    )
    log "generated $SECRETS (keep it: the key ring opens the stored 2FA keys)"
}

instance_env() {
    # The environment of one instance, as KEY=VALUE lines for `env`.
    # shellcheck disable=SC1090
    . "$SECRETS"
    cat <<ENV
TWOSTEP_ENV=${TWOSTEP_ENV:-development}
DATABASE_URL=$CLUSTER_PG/$CLUSTER_DB
REDIS_URL=$REDIS_URL
TWOSTEP_SECRET_KEY=$TWOSTEP_SECRET_KEY
TWOSTEP_KEY_RING=$TWOSTEP_KEY_RING
TWOSTEP_DATA_DIR=$CLUSTER_DIR/data
TWOSTEP_EMAIL_FILE_PATH=${TWOSTEP_EMAIL_FILE_PATH:-$CLUSTER_DIR/mail}
TWOSTEP_ALLOWED_HOSTS=${TWOSTEP_ALLOWED_HOSTS:-127.0.0.1,localhost}
TWOSTEP_TRUSTED_PROXY_COUNT=1
DJANGO_SETTINGS_MODULE=twostep.settings
ENV
}

run_with_env() {
    # Run a command with only the instance environment (plus PATH/HOME/LANG/PYTHONPATH).
    local -a vars
    mapfile -t vars < <(instance_env)
    env -i PATH="$PATH" HOME="${HOME:-/root}" LANG="${LANG:-C.UTF-8}" \
        ${PYTHONPATH:+PYTHONPATH="$PYTHONPATH"} "${vars[@]}" "$@"
}

ensure_database() {
    command -v psql >/dev/null || die "psql is missing (apt-get install postgresql-client)"
    local exists
    exists=$(psql "$CLUSTER_PG/postgres" -XtAc \
        "SELECT 1 FROM pg_database WHERE datname = '$CLUSTER_DB'") ||
        die "PostgreSQL is not reachable at $CLUSTER_PG (make services starts it)"
    if [ "$exists" != 1 ]; then
        psql "$CLUSTER_PG/postgres" -Xqc "CREATE DATABASE \"$CLUSTER_DB\"" >/dev/null
        log "created database $CLUSTER_DB"
    fi
}

wait_ready() {  # url, seconds
    local url=$1 deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)" = 200 ] && return 0
        sleep 0.2
    done
    return 1
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_instance() {
    local port=$1 pidfile=$CLUSTER_DIR/instance-$1.pid logfile=$CLUSTER_DIR/instance-$1.log
    if alive "$(pid_of "$pidfile")"; then
        log "instance 127.0.0.1:$port already runs (pid $(pid_of "$pidfile"))"
        return
    fi
    port_free "$port" || die "port $port is taken by another program"
    rm -f "$pidfile"
    # setsid: the instance has its own session, so Ctrl-C in the shell that started it, or
    # the end of `make`, does not reach it; `stop` does.
    run_with_env setsid "$BIN/gunicorn" twostep.wsgi:application \
        --bind "127.0.0.1:$port" --workers "$CLUSTER_WORKERS" \
        --pid "$pidfile" --graceful-timeout 10 --timeout 60 \
        --forwarded-allow-ips 127.0.0.1 --name "twostep-$port" \
        >>"$logfile" 2>&1 </dev/null &
}

render_nginx() {
    local servers="" port user_line=""
    for port in $CLUSTER_INSTANCE_PORTS; do
        servers+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
    done
    mkdir -p "$CLUSTER_DIR/nginx-tmp"
    if [ "$(id -u)" = 0 ]; then
        # nginx started as root drops its workers to an unprivileged user.
        local user=www-data
        id "$user" >/dev/null 2>&1 || user=nobody
        user_line="user $user;"
        chown "$user" "$CLUSTER_DIR/nginx-tmp"
    fi
    awk -v servers="${servers%$'\n'}" -v dir="$CLUSTER_DIR" -v port="$CLUSTER_PORT" \
        -v user="$user_line" '
        { gsub(/@CLUSTER_DIR@/, dir); gsub(/@CLUSTER_PORT@/, port); gsub(/@NGINX_USER@/, user) }
        /@UPSTREAM_SERVERS@/ { print servers; next }
        { print }' "$ROOT/deploy/nginx.conf.template" >"$CLUSTER_DIR/nginx.conf"
}

nginx_cmd() {
    "$NGINX" -p "$CLUSTER_DIR" -c "$CLUSTER_DIR/nginx.conf" -e "$CLUSTER_DIR/nginx-error.log" "$@"
}

start() {
    [ -x "$BIN/gunicorn" ] || die "no $BIN/gunicorn: run make install"
    [ -x "$NGINX" ] || die "nginx is missing: make system-deps (apt-get install nginx)"
    mkdir -p "$CLUSTER_DIR/data"
    ensure_secrets
    ensure_database
    log "migrating $CLUSTER_DB"
    run_with_env "$BIN/python" -m twostep migrate --noinput >"$CLUSTER_DIR/migrate.log" 2>&1 ||
        { cat "$CLUSTER_DIR/migrate.log" >&2; die "migrate failed"; }
    if [ "$CLUSTER_DEMO" = 1 ]; then
        run_with_env "$BIN/python" -m twostep ensure_demo >&2
    fi
    local port
    for port in $CLUSTER_INSTANCE_PORTS; do start_instance "$port"; done
    for port in $CLUSTER_INSTANCE_PORTS; do
        if ! wait_ready "http://127.0.0.1:$port/readyz" 60; then
            tail -n 30 "$CLUSTER_DIR/instance-$port.log" >&2 || true
            stop
            die "instance 127.0.0.1:$port did not become ready"
        fi
    done
    if ! alive "$(pid_of "$CLUSTER_DIR/nginx.pid")"; then
        port_free "$CLUSTER_PORT" || { stop; die "port $CLUSTER_PORT is taken by another program"; }
        render_nginx
        nginx_cmd -t -q || { stop; die "nginx configuration test failed"; }
        nginx_cmd
    fi
    wait_ready "http://127.0.0.1:$CLUSTER_PORT/healthz" 20 || { stop; die "nginx did not answer"; }
    cat >&2 <<MSG
cluster: up: http://127.0.0.1:$CLUSTER_PORT/ (nginx) -> 127.0.0.1:{${CLUSTER_INSTANCE_PORTS// /,}}
cluster: database $CLUSTER_PG/$CLUSTER_DB, Redis $REDIS_URL, logs in $CLUSTER_DIR
cluster: status: deploy/cluster.sh status     stop: deploy/cluster.sh stop
MSG
}

stop_pid() {  # pid, seconds: TERM, wait, then KILL the process and its children
    local pid=$1 deadline=$((SECONDS + $2))
    alive "$pid" || return 0
    local children
    children=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if alive "$pid"; then
        # shellcheck disable=SC2086
        kill -KILL "$pid" $children 2>/dev/null || true
    fi
}

stop() {
    local pidfile pid
    if [ -s "$CLUSTER_DIR/nginx.pid" ]; then
        pid=$(pid_of "$CLUSTER_DIR/nginx.pid")
        if alive "$pid"; then
            nginx_cmd -s quit 2>/dev/null || kill -QUIT "$pid" 2>/dev/null || true
            stop_pid "$pid" 10
        fi
        rm -f "$CLUSTER_DIR/nginx.pid"
    fi
    for pidfile in "$CLUSTER_DIR"/instance-*.pid; do
        [ -e "$pidfile" ] || continue
        stop_pid "$(pid_of "$pidfile")" 15
        rm -f "$pidfile"
    done
    # Workers of a master killed with SIGKILL notice and exit on their own within a second;
    # stragglers of this cluster's own instances (their exact command line) are ended.
    local port
    for port in $CLUSTER_INSTANCE_PORTS; do
        for pid in $(pgrep -f "^$BIN/python[0-9.]* $BIN/gunicorn twostep.wsgi:application --bind 127.0.0.1:$port " || true); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    log "stopped (data kept in $CLUSTER_PG/$CLUSTER_DB)"
}

restart() {
    [ -s "$SECRETS" ] || die "no cluster in $CLUSTER_DIR: use start"
    local port
    for port in $CLUSTER_INSTANCE_PORTS; do
        stop_pid "$(pid_of "$CLUSTER_DIR/instance-$port.pid")" 15
        rm -f "$CLUSTER_DIR/instance-$port.pid"
        start_instance "$port"
        wait_ready "http://127.0.0.1:$port/readyz" 60 || die "instance 127.0.0.1:$port did not come back"
        log "instance 127.0.0.1:$port restarted"
    done
}

status() {
    local port pid code rc=0
    for port in $CLUSTER_INSTANCE_PORTS; do
        pid=$(pid_of "$CLUSTER_DIR/instance-$port.pid")
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$port/readyz" || true)
        if alive "$pid"; then
            echo "instance 127.0.0.1:$port  pid $pid  workers $(pgrep -P "$pid" | wc -l)  /readyz $code"
        else
            echo "instance 127.0.0.1:$port  down"
            rc=1
        fi
        [ "$code" = 200 ] || rc=1
    done
    pid=$(pid_of "$CLUSTER_DIR/nginx.pid")
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$CLUSTER_PORT/healthz" || true)
    if alive "$pid"; then
        echo "nginx    127.0.0.1:$CLUSTER_PORT  pid $pid  /healthz $code"
    else
        echo "nginx    127.0.0.1:$CLUSTER_PORT  down"
        rc=1
    fi
    return $rc
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
restart) restart ;;
manage) shift; ensure_secrets; run_with_env "$BIN/python" -m twostep "$@" ;;
env) ensure_secrets && instance_env | sed -E 's/^(TWOSTEP_SECRET_KEY|TWOSTEP_KEY_RING)=.*/\1=(in secrets.env)/' ;;
*) echo "usage: $0 start|stop|status|restart|env|manage COMMAND..." >&2; exit 2 ;;
esac
