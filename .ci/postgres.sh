#!/usr/bin/env bash
# Makes sure a PostgreSQL server with trust auth listens on 127.0.0.1:5432
# (installing it from Debian's packages when absent), or, with
# --drop-test-databases, removes the databases the store tests created.
set -euo pipefail
psql_as_postgres() { psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

if [ "${1:-}" = "--drop-test-databases" ]; then
  for db in $(psql_as_postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'retrain_test_%'"); do
    psql_as_postgres -c "DROP DATABASE IF EXISTS $db" || true
  done
  exit 0
fi

if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
# Tests connect as postgres over TCP without a password.
grep -q '^host all all 127.0.0.1/32 trust' "$hba" || sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done
echo "PostgreSQL did not start on 127.0.0.1:5432" >&2
exit 1
