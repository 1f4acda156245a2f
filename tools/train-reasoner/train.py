#!/usr/bin/env python3
"""Trains Reasonscope's bundled reasoning model and exports it to GGUF.

A small llama-architecture transformer (RMSNorm, rotary embeddings in
llama.cpp's "normal" pair layout, grouped-query attention, SwiGLU) learns
the worked arithmetic of arith.py, plus a verification task
("V: a op b=c" -> "ok"/"bad") that makes it usable as a step scorer.
The vocabulary is character-level in SentencePiece form (with byte
fallback), so any GGUF tool loads it.

Reproducible: the same --seed, --steps and --threads give the same model.
Usage: train.py [--steps N] [--threads T] [--out FILE] [--seed S]
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import arith
from gguf_export import T_ARRAY, T_BOOL, T_F32, T_I32, T_STRING, T_U32, write_gguf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# ---------------------------------------------------------------- vocabulary
SPACE = "\u2581"
UNK, BOS, EOS = 0, 1, 2
TOKENS = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
TYPES = [2, 3, 3] + [6] * 256
CHARS = [chr(c) for c in range(0x21, 0x7F)] + [SPACE]
TOKENS += CHARS
TYPES += [1] * len(CHARS)
INDEX = {t: i for i, t in enumerate(TOKENS)}
BYTE0 = 3


def encode(text):
    ids = []
    for ch in text:
        if ch == " ":
            ids.append(INDEX[SPACE])
        elif ch in INDEX and TYPES[INDEX[ch]] == 1:
            ids.append(INDEX[ch])
        else:
            ids.extend(BYTE0 + b for b in ch.encode("utf-8"))
    return ids


def decode(ids):
    out = bytearray()
    for i in ids:
        if BYTE0 <= i < BYTE0 + 256:
            out.append(i - BYTE0)
        elif i >= BYTE0 + 256:
            out += TOKENS[i].replace(SPACE, " ").encode()
    return out.decode("utf-8", "replace")


# ---------------------------------------------------------------- model
class Config:
    dim = 192
    n_layers = 4
    n_heads = 6
    n_kv_heads = 2
    ffn = 512
    ctx = 512
    rope_base = 10000.0
    eps = 1e-5


def rope_tables(cfg, n):
    hd = cfg.dim // cfg.n_heads
    inv = cfg.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    # x: (B, H, T, hd); rotates adjacent pairs (x[2i], x[2i+1]) as llama.cpp's normal mode.
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).flatten(-2)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        hd = cfg.dim // cfg.n_heads
        self.attn_norm = RMSNorm(cfg.dim, cfg.eps)
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * hd, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.wo = nn.Linear(cfg.n_heads * hd, cfg.dim, bias=False)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.eps)
        self.gate = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.up = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.down = nn.Linear(cfg.ffn, cfg.dim, bias=False)

    def forward(self, x, cos, sin):
        c = self.cfg
        B, T, _ = x.shape
        hd = c.dim // c.n_heads
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, c.n_heads, hd).transpose(1, 2)
        k = self.wk(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        v = self.wv(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = c.n_heads // c.n_kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") else None
        if a is None:
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
            a = att.masked_fill(mask, float("-inf")).softmax(-1) @ v
        x = x + self.wo(a.transpose(1, 2).reshape(B, T, -1))
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self, cfg, n_vocab):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(n_vocab, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.eps)
        self.out = nn.Linear(cfg.dim, n_vocab, bias=False)
        cos, sin = rope_tables(cfg, cfg.ctx)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        for b in self.blocks:
            nn.init.normal_(b.wo.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))
            nn.init.normal_(b.down.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))

    def forward(self, idx):
        T = idx.shape[1]
        x = self.embed(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for b in self.blocks:
            x = b(x, cos, sin)
        return self.out(self.norm(x))


# ---------------------------------------------------------------- data
def load_heldout():
    held = set()
    tasks = os.path.join(ROOT, "resources", "tasks")
    for name in os.listdir(tasks) if os.path.isdir(tasks) else []:
        if name.endswith(".jsonl"):
            with open(os.path.join(tasks, name)) as f:
                for line in f:
                    held.add(json.loads(line)["expression"])
    return held


def sample_example(rng, held, verify_frac=0.12, any_order=False, regroup=False, commute=False):
    """(token ids, loss mask) for one training sequence."""
    if rng.random() < verify_frac:
        a, op, b, c, good = arith.verification_step(rng)
        prompt, target = f"V: {a}{op}{b}={c}\n", ("ok" if good else "bad") + "\n"
    else:
        level = rng.choices(["easy", "medium", "hard"], weights=[0.2, 0.35, 0.45])[0]
        while True:
            expr, lines, _ = arith.make_problem(rng, level, any_order, regroup, commute)
            if expr not in held:
                break
        prompt, target = arith.prompt_for(expr), "\n".join(lines) + "\n"
    p, t = [BOS] + encode(prompt), encode(target) + [EOS]
    return p + t, [0] * len(p) + [1] * len(t)


def batches(rng, held, n, group=8, **kw):
    """Yields batches of n sequences of similar length (less padding)."""
    while True:
        pool = sorted((sample_example(rng, held, **kw) for _ in range(n * group)), key=lambda e: len(e[0]))
        chunks = [pool[i * n : (i + 1) * n] for i in range(group)]
        rng.shuffle(chunks)
        for c in chunks:
            yield collate(c)


def collate(seqs):
    n = len(seqs)
    T = max(len(s) for s, _ in seqs)
    x = torch.full((n, T), EOS, dtype=torch.long)
    m = torch.zeros((n, T), dtype=torch.float32)
    for i, (s, mask) in enumerate(seqs):
        x[i, : len(s)] = torch.tensor(s)
        m[i, : len(s)] = torch.tensor(mask, dtype=torch.float32)
    return x, m


# ---------------------------------------------------------------- eval
@torch.no_grad()
def greedy_accuracy(model, rows, max_new=400):
    model.eval()
    ok = 0
    dev = next(model.parameters()).device
    for row in rows:
        ids = [BOS] + encode(row["prompt"])
        for _ in range(max_new):
            nxt = int(model(torch.tensor([ids], device=dev))[0, -1].argmax())
            if nxt == EOS or len(ids) >= model.cfg.ctx:
                break
            ids.append(nxt)
        text = decode(ids)
        ans = text.rsplit("Answer:", 1)[-1].strip().split("\n")[0] if "Answer:" in text else ""
        ok += ans == row["answer"]
    model.train()
    return ok / max(1, len(rows))


# ---------------------------------------------------------------- export
def export(model, cfg, path, meta):
    hd = cfg.dim // cfg.n_heads
    kv = [
        ("general.architecture", T_STRING, "llama"),
        ("general.name", T_STRING, "reasonscope-arith-reasoner"),
        ("general.description", T_STRING, meta),
        ("llama.context_length", T_U32, cfg.ctx),
        ("llama.embedding_length", T_U32, cfg.dim),
        ("llama.block_count", T_U32, cfg.n_layers),
        ("llama.feed_forward_length", T_U32, cfg.ffn),
        ("llama.attention.head_count", T_U32, cfg.n_heads),
        ("llama.attention.head_count_kv", T_U32, cfg.n_kv_heads),
        ("llama.rope.dimension_count", T_U32, hd),
        ("llama.rope.freq_base", T_F32, cfg.rope_base),
        ("llama.attention.layer_norm_rms_epsilon", T_F32, cfg.eps),
        ("tokenizer.ggml.model", T_STRING, "llama"),
        ("tokenizer.ggml.tokens", T_ARRAY, (T_STRING, TOKENS)),
        ("tokenizer.ggml.scores", T_ARRAY, (T_F32, [0.0] * len(TOKENS))),
        ("tokenizer.ggml.token_type", T_ARRAY, (T_I32, TYPES)),
        ("tokenizer.ggml.bos_token_id", T_U32, BOS),
        ("tokenizer.ggml.eos_token_id", T_U32, EOS),
        ("tokenizer.ggml.unknown_token_id", T_U32, UNK),
        ("tokenizer.ggml.add_bos_token", T_BOOL, True),
        ("tokenizer.ggml.add_space_prefix", T_BOOL, False),
        ("general.file_type", T_U32, 0),
    ]
    t = lambda p: p.detach().float().numpy()
    tensors = [("token_embd.weight", t(model.embed.weight))]
    for i, b in enumerate(model.blocks):
        tensors += [
            (f"blk.{i}.attn_norm.weight", t(b.attn_norm.weight)),
            (f"blk.{i}.attn_q.weight", t(b.wq.weight)),
            (f"blk.{i}.attn_k.weight", t(b.wk.weight)),
            (f"blk.{i}.attn_v.weight", t(b.wv.weight)),
            (f"blk.{i}.attn_output.weight", t(b.wo.weight)),
            (f"blk.{i}.ffn_norm.weight", t(b.ffn_norm.weight)),
            (f"blk.{i}.ffn_gate.weight", t(b.gate.weight)),
            (f"blk.{i}.ffn_up.weight", t(b.up.weight)),
            (f"blk.{i}.ffn_down.weight", t(b.down.weight)),
        ]
    tensors += [("output_norm.weight", t(model.norm.weight)), ("output.weight", t(model.out.weight))]
    write_gguf(path, kv, tensors)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--out", default=os.path.join(ROOT, "resources", "models", "reasoner.gguf"))
    ap.add_argument("--device", default="cpu", help="torch device (cpu; cuda to explore recipes quickly)")
    ap.add_argument("--verify-frac", type=float, default=0.12, help="share of step-verification examples")
    ap.add_argument("--any-order", action="store_true", help="solutions reduce a random ready operation")
    ap.add_argument("--regroup", action="store_true", help="with --any-order, steps may also regroup + and * chains")
    ap.add_argument("--commute", action="store_true", help="with --any-order, + and * steps may write their operands either way round")
    ap.add_argument("--dim", type=int, default=Config.dim)
    ap.add_argument("--layers", type=int, default=Config.n_layers)
    ap.add_argument("--save-pt", default="", help="also save the PyTorch weights here")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass (6x faster on CPUs with AVX512-BF16)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    held = load_heldout()
    cfg = Config()
    cfg.dim, cfg.n_layers = args.dim, args.layers
    model = Model(cfg, len(TOKENS)).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params/1e6:.2f}M, vocab {len(TOKENS)}, held-out expressions {len(held)}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.05)
    hard = []
    path = os.path.join(ROOT, "resources", "tasks", "arith-hard.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            hard = [json.loads(l) for l in f][:40]
    t0 = time.time()
    warm = 100
    data = batches(rng, held, args.batch, verify_frac=args.verify_frac, any_order=args.any_order, regroup=args.regroup, commute=args.commute)
    for step in range(1, args.steps + 1):
        lr = args.lr * min(1.0, step / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.steps))))
        for g in opt.param_groups:
            g["lr"] = lr
        x, m = next(data)
        x, m = x.to(args.device), m.to(args.device)
        with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(x[:, :-1]).float()
        loss = (F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="none") * m[:, 1:].reshape(-1)).sum() / m[:, 1:].sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {time.time()-t0:.0f}s", flush=True)
        if hard and args.eval_every and (step % args.eval_every == 0 or step == args.steps):
            print(f"step {step} greedy hard[:{len(hard)}] = {greedy_accuracy(model, hard):.3f}", flush=True)
    minutes = (time.time() - t0) / 60
    meta = f"trained by tools/train-reasoner/train.py seed={args.seed} steps={args.steps} batch={args.batch} threads={args.threads} ({minutes:.1f} min)"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    if args.save_pt:
        torch.save({"dim": cfg.dim, "layers": cfg.n_layers, "state": model.state_dict()}, args.save_pt)
    export(model.cpu(), cfg, args.out, meta)
    print(f"wrote {args.out}: {meta}", flush=True)


if __name__ == "__main__":
    main()
