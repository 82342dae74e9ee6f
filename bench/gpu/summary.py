#!/usr/bin/env python3
"""Figures from gpu_measure.sh's files (standard library only).

  summary.py brief STATUS.json SMI.csv     one line per resident worker: GPU measured by NVML vs estimated
  summary.py reserve MODELS.json STATUS.json   a memory.gpuReserve that leaves room for one model's GPU part, not two
  summary.py final RES_DIR                 the table of a whole run
"""
import glob
import json
import os
import sys

MIB = 1 << 20


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def mib(x):
    return "-" if x is None else f"{x / MIB:.0f}"


def workers(status):
    out = []
    for w in status.get("workers", []):
        mem = w.get("memory") or {}
        fp = mem.get("footprint") or {}
        out.append({
            "model": w.get("model"), "state": w.get("state"), "pid": w.get("pid"),
            "gpu": mem.get("gpuBytes"), "peak_gpu": mem.get("peakGpuBytes"), "rss": mem.get("rssBytes"),
            "peak_rss": mem.get("peakRssBytes"), "est_total": mem.get("estimateBytes"), "est_gpu": fp.get("gpuBytes"),
            "weights": fp.get("weightsBytes"), "kv": fp.get("kvBytes"), "buffers": fp.get("overheadBytes"),
            "source": fp.get("source"),
        })
    return out


def smi_processes(path):
    rows = {}
    try:
        for line in open(path):
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 3 and parts[0].isdigit():
                rows[int(parts[0])] = parts[-1]
    except OSError:
        pass
    return rows


def brief(status_path, smi_path):
    status = load(status_path)
    smi = smi_processes(smi_path)
    gpus = (status.get("system") or {}).get("gpus") or []
    for g in gpus:
        print(f"GPU {g.get('index')} {g.get('name')}: used {mib(g.get('usedBytes'))} of {mib(g.get('totalBytes'))} MiB")
    ws = workers(status)
    if not ws:
        print("no resident worker")
    for w in ws:
        ratio = f"{w['est_gpu'] / w['gpu']:.3f}" if w["gpu"] and w["est_gpu"] else "-"
        print(f"{w['model']} {w['state']} pid {w['pid']}: GPU measured {mib(w['gpu'])} MiB (peak {mib(w['peak_gpu'])}),"
              f" estimated GPU part {mib(w['est_gpu'])} MiB, estimate/measured {ratio}; RSS {mib(w['rss'])} MiB"
              f" (peak {mib(w['peak_rss'])}), estimate total {mib(w['est_total'])} MiB ({w['source']});"
              f" nvidia-smi: {smi.get(w['pid'], 'pid not listed')}")


def reserve(models_path, status_path):
    """total - (larger GPU part + used before any engine + half the smaller part), in MiB."""
    models = load(models_path).get("data", [])
    parts = {m["id"]: (m.get("footprint") or {}).get("gpuBytes", 0) for m in models if m.get("id") in ("a", "b")}
    gpus = (load(status_path).get("system") or {}).get("gpus") or []
    if len(parts) != 2 or not all(parts.values()) or not gpus:
        sys.exit(1)
    total, used0 = gpus[0]["totalBytes"], gpus[0]["usedBytes"]
    big, small = max(parts.values()), min(parts.values())
    usable = big + used0 + small // 2
    print(f"{(total - usable) // MIB}MiB")
    print(f"reserve: GPU total {mib(total)} MiB, used with no engine {mib(used0)} MiB, estimated GPU parts"
          f" {', '.join(f'{k} {mib(v)}' for k, v in sorted(parts.items()))} MiB: total - reserve ="
          f" {mib(usable)} MiB", file=sys.stderr)


def final(res):
    print("# GPU part: estimate vs NVML (per worker, after its requests)")
    for tag in ("a", "ab", "relayed", "tight-a", "tight-b", "tight-a2"):
        path = os.path.join(res, f"status-{tag}.json")
        if os.path.exists(path):
            print(f"## {tag}")
            brief(path, os.path.join(res, f"smi-{tag}.csv"))
    for path in sorted(glob.glob(os.path.join(res, "relay-*.txt"))):
        print(f"# {os.path.basename(path)}")
        print("".join(l for l in open(path) if not l.startswith("JSON ")), end="")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    {"brief": lambda: brief(sys.argv[2], sys.argv[3]), "reserve": lambda: reserve(sys.argv[2], sys.argv[3]),
     "final": lambda: final(sys.argv[2])}[sys.argv[1]]()
