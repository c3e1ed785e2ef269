#!/usr/bin/env bash
# Stop the daemons scripts/slurm_cluster.sh started (slurmd, slurmctld, munged), by the pids
# it recorded in /run/nandspin-slurm/; daemons it did not start are left alone. Waits until
# each has exited and munge's socket is gone, so that a new cluster can start right after.
#
# usage: scripts/slurm_stop.sh
set -uo pipefail

state=/run/nandspin-slurm
munge_socket=/run/munge/munge.socket.2

say() { echo "slurm stop: $*"; }

# alive PID NAME: PID is a live (not zombie) process named NAME. The daemons' parent is
# pid 1, which may be slow to reap them (or not reap them at all), so a zombie counts as gone.
alive() {
  local pid=$1 name=$2 st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  st=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}

status=0
# stop NAME: TERM the recorded pid, wait up to 15 s, then KILL
stop() {
  local name=$1 f=$state/$1.pid pid
  [ -s "$f" ] || return 0
  pid=$(tr -dc 0-9 <"$f")
  if alive "$pid" "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do alive "$pid" "$name" || break; sleep 0.25; done
    if alive "$pid" "$name"; then
      say "$name (pid $pid) did not exit on TERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
    if alive "$pid" "$name"; then
      say "error: $name (pid $pid) is still running"
      status=1
      return
    fi
    # give pid 1 a moment to reap it, so that pgrep no longer lists it (a zombie is fine)
    for _ in $(seq 1 20); do [ -e "/proc/$pid" ] || break; sleep 0.25; done
    say "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

had_munged=0
[ -s "$state/munged.pid" ] && had_munged=1
stop slurmd
stop slurmctld
stop munged
if [ "$had_munged" = 1 ] && [ ! -s "$state/munged.pid" ]; then
  # munged removes its socket as it exits; wait for that rather than for the process name
  for _ in $(seq 1 40); do [ -S "$munge_socket" ] || break; sleep 0.25; done
  if [ -S "$munge_socket" ]; then
    say "munge socket $munge_socket left behind; removing it"
    rm -f "$munge_socket" "$munge_socket.lock"
  fi
fi
rmdir "$state" 2>/dev/null || true
exit "$status"
