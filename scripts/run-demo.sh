#!/usr/bin/env bash
# `make run`: the embedded default on loopback — SQLite, local folders, demo keys.
# Public site, its sync listener and the officer app, each under gunicorn, until Ctrl-C.
# `IBLAGH_ONION=1 make run` also publishes the public site and the sync listener as onion
# services through a tor launched by `iblagh-tor serve` (needs Debian's tor and the network).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
VAR=${IBLAGH_VAR:-var}
HOST=127.0.0.1
PUBLIC_PORT=${IBLAGH_PUBLIC_PORT:-8080}
SYNC_PORT=${IBLAGH_SYNC_PORT:-8081}
OFFICER_PORT=${IBLAGH_OFFICER_PORT:-8082}
ONION=${IBLAGH_ONION:-0}
# A port already taken would leave the other program answering in our place: refuse now,
# before anything is made, naming the port and the variable that moves it.
for setting in "IBLAGH_PUBLIC_PORT=$PUBLIC_PORT" "IBLAGH_SYNC_PORT=$SYNC_PORT" \
  "IBLAGH_OFFICER_PORT=$OFFICER_PORT"; do
  port=${setting#*=}
  if ! "$BIN/python" - "$HOST" "$port" 2>/dev/null <<'PY'
import socket, sys
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
    s.bind((sys.argv[1], int(sys.argv[2])))
PY
  then
    echo "make run: port $port on $HOST is already in use (another program, or an earlier" \
      "make run still running). Stop it, or choose another port: ${setting%%=*}=NNNN make run" >&2
    exit 1
  fi
done

# Everything made from here on (logs, data, keys) is for this user only; logs made by an
# earlier run with a looser umask are closed too: the officer's log names the cases opened.
umask 077
mkdir -p "$VAR/source" "$VAR/officer" "$VAR/log"
chmod 700 "$VAR/source" "$VAR/officer" "$VAR/log"
find "$VAR/log" -type f -exec chmod 600 {} +

# Demo unit keys and officer (first run only); installs the signed recipient set and
# the unit verify key where the public host reads them.
# Also the demo referral partners: their keys in the directory, their secret keys in stock
# GnuPG homes under $VAR/demo-partners/ (the receiving side; README.txt there).
login=$(IBLAGH_DATA_DIR="$VAR/officer" "$BIN/iblagh-officer" demo-init --public-out "$VAR/source" \
  --partners-out "$VAR/demo-partners")

# No worker runs yet: remove whatever a previous crash left half-written.
IBLAGH_DATA_DIR="$VAR/source" "$BIN/iblagh-source" recover

# Onion keys (first run only) and a client key for the demo officer host; the public
# site then names its onion address in Onion-Location.
if [ "$ONION" = 1 ]; then
  command -v "${IBLAGH_TOR_BINARY:-tor}" >/dev/null || {
    echo "IBLAGH_ONION=1 needs tor: apt-get install tor" >&2; exit 1; }
  onion() { IBLAGH_DATA_DIR="$VAR/source" "$BIN/iblagh-tor" "$@"; }
  onion init --no-officer-key >/dev/null
  if [ -z "$(ls -A "$VAR/source/tor/sync-clients")" ]; then
    auth="$VAR/officer/tor-auth/iblagh-sync.auth_private"
    rm -f "$auth"
    key=$(onion client-key --sync-onion "$(onion address sync)" --out "$auth" |
      sed -n 's/.*--public-key //p')
    onion authorise-officer --name demo --public-key "$key" >/dev/null
  fi
  export IBLAGH_ONION_ADDRESS
  IBLAGH_ONION_ADDRESS=$(onion address public)
fi

pids=()
cleanup() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

start() {  # name port workers data-dir gunicorn-args...
  local name=$1 port=$2 workers=$3 data=$4; shift 4
  IBLAGH_DATA_DIR="$data" IBLAGH_SYNC_URL="http://$HOST:$SYNC_PORT" "$BIN/gunicorn" \
    --bind "$HOST:$port" --workers "$workers" --threads 4 --no-control-socket "$@" \
    >>"$VAR/log/$name.log" 2>&1 &
  pids+=($!)
}

# The public host's logs hold no address and no query string (source_app/gunicorn_conf.py).
start public "$PUBLIC_PORT" 2 "$VAR/source" \
  --config python:source_app.gunicorn_conf 'source_app:create_app()'
start sync "$SYNC_PORT" 1 "$VAR/source" \
  --config python:source_app.gunicorn_conf 'source_app:create_sync_app()'
# The officer app keeps unlocked keys in process memory: exactly one worker. No banner,
# no core dump (journalist_app/gunicorn_conf.py).
start officer "$OFFICER_PORT" 1 "$VAR/officer" \
  --config python:journalist_app.gunicorn_conf 'journalist_app.wsgi:app'
if [ "$ONION" = 1 ]; then
  IBLAGH_TOR_PUBLIC_TARGET="$HOST:$PUBLIC_PORT" IBLAGH_TOR_SYNC_TARGET="$HOST:$SYNC_PORT" \
    onion serve >>"$VAR/log/onion.log" 2>&1 &
  pids+=($!)
fi

# Each app must answer on its port while its process lives; one that died at start (a
# port taken meanwhile, a bad setting) stops the whole run with its log's last lines.
names=(public sync officer)
ports=("$PUBLIC_PORT" "$SYNC_PORT" "$OFFICER_PORT")
for i in 0 1 2; do
  up=0
  for _ in $(seq 1 300); do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "make run: the ${names[$i]} app stopped at start (port ${ports[$i]})." \
        "Its log, $VAR/log/${names[$i]}.log, ends:" >&2
      tail -n 15 "$VAR/log/${names[$i]}.log" >&2
      exit 1
    fi
    if "$BIN/python" -c "import socket; socket.create_connection(('$HOST', ${ports[$i]}), 1)" \
      2>/dev/null; then
      up=1
      break
    fi
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    echo "make run: the ${names[$i]} app did not answer on port ${ports[$i]} within 30 s;" \
      "see $VAR/log/${names[$i]}.log" >&2
    exit 1
  fi
done
# gunicorn answers from its master before a worker that fails to boot exits it: look again.
sleep 1
for i in 0 1 2; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "make run: the ${names[$i]} app stopped at start (port ${ports[$i]})." \
      "Its log, $VAR/log/${names[$i]}.log, ends:" >&2
    tail -n 15 "$VAR/log/${names[$i]}.log" >&2
    exit 1
  fi
done

onion_info=""
if [ "$ONION" = 1 ]; then
  for _ in $(seq 1 300); do
    grep -q "PoW defence" "$VAR/log/onion.log" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { tail -n 5 "$VAR/log/onion.log" >&2; exit 1; }
    sleep 0.1
  done
  onion_info="
  Onion site (Tor Browser): http://$IBLAGH_ONION_ADDRESS/  (reachable once tor is online)
  Sync onion (officer):     http://$(onion address sync)/  (client key: $VAR/officer/tor-auth/)
  Onion log: $VAR/log/onion.log
"
fi

cat <<INFO

  Iblagh is running (embedded default: SQLite and local folders under $VAR/).

  Public site (reporters):   http://$HOST:$PUBLIC_PORT/
  Officer app:               http://$HOST:$OFFICER_PORT/
  Sync listener (officer):   http://$HOST:$SYNC_PORT/sync/v1/  (signed requests only)
$onion_info
$login

  Make a report on the public site, then press "Sync" in the officer app.
  Referral: open the case, set its territory, mark it triaged, press "Referral", build
  and send; open the packet and sign the acknowledgement as the receiving unit with
  stock gpg: $VAR/demo-partners/README.txt
  Logs: $VAR/log/   Stop: Ctrl-C

INFO
wait -n "${pids[@]}"
