#!/usr/bin/env bash
# One-shot `keys` job of docker-compose.yml: the dev stack's secrets, written to the shared `keys` volume
# (mounted read-only at /keys by every other container) as env files that Node reads with --env-file:
#   public.env         AUTH_JWT_PUBLIC_JWK                        every service (verifies bearer tokens)
#   gateway.env        AUTH_JWT_PRIVATE_JWK, DEMO_ADMIN_SECRET    the gateway (POST /auth/demo-token)
#   service-token.env  INVENTORY_SERVICE_TOKEN                    order API + worker (admin calls to inventory)
#   k6.env             DEMO_ADMIN_SECRET                          the k6 container (admin demo token for setup)
# The key pair and the admin secret are made once and kept with the volume (`docker compose down -v`
# makes new ones); the service token is minted again on every run, so it never expires on a long-lived stack.
# The same roles as .local/auth.env and infra/local/services-up.sh on the native stack.
set -euo pipefail
KEYS=${KEYS_DIR:-/keys}
TOKEN_TTL_SECONDS=${SERVICE_TOKEN_TTL_SECONDS:-2592000} # 30 days
umask 022 # dev stack: every container user (node, uid 1000) must read them
cd "$(dirname "$0")/../.."

if [ ! -s "$KEYS/keypair.env" ]; then
  node packages/auth/src/bin/generate-keys.ts >"$KEYS/keypair.env.tmp"
  mv "$KEYS/keypair.env.tmp" "$KEYS/keypair.env"
  echo "keys: new ES256 key pair"
fi
if [ ! -s "$KEYS/admin-secret" ]; then
  od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$KEYS/admin-secret.tmp"
  mv "$KEYS/admin-secret.tmp" "$KEYS/admin-secret"
fi
secret=$(cat "$KEYS/admin-secret")

grep '^AUTH_JWT_PUBLIC_JWK=' "$KEYS/keypair.env" >"$KEYS/public.env"
{ grep '^AUTH_JWT_PRIVATE_JWK=' "$KEYS/keypair.env"; echo "DEMO_ADMIN_SECRET=$secret"; } >"$KEYS/gateway.env"
echo "DEMO_ADMIN_SECRET=$secret" >"$KEYS/k6.env"
token=$(node --env-file="$KEYS/keypair.env" packages/auth/src/bin/issue-token.ts --user order-service --role admin --ttl "$TOKEN_TTL_SECONDS")
echo "INVENTORY_SERVICE_TOKEN=$token" >"$KEYS/service-token.env.tmp"
mv "$KEYS/service-token.env.tmp" "$KEYS/service-token.env"
echo "keys: public.env gateway.env service-token.env k6.env written to $KEYS"
