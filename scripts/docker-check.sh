#!/usr/bin/env bash
# Probe which container features work on this machine's Docker engine, using
# the offline test image. Run scripts/docker-setup.sh first.
# Prints one line per feature: PASS/FAIL name: evidence. Exit 1 if any FAIL.
# Every container started here carries the label moonexec=1.
# shellcheck disable=SC2016,SC2034,SC2086  # single-quoted scripts run in the container
set -uo pipefail

DOCKER="${DOCKER:-docker}"
IMAGE="${MOONEXEC_TEST_IMAGE:-moonexec-test:busybox}"
dk() { "$DOCKER" "$@"; }
run() { dk run --rm --label moonexec=1 "$@" 2>&1; }

fails=0
report() { # status name evidence
  printf '%-4s %-28s %s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\n' ' ' | cut -c1-160)"
  [ "$1" != FAIL ] || fails=$((fails + 1))
}
check() { # name expected-regex evidence (newlines are matched as spaces)
  if printf '%s' "$3" | tr '\n' ' ' | grep -Eq -- "$2"; then report PASS "$1" "$3"; else report FAIL "$1" "$3"; fi
}

dk image inspect "$IMAGE" >/dev/null 2>&1 || { echo "image $IMAGE missing: run scripts/docker-setup.sh" >&2; exit 2; }

out=$(run --network none "$IMAGE" sh -c 'ls /sys/class/net | tr "\n" " "; ip -o addr | wc -l')
check "--network none" '^lo [0-9]+$' "$out"

# Default bridge (dockerd runs with --iptables=false): container<->container,
# host->container and a port published on 127.0.0.1 via docker-proxy.
name="moonexec-check-net-$$"
dk rm -f "$name" >/dev/null 2>&1
dk run -d --name "$name" --label moonexec=1 -p 127.0.0.1:18080:8080 "$IMAGE" \
  sh -c 'echo hello-bridge >/tmp/index.html; exec httpd -f -p 8080 -h /tmp' >/dev/null 2>&1
sleep 0.5
ip=$(dk inspect -f '{{.NetworkSettings.IPAddress}}' "$name" 2>/dev/null)
c2c=$(run "$IMAGE" sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $ip 8080 | tail -n 1")
h2c=$(tcp_get() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2; cat >&3; cat <&3" 2>&1 | tail -n 1; }
      tcp_get "$ip" 8080; tcp_get 127.0.0.1 18080)
dk rm -f "$name" >/dev/null 2>&1
check "bridge network + -p" 'c2c=hello-bridge host=hello-bridge hello-bridge' "ip=$ip c2c=$c2c host=$h2c"

out=$(run --read-only "$IMAGE" sh -c 'touch /x 2>&1; echo rc=$?')
check "--read-only" 'Read-only file system.*rc=1' "$out"

out=$(run --memory 64m "$IMAGE" sh -c '
  if [ -f /sys/fs/cgroup/memory.max ]; then echo "v2 memory.max=$(cat /sys/fs/cgroup/memory.max)";
  else echo "v1 memory.limit_in_bytes=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"; fi')
check "--memory 64m" '=67108864' "$out"

out=$(run --cpu-quota 50000 --cpu-period 100000 "$IMAGE" sh -c '
  if [ -f /sys/fs/cgroup/cpu.max ]; then echo "v2 cpu.max=$(cat /sys/fs/cgroup/cpu.max)";
  else echo "v1 cfs_quota_us=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"; fi')
check "--cpu-quota 50000" '(cpu.max=50000 100000|cfs_quota_us=50000 period=100000)' "$out"

out=$(run --cpus 0.5 "$IMAGE" sh -c 'cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us')
check "--cpus 0.5" '50000' "$out"

out=$(run "$IMAGE" sh -c 'grep CapEff /proc/self/status')
report INFO "default caps" "$out"
out=$(run --cap-drop ALL "$IMAGE" sh -c 'grep CapEff /proc/self/status')
check "--cap-drop ALL" 'CapEff:[[:space:]]+0000000000000000' "$out"

# busybox sh exits (status 2) when a fork fails with EAGAIN.
out=$(run --pids-limit 20 "$IMAGE" sh -c '
  echo pids.max=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)
  for i in $(seq 1 40); do sleep 5 & done; echo all-40-started'; echo "rc=$?")
check "--pids-limit 20" 'pids.max=20 .*can.t fork: Resource temporarily unavailable.*rc=2' "$out"

out=$(run --tmpfs /scratch:size=1m "$IMAGE" sh -c '
  grep " /scratch " /proc/mounts
  dd if=/dev/zero of=/scratch/f bs=1024 count=2048 2>&1 | grep -i space
  echo size=$(wc -c </scratch/f)')
check "--tmpfs /scratch:size=1m" 'tmpfs.*size=1024k.*No space left.*size=1048576' "$out"

out=$(run --security-opt no-new-privileges "$IMAGE" sh -c 'grep NoNewPrivs /proc/self/status')
check "no-new-privileges" 'NoNewPrivs:[[:space:]]+1' "$out"

hostdir=$(mktemp -d /tmp/moonexec-check.XXXXXX)
echo hello-from-host >"$hostdir/f"
out=$(run -v "$hostdir:/data:ro" "$IMAGE" sh -c 'cat /data/f; touch /data/g 2>&1; echo rc=$?')
check "-v host:/data:ro" 'hello-from-host.*Read-only file system.*rc=1' "$out"
out=$(run -v "$hostdir:/data" "$IMAGE" sh -c 'echo w >/data/g && echo wrote')
check "-v host:/data (rw)" 'wrote' "$out$( [ -f "$hostdir/g" ] && echo ' host-sees-file')"
rm -rf "$hostdir" 2>/dev/null || true

out=$(run --user 65534 "$IMAGE" sh -c 'id; touch /tmp/x && echo tmp-writable')
check "--user 65534" 'uid=65534\(nobody\).*tmp-writable' "$out"

out=$(run --user 65534 --tmpfs /scratch:size=1m "$IMAGE" sh -c 'ls -ld /scratch; printf "#!/bin/sh\necho ran\n" >/scratch/s && chmod +x /scratch/s && echo scratch-writable; /scratch/s 2>&1; echo exec-rc=$?')
check "--tmpfs as uid 65534" '^drwxrwxrwt.*scratch-writable.*exec-rc=126' "$out"
out=$(run --tmpfs /scratch:size=1m,exec "$IMAGE" sh -c 'printf "#!/bin/sh\necho ran\n" >/scratch/s && chmod +x /scratch/s; /scratch/s; echo exec-rc=$?')
check "--tmpfs ...,exec" 'ran exec-rc=0' "$out"

out=$(run --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges --read-only \
  --network none --memory 64m --pids-limit 20 --tmpfs /scratch:size=1m "$IMAGE" \
  sh -c 'id -u; echo x >/scratch/y && cat /scratch/y')
check "all restrictions together" '^65534 x$' "$out"

name="moonexec-check-oom-$$"
dk rm -f "$name" >/dev/null 2>&1
start=$(date +%s%N)
dk run --name "$name" --label moonexec=1 --memory 16m "$IMAGE" \
  sh -c 'x=a; while true; do x=$x$x; done' >/dev/null 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
st=$(dk inspect --format 'OOMKilled={{.State.OOMKilled}} ExitCode={{.State.ExitCode}}' "$name" 2>&1)
dk rm -f "$name" >/dev/null 2>&1
check "OOM kill (--memory 16m)" 'OOMKilled=true ExitCode=137' "$st run-rc=$rc after ${ms}ms"

out=$(printf 'line1\nline2\n' | dk run --rm -i --label moonexec=1 "$IMAGE" sh -c 'wc -l; exit 7' 2>&1; echo rc=$?)
check "stdin (-i) + exit code" '2.*rc=7' "$out"

out=$(run --init "$IMAGE" sh -c 'cat /proc/1/cmdline | tr "\0" " "')
check "--init" 'init' "$out"

# Timing: docker run, docker exec.
t0=$(date +%s%N)
for i in 1 2 3 4 5; do dk run --rm --label moonexec=1 "$IMAGE" true >/dev/null 2>&1; done
report INFO "docker run --rm true" "avg $(( ($(date +%s%N) - t0) / 5000000 )) ms over 5 runs"

name="moonexec-check-exec-$$"
dk rm -f "$name" >/dev/null 2>&1
dk run -d --name "$name" --label moonexec=1 "$IMAGE" sleep 600 >/dev/null
times=""
for i in $(seq 1 10); do
  t0=$(date +%s%N); dk exec "$name" true >/dev/null 2>&1
  times="$times $(( ($(date +%s%N) - t0) / 1000000 ))"
done
sorted=$(printf '%s\n' $times | sort -n | tr '\n' ' ')
sum=0; for t in $times; do sum=$((sum + t)); done
report INFO "docker exec true (10 runs)" "avg $((sum / 10)) ms; sorted ms: $sorted"
t0=$(date +%s%N); dk rm -f "$name" >/dev/null 2>&1
report INFO "docker rm -f (running)" "$(( ($(date +%s%N) - t0) / 1000000 )) ms"

echo "$fails failed"
[ "$fails" -eq 0 ]
