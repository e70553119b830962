#!/usr/bin/env bash
# What a newcomer does on a fresh clone: `npm start` (after the install), then a first request.
# Fails unless the stack comes up on the default ports, answers, and stops cleanly.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
TRACEGATE_DATA="$work/data" npm start >"$work/start.log" 2>&1 &
pid=$!
ok=""
for _ in $(seq 1 120); do
  if node -e '
    fetch("http://127.0.0.1:8080/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tracegate-sim-1", messages: [{ role: "user", content: "Hello from CI" }] }),
    }).then(async (r) => { const j = await r.json(); if (!r.ok || !j.choices?.[0]?.message?.content) process.exit(1); console.log("first answer:", j.choices[0].message.content.slice(0, 80)); })
      .catch(() => process.exit(1));'; then
    ok=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
if [ -z "$ok" ]; then
  echo "npm start did not serve a first request; its output:"
  cat "$work/start.log"
  exit 1
fi
grep -q "tracegate is running" "$work/start.log"
echo "npm start: came up and served a first request"
