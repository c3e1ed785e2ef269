#!/usr/bin/env bash
# Start a single-node Slurm cluster on 127.0.0.1 for tests (Debian 12, needs root).
#
# Installs slurmctld, slurmd, slurm-client and munge from Debian's packages if slurmctld is
# missing, writes a minimal /etc/slurm/slurm.conf (one node, one partition `debug`, no
# cgroups: proctrack/linuxproc and task/none, no accounting daemon), starts munged,
# slurmctld (with its saved state cleared) and slurmd, and waits until the node is idle.
#
# The pids of the daemons this script started are recorded in /run/nandspin-slurm/;
# scripts/slurm_stop.sh stops exactly those, by pid. A munged that was already running is
# used as is and left alone. The script refuses to overwrite a slurm.conf it did not write
# and to run next to slurmctld/slurmd daemons it did not start.
#
# usage: scripts/slurm_cluster.sh
set -euo pipefail

state=/run/nandspin-slurm
conf=/etc/slurm/slurm.conf
marker="# written by nandspin scripts/slurm_cluster.sh"
munge_socket=/run/munge/munge.socket.2

say() { echo "slurm cluster: $*"; }
die() { echo "slurm cluster: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (installs packages, writes /etc/slurm, starts daemons)"

# alive PID NAME: PID is a live (not zombie) process named NAME
alive() {
  local pid=$1 name=$2 st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  st=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}
pid_of() { [ -s "$1" ] && tr -dc 0-9 <"$1" || true; }

# 1. packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  # keep the packages' service scripts from starting daemons with the default config:
  # this script starts (and slurm_stop.sh stops) them itself
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  rm -f "$policy"
  trap - EXIT
fi

mkdir -p "$state"

# 2. munge (the Debian package creates the key; make one if it is missing)
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if alive "$(pid_of "$state/munged.pid")" munged; then
  say "munged already running (started by this script, pid $(pid_of "$state/munged.pid"))"
elif alive "$(pid_of /run/munge/munged.pid)" munged; then
  say "using the munged that is already running (pid $(pid_of /run/munge/munged.pid)); it is left running"
else
  rm -f "$state/munged.pid"
  # a socket left behind by a killed munged would stop a new one from starting
  rm -f "$munge_socket" "$munge_socket.lock"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 40); do alive "$(pid_of /run/munge/munged.pid)" munged && break; sleep 0.25; done
  pid=$(pid_of /run/munge/munged.pid)
  alive "$pid" munged || die "munged did not start (see /var/log/munge/munged.log)"
  echo "$pid" >"$state/munged.pid"
  say "started munged (pid $pid)"
fi
for _ in $(seq 1 20); do
  munge -n 2>/dev/null | unmunge 2>/dev/null | grep -q 'STATUS: *Success' && break
  sleep 0.5
done
munge -n | unmunge | grep -q 'STATUS: *Success' || die "munge does not work"

# 3. slurm.conf
if [ -e "$conf" ] && ! grep -qxF "$marker" "$conf"; then
  die "$conf exists and was not written by this script; not overwriting it"
fi
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512))
[ "$mem_mb" -ge 256 ] || mem_mb=256
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
cat >"$conf.tmp" <<CONF
$marker
ClusterName=nandspin-ci
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
mv "$conf.tmp" "$conf"

# 4. slurmctld and slurmd (they daemonize themselves and write their pid files)
# start_daemon NAME COMMAND...
start_daemon() {
  local name=$1 pidfile=/run/slurm/$1.pid pid
  shift
  if alive "$(pid_of "$state/$name.pid")" "$name"; then
    say "$name already running (started by this script, pid $(pid_of "$state/$name.pid"))"
    return
  fi
  rm -f "$state/$name.pid"
  if alive "$(pid_of "$pidfile")" "$name"; then
    die "a $name this script did not start is running (pid $(pid_of "$pidfile")); stop it first"
  fi
  rm -f "$pidfile"
  "$@"
  for _ in $(seq 1 40); do alive "$(pid_of "$pidfile")" "$name" && break; sleep 0.25; done
  pid=$(pid_of "$pidfile")
  alive "$pid" "$name" || {
    tail -20 "/var/log/slurm/$name.log" >&2 || true
    die "$name did not start"
  }
  echo "$pid" >"$state/$name.pid"
  say "started $name (pid $pid)"
}
# -c: start without the jobs and node states saved by an earlier run
start_daemon slurmctld slurmctld -c
start_daemon slurmd slurmd

# 5. wait for the node to become idle
st=
for _ in $(seq 1 60); do
  st=$(sinfo -h -N -o '%T' 2>/dev/null || true)
  [ "$st" = idle ] && break
  sleep 0.5
done
if [ "$st" != idle ]; then
  tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  die "node $host is not idle (state: '${st}')"
fi
say "node $host idle ($cpus CPUs, partition debug)"
