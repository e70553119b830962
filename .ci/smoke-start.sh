#!/usr/bin/env bash
# What a newcomer does on a fresh clone: `npm start` (after the install), then a first request.
# Fails unless the stack comes up on the default ports, answers, and stops cleanly on SIGINT.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for port in 8080 4317 4318 8123; do
  if node -e "require('net').createConnection($port, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"; then
    echo "port $port is already taken on this machine; the smoke test of npm start needs the default ports"
    exit 1
  fi
done
# Its own process group, so the signal reaches npm and the node process it runs (as Ctrl-C does).
TRACEGATE_DATA="$work/data" setsid npm start >"$work/start.log" 2>&1 &
pid=$!
ok=""
for _ in $(seq 1 120); do
  if node -e '
    fetch("http://127.0.0.1:8080/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tracegate-sim-1", messages: [{ role: "user", content: "Hello from CI" }] }),
    }).then(async (r) => { const j = await r.json(); if (!r.ok || !j.choices?.[0]?.message?.content) process.exit(1); console.log("first answer:", j.choices[0].message.content.slice(0, 80)); })
      .catch(() => process.exit(1));' 2>/dev/null; then
    ok=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
kill -INT -- "-$pid" 2>/dev/null || true
for _ in $(seq 1 60); do
  kill -0 -- "-$pid" 2>/dev/null || break
  sleep 0.5
done
if kill -0 -- "-$pid" 2>/dev/null; then
  echo "npm start did not stop within 30 s of Ctrl-C; its output:"
  cat "$work/start.log"
  kill -KILL -- "-$pid" 2>/dev/null || true
  exit 1
fi
if [ -z "$ok" ] || ! grep -q "tracegate is running" "$work/start.log" || ! grep -q "stopped cleanly" "$work/start.log"; then
  echo "npm start did not serve a first request and stop cleanly; its output:"
  cat "$work/start.log"
  exit 1
fi
echo "npm start: came up, served a first request, stopped cleanly on Ctrl-C"
