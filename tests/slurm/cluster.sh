#!/usr/bin/env bash
# A real single-node SLURM cluster for the profile test: `cluster.sh start` / `cluster.sh stop`.
# Installs Debian's slurm-wlm and munge when missing (root only), writes /etc/slurm/slurm.conf
# (the jobstep plugin drops SLURM_CONF, so it must live there) with a fake 4-GPU gres on
# character devices made with mknod (a Count-only gres drains the node), and starts munged,
# slurmctld and slurmd in the background. `stop` kills only the daemons `start` started.
set -euo pipefail
STATE=${OVEROPT_SLURM_STATE:-/tmp/overopt-slurm}
NGPU=4

start() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "slurm-wlm/munge missing and not root: cannot install" >&2; exit 3; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm slurmctld slurmd munge slurm-client >/dev/null
  fi
  [ "$(id -u)" = 0 ] || { echo "starting slurmd needs root" >&2; exit 3; }
  mkdir -p "$STATE" /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  for i in $(seq 0 $((NGPU - 1))); do
    [ -e /dev/fakegpu$i ] || mknod /dev/fakegpu$i c 195 $i
  done
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=overopt
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem Gres=gpu:$NGPU State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
Name=gpu File=/dev/fakegpu[0-$((NGPU - 1))]
CONF
  if ! munge -n >/dev/null 2>&1; then
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key /run/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    pgrep -u munge -n munged > "$STATE/munged.pid"
  fi
  /usr/sbin/slurmctld -D -i > "$STATE/slurmctld.out" 2>&1 &
  echo $! > "$STATE/slurmctld.started"
  sleep 1
  /usr/sbin/slurmd -D > "$STATE/slurmd.out" 2>&1 &
  echo $! > "$STATE/slurmd.started"
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      sinfo; exit 0
    fi
    sleep 1
  done
  echo "SLURM node never became idle" >&2
  sinfo -R >&2 || true
  tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  exit 1
}

stop() {
  for f in slurmd.started slurmctld.started munged.pid; do
    if [ -f "$STATE/$f" ]; then
      kill "$(cat "$STATE/$f")" 2>/dev/null || true
      rm -f "$STATE/$f"
    fi
  done
}

"${1:-start}"
