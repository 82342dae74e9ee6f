#!/usr/bin/env python3
"""Relay overhead in front of a GPU engine: streamed chat completions sent straight to the engine's port and through
llmux, interleaved (direct, llmux, llmux, direct, ...) so that both see the same engine state; prints TTFT (time to
the first content chunk) and decode rate (chunks after the first / time from the first to the last) as median,
min and max, and llmux / direct of the medians. Standard library only.

  relay_ttft.py DIRECT_PORT LLMUX_PORT MODEL [N=20] [MAX_TOKENS=128]
"""
import http.client
import json
import statistics
import sys
import time


def one(port, model, max_tokens):
    body = json.dumps({"model": model, "stream": True, "max_tokens": max_tokens, "ignore_eos": True,
                       "temperature": 0, "messages": [{"role": "user", "content": "Tell me a long story."}]})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"port {port}: HTTP {resp.status}: {resp.read()[:300]!r}")
    first = last = None
    chunks = 0
    for raw in resp:  # SSE lines, as they come
        line = raw.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        ev = json.loads(line[6:])
        if ev.get("choices") and ev["choices"][0].get("delta", {}).get("content"):
            now = time.perf_counter()
            first = first or now
            last = now
            chunks += 1
    conn.close()
    if first is None:
        raise SystemExit(f"port {port}: no content")
    rate = (chunks - 1) / (last - first) if chunks > 1 and last > first else 0.0
    return (first - t0) * 1000.0, rate, chunks


def stats(xs):
    return f"median {statistics.median(xs):8.2f}  min {min(xs):8.2f}  max {max(xs):8.2f}"


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    direct, via, model = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    max_tokens = int(sys.argv[5]) if len(sys.argv) > 5 else 128
    one(direct, model, 8), one(via, model, 8)  # warm-up: CUDA graphs, connections
    res = {"direct": [], "llmux": []}
    for i in range(n):
        order = [("direct", direct), ("llmux", via)] if i % 2 == 0 else [("llmux", via), ("direct", direct)]
        for name, port in order:
            res[name].append(one(port, model, max_tokens))
    out = {"model": model, "n": n, "max_tokens": max_tokens}
    for name, runs in res.items():
        ttft, rate, chunks = [r[0] for r in runs], [r[1] for r in runs], [r[2] for r in runs]
        print(f"{model} {name:6s} TTFT ms   {stats(ttft)}")
        print(f"{model} {name:6s} tokens/s  {stats(rate)}  (chunks per reply: {min(chunks)}..{max(chunks)})")
        out[name] = {"ttft_ms": ttft, "tokens_per_s": rate, "chunks": chunks}
    for key, label in (("ttft_ms", "TTFT"), ("tokens_per_s", "tokens/s")):
        d = statistics.median(out["direct"][key])
        v = statistics.median(out["llmux"][key])
        print(f"{model} llmux/direct {label}: {v / d:.3f} (medians {v:.2f} / {d:.2f})")
    print("JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
