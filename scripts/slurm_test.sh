#!/usr/bin/env bash
# End-to-end test of the sweep commands on a real single-node Slurm cluster.
#
# Starts a cluster on 127.0.0.1 (scripts/slurm_cluster.sh: installs slurmctld, slurmd,
# slurm-client and munge from Debian's packages if missing), writes a small sweep (LeNet-5,
# 1 epoch on 512 images, training.seed x chip.tiles = 8 points in 4 trainings), lets
# `nandspin sweep emit-slurm` write the job scripts (4 shards, at most 2 running), submits
# them with OUT/slurm/submit.sh --wait, runs the same sweep locally with `sweep run`, and
# checks that:
#   - every array task and the merge job completed with exit code 0;
#   - each shard took its shard from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT
#     (shard-I/sweep.toml has shard_index = I, shard_count = 4) and ran exactly the points
#     `sweep plan --shard-count 4` assigns to it;
#   - the merged sweep.csv has 8 rows, 4 of them replayed, and equals the local sweep.csv
#     except for the last two columns (train_images_per_s, wall_s: wall-clock figures).
# The daemons are stopped by pid at exit (scripts/slurm_stop.sh), also when a step fails.
#
# usage: scripts/slurm_test.sh      (as root: it installs packages and starts daemons)
# env:   NANDSPIN_SKIP_SLURM=1  skip the test (prints "skipped", exits 0), e.g. on machines
#                               where it cannot run as root
#        KEEP=1                 keep the temporary folder (sweep, job scripts, logs, results)
#        SLURM_TEST_TIMEOUT=S   seconds to wait for the jobs (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
t0=$SECONDS

step() { echo "== slurm test: $*"; }
fail() {
  echo "slurm test: FAIL: $*" >&2
  exit 1
}

if [ "${NANDSPIN_SKIP_SLURM:-0}" = 1 ]; then
  echo "slurm test: skipped (NANDSPIN_SKIP_SLURM=1)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "slurm test: needs root (it installs Slurm and munge and starts their daemons);" >&2
  echo "            run it as root, or set NANDSPIN_SKIP_SLURM=1 to skip it" >&2
  exit 1
fi

shards=4
timeout_s=${SLURM_TEST_TIMEOUT:-600}
bin=$repo/target/release/nandspin
tmp=
cluster_started=0
jobs_submitted=0
# the jobs this test submits (emit-slurm names them after the sweep)
job_names=nandspin-slurm-test,nandspin-slurm-test-merge,nandspin-slurm-test-env

show_logs() {
  echo "---- job logs ($tmp/cluster/slurm/*.log, $tmp/env/*.log)" >&2
  for f in "$tmp"/cluster/slurm/*.log "$tmp"/env/*.log; do
    [ -e "$f" ] || continue
    echo "-- $f" >&2
    tail -40 "$f" >&2
  done
  if [ -s "$tmp/submit.out" ]; then
    echo "-- submit.sh output" >&2
    cat "$tmp/submit.out" >&2
  fi
  for f in /var/log/slurm/*.log; do
    [ -e "$f" ] || continue
    echo "---- tail of $f" >&2
    tail -25 "$f" >&2
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" != 0 ] && [ -n "$tmp" ] && [ "$jobs_submitted" = 1 ]; then
    show_logs
  fi
  if [ "$cluster_started" = 1 ] && [ "$jobs_submitted" = 1 ]; then
    # jobs still queued or running (e.g. after a timeout) would outlive slurmd; they go by
    # name, which also covers jobs whose ids never reached this script
    ids=$(squeue -h -n "$job_names" -o %F 2>/dev/null | sort -u | tr '\n' ' ')
    if [ -n "$ids" ]; then
      step "cancelling jobs $ids"
      # shellcheck disable=SC2086
      scancel $ids
      for _ in $(seq 1 40); do [ -z "$(squeue -h -n "$job_names" 2>/dev/null)" ] && break; sleep 0.25; done
    fi
  fi
  if [ "$cluster_started" = 1 ]; then
    step "stopping the cluster"
    scripts/slurm_stop.sh || rc=1
  fi
  if [ -n "$tmp" ]; then
    if [ "${KEEP:-0}" = 1 ]; then
      echo "slurm test: kept $tmp"
    else
      rm -rf "$tmp"
    fi
  fi
  [ "$rc" = 0 ] || echo "slurm test: FAIL (exit $rc)" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. binary
step "building the release binary"
cargo build --release --quiet
[ -x "$bin" ] || fail "no $bin after cargo build --release"

# 2. cluster
step "starting the single-node cluster"
cluster_started=1
s0=$SECONDS
scripts/slurm_cluster.sh
start_s=$((SECONDS - s0))

# 3. sweep file
tmp=$(mktemp -d /tmp/nandspin-slurm-test.XXXXXX)
chmod 755 "$tmp"
sweep=$tmp/slurm-test.toml
cat >"$sweep" <<EOF
schema_version = 1
name = "slurm-test"
arch = "$repo/arch/nandspin.toml"
workload = "$repo/workloads/lenet5-mnist.toml"
[set]
training.epochs = 1
training.max_train_images = 512
training.max_test_images = 256
[[axis]]
key = "training.seed"
values = [0, 1, 2, 3]
[[axis]]
key = "chip.tiles"
values = [8, 16]
EOF
step "sweep $sweep"
"$bin" sweep plan "$sweep" --shard-count "$shards"
"$bin" sweep plan "$sweep" --shard-count "$shards" --csv >"$tmp/plan.csv"
points=$(($(wc -l <"$tmp/plan.csv") - 1))
[ "$points" = 8 ] || fail "the plan has $points points, expected 8"

# 4. on the cluster
step "writing the job scripts (emit-slurm, $shards shards, at most 2 running)"
"$bin" sweep emit-slurm "$sweep" --shards "$shards" --max-running 2 --out "$tmp/cluster"
for f in shards.sbatch merge.sbatch submit.sh; do
  [ -s "$tmp/cluster/slurm/$f" ] || fail "emit-slurm wrote no $tmp/cluster/slurm/$f"
done
grep -q -- "--array=0-$((shards - 1))%2" "$tmp/cluster/slurm/shards.sbatch" ||
  fail "shards.sbatch has no --array=0-$((shards - 1))%2"

step "submitting (submit.sh --wait, timeout ${timeout_s} s)"
jobs_submitted=1
c0=$SECONDS
set +e
timeout --kill-after=10 "$timeout_s" bash "$tmp/cluster/slurm/submit.sh" --wait 2>&1 | tee "$tmp/submit.out"
submit_rc=${PIPESTATUS[0]}
set -e
cluster_s=$((SECONDS - c0))
case $submit_rc in 124 | 137) fail "the jobs did not finish within ${timeout_s} s" ;; esac
[ "$submit_rc" = 0 ] || fail "submit.sh --wait exited with $submit_rc"

# check each job's final state too, not only submit.sh's exit code
array_id=$(sed -nE 's/^shards: job array ([0-9]+).*/\1/p' "$tmp/submit.out")
merge_id=$(sed -nE 's/^merge: job ([0-9]+).*/\1/p' "$tmp/submit.out")
[ -n "$array_id" ] || fail "no job array id in submit.sh's output"
[ -n "$merge_id" ] || fail "no merge job id in submit.sh's output"
step "checking the job states (array $array_id, merge $merge_id)"
scontrol -o show job "$array_id" >"$tmp/jobs.txt" || fail "scontrol show job $array_id failed"
scontrol -o show job "$merge_id" >>"$tmp/jobs.txt" || fail "scontrol show job $merge_id failed"
tasks=$(grep -c " ArrayJobId=$array_id " "$tmp/jobs.txt" || true)
[ "$tasks" = "$shards" ] || { cat "$tmp/jobs.txt" >&2; fail "$tasks array tasks known to slurmctld, expected $shards"; }
bad=$(grep -vE ' JobState=COMPLETED .* ExitCode=0:0 ' "$tmp/jobs.txt" || true)
if [ -n "$bad" ]; then
  echo "$bad" | awk '{ l = ""; for (i = 1; i <= NF; i++) if ($i ~ /^(JobId|ArrayTaskId|JobName|JobState|Reason|ExitCode)=/) l = l " " $i; print " " l }' >&2
  fail "a job did not complete with exit code 0"
fi

# 5. locally
step "running the same sweep locally (--jobs 2)"
l0=$SECONDS
"$bin" sweep run "$sweep" --out "$tmp/local" --jobs 2 --quiet
local_s=$((SECONDS - l0))

# 6. each shard ran its own points
step "checking the shards"
for i in $(seq 0 $((shards - 1))); do
  d=$tmp/cluster/shard-$i
  [ -s "$d/sweep.toml" ] || fail "shard $i wrote no $d/sweep.toml"
  grep -qx "shard_index = $i" "$d/sweep.toml" || fail "$d/sweep.toml: no 'shard_index = $i'"
  grep -qx "shard_count = $shards" "$d/sweep.toml" || fail "$d/sweep.toml: no 'shard_count = $shards'"
  [ -s "$d/sweep.csv" ] || fail "shard $i wrote no $d/sweep.csv"
  grep -q '^sweep slurm-test: ' "$tmp/cluster/slurm/shard-$i.log" || fail "shard $i's log shows no run"
  # the shard ran exactly the points the plan gives it
  want=$(awk -F, -v s="$i" 'NR > 1 && $NF == s { print $2 }' "$tmp/plan.csv" | sort)
  got=$(tail -n +2 "$d/sweep.csv" | cut -d, -f2 | sort)
  [ -n "$want" ] && [ "$got" = "$want" ] || fail "shard $i ran points [$(echo $got)], the plan gives it [$(echo $want)]"
done

# 6b. `sweep run` without --shard-* flags takes its shard from SLURM_ARRAY_TASK_ID and
# SLURM_ARRAY_TASK_COUNT (shards.sbatch may pass the count itself, so test it on its own)
step "checking the shard defaults from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (2-task array)"
mkdir -p "$tmp/env"
cat >"$tmp/env/env.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=nandspin-slurm-test-env
#SBATCH --array=0-1
#SBATCH --output=$tmp/env/task-%a.log
#SBATCH --chdir=$repo
set -euo pipefail
echo "SLURM_ARRAY_TASK_ID=\${SLURM_ARRAY_TASK_ID-unset} SLURM_ARRAY_TASK_COUNT=\${SLURM_ARRAY_TASK_COUNT-unset}"
exec "$bin" sweep run "$sweep" --out "$tmp/env/shard-\$SLURM_ARRAY_TASK_ID" --quiet
EOF
"$bin" sweep plan "$sweep" --shard-count 2 --csv >"$tmp/plan2.csv"
timeout --kill-after=10 "$timeout_s" sbatch --wait --quiet "$tmp/env/env.sbatch" || fail "the 2-task array failed"
for i in 0 1; do
  d=$tmp/env/shard-$i
  grep -qx "SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2" "$tmp/env/task-$i.log" ||
    fail "task $i's environment: $(head -1 "$tmp/env/task-$i.log" 2>/dev/null)"
  grep -qx "shard_index = $i" "$d/sweep.toml" || fail "$d/sweep.toml: no 'shard_index = $i' (SLURM_ARRAY_TASK_ID not used?)"
  grep -qx "shard_count = 2" "$d/sweep.toml" || fail "$d/sweep.toml: no 'shard_count = 2' (SLURM_ARRAY_TASK_COUNT not used?)"
  want=$(awk -F, -v s="$i" 'NR > 1 && $NF == s { print $2 }' "$tmp/plan2.csv" | sort)
  got=$(tail -n +2 "$d/sweep.csv" | cut -d, -f2 | sort)
  [ -n "$want" ] && [ "$got" = "$want" ] || fail "task $i ran points [$(echo $got)], the plan gives shard $i [$(echo $want)]"
done

# 7. the merged table equals the local one but for the wall-clock columns
step "comparing the merged table with the local one"
a=$tmp/cluster/sweep.csv
b=$tmp/local/sweep.csv
[ -s "$a" ] || fail "the merge wrote no $a"
[ -s "$b" ] || fail "the local run wrote no $b"
for f in "$a" "$b"; do
  last2=$(head -1 "$f" | awk -F, '{ print $(NF - 1) "," $NF }')
  [ "$last2" = "train_images_per_s,wall_s" ] || fail "$f: the last two columns are '$last2', expected train_images_per_s,wall_s"
  # text columns may be quoted and hold commas (the store's description does), so the two
  # wall-clock columns are cut off the end of each line; they must be plain fields
  if grep -vqE ',[^,"]*,[^,"]*$' "$f"; then
    fail "$f: a line does not end in two unquoted fields"
  fi
done
sed -E 's/,[^,]*,[^,]*$//' "$a" >"$tmp/cluster.cut"
sed -E 's/,[^,]*,[^,]*$//' "$b" >"$tmp/local.cut"
if ! diff "$tmp/local.cut" "$tmp/cluster.cut" >"$tmp/diff.txt"; then
  head -20 "$tmp/diff.txt" >&2
  fail "the merged sweep.csv differs from the local one (beyond train_images_per_s and wall_s)"
fi
rows=$(($(wc -l <"$a") - 1))
[ "$rows" = 8 ] || fail "$a has $rows data rows, expected 8"
col=$(head -1 "$a" | tr , '\n' | grep -nx replayed | cut -d: -f1)
[ -n "$col" ] || fail "$a has no replayed column"
if tail -n +2 "$a" | cut -d, -f1-"$col" | grep -q '"'; then
  fail "$a: quoted fields before the replayed column"
fi
replayed=$(tail -n +2 "$a" | cut -d, -f"$col" | grep -cx true || true)
[ "$replayed" = 4 ] || fail "$a has $replayed replayed points, expected 4"
for id in $(tail -n +2 "$tmp/plan.csv" | cut -d, -f2); do
  [ -s "$tmp/cluster/points/$id/summary.csv" ] || fail "the merge left no $tmp/cluster/points/$id/summary.csv"
done

# 8. stop here rather than in the trap, so that a failure to stop shows before PASS
step "stopping the cluster"
scripts/slurm_stop.sh || fail "the daemons did not stop"
cluster_started=0

trainings=$(tail -n +2 "$tmp/plan.csv" | cut -d, -f5 | sort -u | wc -l)
echo "slurm test: PASS ($rows points, $trainings trainings, $replayed replayed, $shards shards;" \
  "cluster start ${start_s} s, jobs ${cluster_s} s, local run ${local_s} s, total $((SECONDS - t0)) s)"
