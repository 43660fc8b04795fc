#!/usr/bin/env python3
"""Summarises CPU samples of a JFR recording: top frames (self) and methods on the stack (total),
per thread group. Usage: jfr-top.py RECORDING.jfr [THREAD_SUBSTRING] [N]"""
import collections, json, subprocess, sys

path = sys.argv[1]
thread_filter = sys.argv[2] if len(sys.argv) > 2 else ""
top_n = int(sys.argv[3]) if len(sys.argv) > 3 else 25
data = json.loads(subprocess.run(["jfr", "print", "--json", "--events", "jdk.ExecutionSample", path],
                                 capture_output=True, text=True, check=True).stdout)
events = data["recording"]["events"]
self_counts, total_counts, threads = collections.Counter(), collections.Counter(), collections.Counter()
n = 0
for e in events:
    thread = e["values"]["sampledThread"]["javaName"] or "?"
    if thread_filter not in thread:
        continue
    frames = e["values"]["stackTrace"]["frames"] if e["values"]["stackTrace"] else []
    if not frames:
        continue
    n += 1
    threads[thread] += 1
    name = lambda f: f["method"]["type"]["name"] + "." + f["method"]["name"]
    self_counts[name(frames[0])] += 1
    for m in set(name(f) for f in frames):
        total_counts[m] += 1
print(f"{n} samples" + (f" in threads matching '{thread_filter}'" if thread_filter else ""))
print("\nthreads:")
for t, c in threads.most_common(10):
    print(f"  {100*c/n:5.1f}%  {t}")
print("\nself (top of stack):")
for m, c in self_counts.most_common(top_n):
    print(f"  {100*c/n:5.1f}%  {m}")
print("\ntotal (anywhere on the stack):")
for m, c in total_counts.most_common(top_n):
    print(f"  {100*c/n:5.1f}%  {m}")
