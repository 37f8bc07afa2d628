#!/usr/bin/env bash
# Compose init script for the primary: let replicas on the compose network stream WAL.
set -euo pipefail
echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
