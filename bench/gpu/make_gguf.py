#!/usr/bin/env python3
"""Writes a llama-architecture GGUF of a chosen shape with random F16 weights (standard library only).

The tokenizer.* entries are copied from a vocab-only GGUF (llama.cpp ships models/ggml-vocab-llama-spm.gguf), so
llama-server loads and serves it; the text it generates is noise, which is fine for memory and timing figures.
The same Python counterpart of tests/support/gguf_writer.hpp, for sizes (GiB) that a test should not write.

  make_gguf.py OUT.gguf VOCAB.gguf EMBD LAYERS FF HEADS KV_HEADS
"""
import math
import os
import random
import struct
import sys

GGUF_STRING, GGUF_ARRAY = 8, 9
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # type -> size
F32, F16 = 0, 1
ALIGN = 32


def skip_value(buf, pos, vtype):
    """Position after a value of type `vtype` that starts at `pos`."""
    if vtype in SCALAR:
        return pos + SCALAR[vtype]
    if vtype == GGUF_STRING:
        (n,) = struct.unpack_from("<Q", buf, pos)
        return pos + 8 + n
    if vtype == GGUF_ARRAY:
        etype, count = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        if etype in SCALAR:
            return pos + SCALAR[etype] * count
        for _ in range(count):
            pos = skip_value(buf, pos, etype)
        return pos
    raise ValueError(f"unknown GGUF value type {vtype}")


def tokenizer_entries(vocab_path):
    """[(key, raw type+value bytes)] of the tokenizer.* entries, and the vocabulary size."""
    buf = open(vocab_path, "rb").read()
    magic, version, _n_tensors, n_kv = struct.unpack_from("<4sIQQ", buf, 0)
    if magic != b"GGUF" or version < 2:
        raise SystemExit(f"{vocab_path}: not a GGUF v2+ file")
    pos, out, n_vocab = 24, [], 0
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", buf, pos)
        key = buf[pos + 8 : pos + 8 + klen].decode()
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", buf, pos)
        end = skip_value(buf, pos + 4, vtype)
        if key.startswith("tokenizer."):
            out.append((key, buf[pos:end]))
            if key == "tokenizer.ggml.tokens":
                n_vocab = struct.unpack_from("<IQ", buf, pos + 4)[1]
        pos = end
    return out, n_vocab


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv_u32(key, v):
    return gstr(key) + struct.pack("<II", 4, v)


def kv_f32(key, v):
    return gstr(key) + struct.pack("<If", 6, v)


def kv_str(key, v):
    return gstr(key) + struct.pack("<I", GGUF_STRING) + gstr(v)


def main():
    if len(sys.argv) != 8:
        raise SystemExit(__doc__)
    out, vocab_path = sys.argv[1], sys.argv[2]
    embd, layers, ff, heads, kv_heads = (int(x) for x in sys.argv[3:8])
    tok, n_vocab = tokenizer_entries(vocab_path)
    kv_dim = embd // heads * kv_heads
    meta = [
        kv_str("general.architecture", "llama"),
        kv_str("general.name", f"llmux-gpu-{embd}x{layers}"),
        kv_u32("llama.block_count", layers),
        kv_u32("llama.context_length", 8192),
        kv_u32("llama.embedding_length", embd),
        kv_u32("llama.feed_forward_length", ff),
        kv_u32("llama.attention.head_count", heads),
        kv_u32("llama.attention.head_count_kv", kv_heads),
        kv_u32("llama.rope.dimension_count", embd // heads),
        kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5),
        kv_u32("general.file_type", 1),
    ] + [gstr(k) + raw for k, raw in tok]
    tensors = [("token_embd.weight", (embd, n_vocab), F16)]
    for i in range(layers):
        b = f"blk.{i}."
        tensors += [
            (b + "attn_norm.weight", (embd,), F32),
            (b + "attn_q.weight", (embd, embd), F16),
            (b + "attn_k.weight", (embd, kv_dim), F16),
            (b + "attn_v.weight", (embd, kv_dim), F16),
            (b + "attn_output.weight", (embd, embd), F16),
            (b + "ffn_norm.weight", (embd,), F32),
            (b + "ffn_gate.weight", (embd, ff), F16),
            (b + "ffn_up.weight", (embd, ff), F16),
            (b + "ffn_down.weight", (ff, embd), F16),
        ]
    tensors += [("output_norm.weight", (embd,), F32), ("output.weight", (embd, n_vocab), F16)]

    infos, offset, sizes = [], 0, []
    for name, dims, ty in tensors:
        n = math.prod(dims)
        size = n * (4 if ty == F32 else 2)
        infos.append(gstr(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) +
                     struct.pack("<IQ", ty, offset))
        sizes.append(size)
        offset += (size + ALIGN - 1) // ALIGN * ALIGN
    header = struct.pack("<4sIQQ", b"GGUF", 3, len(tensors), len(meta)) + b"".join(meta) + b"".join(infos)
    header += b"\0" * ((-len(header)) % ALIGN)

    rnd = random.Random(1)
    pool = struct.pack(f"<{1 << 22}e", *(rnd.gauss(0.0, 0.02) for _ in range(1 << 22)))  # 8 MiB of noise
    ones = struct.pack(f"<{1 << 16}f", *([1.0] * (1 << 16)))
    with open(out + ".tmp", "wb") as f:
        f.write(header)
        for k, ((_name, _dims, ty), size) in enumerate(zip(tensors, sizes)):
            src, left, start = (ones if ty == F32 else pool), size, (k * 4099 * 2) % (1 << 20)
            while left > 0:  # random noise, read from the pool at a shifting offset
                chunk = src[start : start + left] if ty == F16 else src[:left]
                f.write(chunk)
                left -= len(chunk)
                start = 0
            f.write(b"\0" * ((-size) % ALIGN))
    os.replace(out + ".tmp", out)
    print(f"{out}: {len(tensors)} tensors, vocab {n_vocab}, {(len(header) + offset) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
