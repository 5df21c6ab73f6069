#!/bin/sh
# Create or migrate the schema of the configured database (KALINSKY_DATABASE_URL, or the SQLite file at
# KALINSKY_DB_PATH; a no-op when it is up to date), then run the command given, by default `kalinsky serve`
# (`kalinsky worker` in the farm's workers), in place of this shell so that it receives the container's stop signal.
set -eu
kalinsky init-db
exec "$@"
