#!/usr/bin/env bash
# Compose entrypoint for a streaming replica: clone the primary with pg_basebackup -R (writes
# standby.signal + primary_conninfo, creates a physical slot), then run postgres as a hot standby.
# The native stack does the same in infra/local/up.sh.
set -euo pipefail
: "${PRIMARY_HOST:?}" "${REPLICA_SLOT:?}"
export PGPASSWORD="${POSTGRES_PASSWORD:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -U postgres -q; do echo "waiting for $PRIMARY_HOST"; sleep 1; done
  psql -h "$PRIMARY_HOST" -U postgres -Atc "SELECT pg_drop_replication_slot('$REPLICA_SLOT') FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'" >/dev/null
  pg_basebackup -h "$PRIMARY_HOST" -U postgres -D "$PGDATA" -R -X stream -c fast -C -S "$REPLICA_SLOT"
  chmod 0700 "$PGDATA"
fi
exec postgres -D "$PGDATA"
