#!/usr/bin/env python3
"""Time from process start to "ready" (configuration read, AWS clients built) for the
bootstrap binary, the part of a cold start the function controls.

Usage: python3 lambda/scripts/startup.py [target/release/bootstrap] [runs]
"""
import os
import statistics
import subprocess
import sys
import time

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/bootstrap"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
env = dict(os.environ,
           TABLE_NAME="records", OUTPUT_BUCKET="out", AWS_REGION="us-east-1",
           AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_EC2_METADATA_DISABLED="true",
           # Nothing listens here: the runtime loop fails after "ready", which ends the run.
           AWS_LAMBDA_RUNTIME_API="127.0.0.1:9", AWS_LAMBDA_FUNCTION_NAME="startup",
           AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1769", AWS_LAMBDA_FUNCTION_VERSION="1",
           AWS_LAMBDA_LOG_STREAM_NAME="s", AWS_LAMBDA_LOG_GROUP_NAME="g")
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if '"ready"' in line:
            times.append((time.perf_counter() - t0) * 1000)
            break
    p.kill()
    p.wait()
if not times:
    sys.exit("the binary never printed ready")
size = os.path.getsize(binary)
print(f"binary: {binary}, {size / 1e6:.1f} MB")
print(f"process start to ready: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms ({len(times)} runs)")
