#!/bin/sh
# Create the SQLite schema at KALINSKY_DB_PATH (a no-op when it exists), then run the command given,
# by default `kalinsky serve`, in place of this shell so that it receives the container's stop signal.
set -eu
kalinsky init-db
exec "$@"
