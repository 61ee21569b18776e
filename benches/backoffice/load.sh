#!/usr/bin/env bash
# Load on the back office's client list (issues 17 and 22), with wrk (Debian:
# apt install wrk) as a separate process on loopback, 64 connections, 10 s
# per run: one instance on SQLite; then one instance on PostgreSQL and two
# on the same PostgreSQL (the connections split over them), with the CPU
# PostgreSQL and the instances used. Every read is authorized, masked (an
# Operator sees phones and e-mails masked) and its decision durably recorded
# in the tenant's audit log before the answer leaves.
#
#   bash benches/backoffice/load.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test --release -q -p palisade-backoffice --test load -- \
    --ignored --nocapture --test-threads 1
