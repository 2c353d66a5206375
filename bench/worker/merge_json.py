#!/usr/bin/env python3
"""Merges the JSON lines of bench/worker/run.sh's workloads into the run's one final JSON line.

Usage: merge_json.py NAME JSON [NAME JSON ...]; an empty JSON is a workload the run left out.
The adapter workload's keys keep their names. Another workload's keys keep theirs where they already
say which workload they belong to (prefix_..., routed_..., worker_prefix_...) and are named
NAME_key otherwise, so that "ttft_mean_ms" of the routing workload cannot be read as the adapter
workload's. A key two workloads would both write, or a value that is not a number JSON can carry
(NaN, Infinity: a phase too short to measure), is reported on a "#" line before the JSON line; such
a value is written as null.
"""
import json
import math
import sys

OWN_NAMES = {
    "adapters": ("",),
    "prefix": ("prefix_",),
    "routing": ("routed_", "worker_prefix_"),
}


def main(args):
    if len(args) % 2:
        sys.exit("usage: merge_json.py NAME JSON [NAME JSON ...]")
    merged, problems = {}, []
    for name, line in zip(args[::2], args[1::2]):
        if not line.strip():
            continue
        try:
            values = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"the {name} workload's JSON line does not parse ({e}): {line}")
        for key, value in values.items():
            own = OWN_NAMES.get(name, ())
            merged_key = key if any(key.startswith(p) for p in own) else f"{name}_{key}"
            if merged_key in merged:
                problems.append(f"{merged_key} twice (kept the {name} workload's)")
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{merged_key} is {value}")
                value = None
            merged[merged_key] = value
    for p in problems:
        print(f"# merged JSON: {p}")
    print(json.dumps(merged, allow_nan=False, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1:])
