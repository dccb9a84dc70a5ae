#!/usr/bin/env bash
# A local Label Studio server for annotation, the demo and the integration tests.
#
#   bash scripts/labelstudio.sh start|stop|status
#
# Label Studio lives in its own virtual environment (it pins Django, pyarrow and numpy versions the
# toolkit must not inherit); the toolkit talks to it through label-studio-sdk only.
#
# State (git-ignored), under LS_HOME (default: <repo>/.labelstudio):
#   env         LABEL_STUDIO_URL=, LABEL_STUDIO_API_KEY= and the document root (mode 600), read by
#               edu_affect_data (clip URLs are paths below the document root)
#   secrets     admin e-mail, password and legacy API token, generated at first start (mode 600)
#   data/       SQLite database and uploads;  server.log;  server.pid
# The venv is LS_VENV (default: <repo>/.labelstudio/venv), shared by every LS_HOME, so a second
# instance (own LS_HOME and LS_PORT, as one integration test does) costs no reinstall.
#
# Settings (environment): LS_PORT (default: the port of the previous start if free, else a free one),
# LS_VERSION (default 1.23.2), LS_DOCUMENT_ROOT (default /).
#
# Security trade-off of LS_DOCUMENT_ROOT=/: Label Studio serves local files only below a
# local-files storage path that an authenticated user has created, and the storage path must lie
# under the document root. A root of / lets clips live anywhere (build outputs, pytest temp
# folders, the demo) without configuration, but any account able to create storages could then
# expose any file this user can read. The server listens on 127.0.0.1 only and sign-up needs an
# invite link; on a shared or exposed machine set LS_DOCUMENT_ROOT to the folder that holds your
# media roots.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LS_HOME="${LS_HOME:-$REPO/.labelstudio}"
LS_VENV="${LS_VENV:-$REPO/.labelstudio/venv}"
LS_VERSION="${LS_VERSION:-1.23.2}"
LS_DOCUMENT_ROOT="${LS_DOCUMENT_ROOT:-/}"
PID_FILE="$LS_HOME/server.pid"
LOG_FILE="$LS_HOME/server.log"
ENV_FILE="$LS_HOME/env"
SECRETS_FILE="$LS_HOME/secrets"
START_TIMEOUT_S="${LS_START_TIMEOUT_S:-240}"

say() { printf 'labelstudio: %s\n' "$*" >&2; }

running_pid() {
  # Prints the PID of the server this LS_HOME started, if it is still alive.
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && { echo "$pid"; return 0; }
  return 1
}

env_value() {  # env_value KEY FILE
  sed -n "s/^$1=//p" "$2" 2>/dev/null | head -n 1
}

ensure_venv() {
  if [[ -x "$LS_VENV/bin/label-studio" ]]; then
    return
  fi
  say "installing label-studio $LS_VERSION into $LS_VENV (about 1 GB, first time only)"
  python3 -m venv "$LS_VENV"
  "$LS_VENV/bin/pip" install -q --upgrade pip
  "$LS_VENV/bin/pip" install -q "label-studio==$LS_VERSION"
}

ensure_secrets() {
  umask 077
  mkdir -p "$LS_HOME"
  if [[ ! -s "$SECRETS_FILE" ]]; then
    python3 - "$SECRETS_FILE" <<'PY'
import secrets, sys
with open(sys.argv[1], "w") as out:
    out.write("LS_ADMIN_EMAIL=admin@edu-affect.local\n")
    out.write(f"LS_ADMIN_PASSWORD={secrets.token_urlsafe(18)}\n")
    out.write(f"LS_ADMIN_TOKEN={secrets.token_hex(20)}\n")
PY
  fi
  chmod 600 "$SECRETS_FILE"
}

pick_port() {
  local previous
  previous="$(env_value LABEL_STUDIO_URL "$ENV_FILE" | sed -n 's/.*:\([0-9][0-9]*\)$/\1/p')"
  python3 - "${LS_PORT:-}" "$previous" <<'PY'
import socket, sys
wanted, previous = sys.argv[1], sys.argv[2]

def free(port: int) -> bool:
    # SO_REUSEADDR as the server itself binds: a port in TIME_WAIT after a stop counts as free,
    # so a restart keeps its URL and clients waiting on it reconnect.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True

if wanted:
    if not free(int(wanted)):
        sys.exit(f"labelstudio: port {wanted} (LS_PORT) is taken")
    print(wanted)
elif previous and free(int(previous)):
    print(previous)
else:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1])
PY
}

start() {
  local pid
  if pid="$(running_pid)"; then
    say "already running (pid $pid) at $(env_value LABEL_STUDIO_URL "$ENV_FILE")"
    return 0
  fi
  ensure_venv
  ensure_secrets
  local port url
  port="$(pick_port)"
  url="http://127.0.0.1:$port"
  mkdir -p "$LS_HOME/data"
  # shellcheck disable=SC1090
  source "$SECRETS_FILE"
  say "starting on $url (log: $LOG_FILE)"
  (
    export DJANGO_DB=sqlite
    export LABEL_STUDIO_BASE_DATA_DIR="$LS_HOME/data"
    export LABEL_STUDIO_USERNAME="$LS_ADMIN_EMAIL" LABEL_STUDIO_PASSWORD="$LS_ADMIN_PASSWORD"
    export LABEL_STUDIO_USER_TOKEN="$LS_ADMIN_TOKEN"
    export LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true
    export LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true
    export LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true
    export LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT="$LS_DOCUMENT_ROOT"
    export LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false FEATURE_FLAGS_OFFLINE=true
    export SENTRY_DSN= FRONTEND_SENTRY_DSN=
    # The web UI makes the server fetch a tips file from the internet: fail that at once.
    export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
    exec setsid "$LS_VENV/bin/label-studio" start --no-browser --internal-host 127.0.0.1 \
      --port "$port" --data-dir "$LS_HOME/data"
  ) >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  local waited=0
  until curl -fsS --noproxy '*' -o /dev/null "$url/health" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      say "the server exited during start; last lines of $LOG_FILE:"
      tail -n 20 "$LOG_FILE" >&2
      return 1
    fi
    if ((waited >= START_TIMEOUT_S)); then
      say "no answer on $url/health after ${START_TIMEOUT_S}s; stopping it (see $LOG_FILE)"
      stop
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  umask 077
  printf 'LABEL_STUDIO_URL=%s\nLABEL_STUDIO_API_KEY=%s\nLABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=%s\n' \
    "$url" "$LS_ADMIN_TOKEN" "$LS_DOCUMENT_ROOT" >"$ENV_FILE"
  chmod 600 "$ENV_FILE"
  say "ready at $url after ${waited}s (pid $pid); credentials in $ENV_FILE"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    rm -f "$PID_FILE"
    return 0
  fi
  # setsid made the server its own process group leader: stop it with everything it spawned.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= 20)); then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE"
  say "stopped (pid $pid)"
}

status() {
  local pid url
  url="$(env_value LABEL_STUDIO_URL "$ENV_FILE")"
  if pid="$(running_pid)"; then
    if curl -fsS --noproxy '*' -o /dev/null "$url/health" 2>/dev/null; then
      say "running (pid $pid) at $url, healthy"
    else
      say "running (pid $pid) at $url, not answering /health yet"
    fi
    return 0
  fi
  say "not running"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
