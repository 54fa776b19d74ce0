# Shared by bench/pitr.sh and bench/pitr-rto.sh: the two timed restores of the RTO comparison,
# on a bench/pitr.sh work directory (repo/, pgbackrest.conf). Each drops the page cache first,
# restores into WORK/restore-<tool>, starts it and waits until it is promoted; prints the
# milliseconds from the restore command to pg_is_in_recovery() = false. Needs as_pg and pgbin.

# rto_dbmedic WORK DBMEDIC_BINARY: `restore --start` to the end of the archive; its JSON report
# goes to WORK/dbmedic-restore.json.
rto_dbmedic() {
  local work=$1 dbmedic=$2 t0 t1
  sync; echo 3 > /proc/sys/vm/drop_caches
  t0=$(date +%s%N)
  "$dbmedic" restore --repo "$work/repo" --target-dir "$work/restore-dbmedic" --start \
    --pg-os-user postgres --output json > "$work/dbmedic-restore.json"
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

# rto_pgbackrest WORK: pgBackRest restore + pg_ctl start (archive-get with async prefetch).
rto_pgbackrest() {
  local work=$1 port t0 t1
  sync; echo 3 > /proc/sys/vm/drop_caches
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/restore-pgbackrest" "$work/sock2"; chmod 0700 "$work/restore-pgbackrest"
  chown postgres: "$work/restore-pgbackrest" "$work/sock2"
  t0=$(date +%s%N)
  as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --pg1-path="$work/restore-pgbackrest" \
    --type=default restore >/dev/null
  cat >> "$work/restore-pgbackrest/postgresql.auto.conf" <<CONF
port = $port
unix_socket_directories = '$work/sock2'
archive_mode = off
CONF
  as_pg "$pgbin/pg_ctl" -D "$work/restore-pgbackrest" -l "$work/restore-pgbackrest.log" -w -t 3600 start >/dev/null
  until [[ $(as_pg "$pgbin/psql" -h "$work/sock2" -p "$port" -Atc "SELECT pg_is_in_recovery()" postgres 2>/dev/null) == f ]]; do sleep 0.05; done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
