#!/bin/sh
# Runs Crossgen2 with the response file given as $1, then reports the container's peak memory
# (cgroup v2 memory.peak or v1 max_usage_in_bytes) on a line the caller parses.
/opt/crossgen2/crossgen2 "@$1"
rc=$?
for f in /sys/fs/cgroup/memory.peak /sys/fs/cgroup/memory/memory.max_usage_in_bytes; do
  if [ -r "$f" ]; then echo "DCI_PEAK_MEMORY_BYTES=$(cat "$f")"; break; fi
done
exit $rc
