#!/bin/sh
# The part of the official postgres image's entrypoint that deploy/compose.yaml relies on: an empty PGDATA is
# initialised with the superuser POSTGRES_USER (password POSTGRES_PASSWORD) and the database POSTGRES_DB;
# local socket logins are trusted (pg_isready, psql in the container), network logins need the password.
# Any other command (psql, pg_isready) runs as given.
set -eu
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  echo "mrrrme-postgres: initialising $PGDATA for $POSTGRES_USER, database $POSTGRES_DB"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --pgdata="$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    psql --quiet --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
      --command="CREATE DATABASE \"$POSTGRES_DB\""
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
  fi
fi
exec "$@"
