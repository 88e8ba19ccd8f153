#!/bin/sh
# The main job on the bundled demo register: load it into a SQLite ledger and ask.
# Safe to run again: every demo line has an id, so a second run appends nothing.
set -eu
here=$(dirname "$0")
export LEDGER_STORE="${LEDGER_STORE:-sqlite:///demo.db}"
echo "== store: $LEDGER_STORE"
ledger policy add "$here/zhangye-sections.json"
ledger append "$here/demo-register-2024.jsonl" --actor 办公室-王敏
ledger append "$here/demo-corrections-2024.jsonl" --actor 办公室-王敏
echo "== who was responsible for SHZ-2024-0001 on 2024-04-19 at 17:00?"
ledger who SHZ-2024-0001 --at 2024-04-19T17:00:00+08:00
echo "== liability findings as of 2024-12-01"
ledger findings --at 2024-12-01T00:00:00+08:00
echo "== overdue on 2024-12-01 at 00:00"
ledger overdue --at 2024-12-01T00:00:00+08:00
