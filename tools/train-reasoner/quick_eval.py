#!/usr/bin/env python3
"""Quick in-PyTorch estimate of greedy and self-consistency accuracy.

Used while choosing a training recipe (the model card's figures come from
`reasonscope eval`, not from this). Samples k solutions per problem at each
temperature, batched, and reports greedy accuracy, majority-vote accuracy
and coverage.

Usage: quick_eval.py WEIGHTS.pt [--suite hard] [--limit 100] [--k 16]
                     [--temps 0.5,0.8] [--device cuda] [--verify N]

--verify N also scores the step-verification head on N fresh single steps
(half of them wrong, as in training): accuracy of P(ok) > P(bad).
"""
import argparse
import collections
import json
import os
import random

import torch

import train


@torch.no_grad()
def generate(model, prompts, temp, max_new, dev, chunk=512):
    """Completes each prompt (token lists); temp 0 is greedy."""
    out = []
    for c0 in range(0, len(prompts), chunk):
        seqs = [list(p) for p in prompts[c0 : c0 + chunk]]
        done = [False] * len(seqs)
        for _ in range(max_new):
            live = [i for i, d in enumerate(done) if not d]
            if not live:
                break
            T = max(len(seqs[i]) for i in live)
            x = torch.full((len(live), T), train.EOS, dtype=torch.long)
            for r, i in enumerate(live):
                x[r, : len(seqs[i])] = torch.tensor(seqs[i])
            logits = model(x.to(dev))
            last = torch.tensor([len(seqs[i]) - 1 for i in live], device=dev)
            lg = logits[torch.arange(len(live), device=dev), last]
            if temp == 0:
                nxt = lg.argmax(-1)
            else:
                nxt = torch.multinomial(torch.softmax(lg / temp, -1), 1)[:, 0]
            for r, i in enumerate(live):
                t = int(nxt[r])
                if t == train.EOS or len(seqs[i]) >= model.cfg.ctx - 1:
                    done[i] = True
                else:
                    seqs[i].append(t)
        out.extend(seqs)
    return out


def answer_of(ids):
    text = train.decode(ids)
    if "Answer:" not in text:
        return None
    return text.rsplit("Answer:", 1)[-1].strip().split("\n")[0]


@torch.no_grad()
def verification_accuracy(model, n, dev, seed=99):
    """Share of fresh steps `V: a op b=c` that the head judges right."""
    rng = random.Random(seed)
    ok_id, bad_id = train.encode("o")[0], train.encode("b")[0]
    right = 0
    for _ in range(n):
        a, op, b, c, good = train.arith.verification_step(rng)
        ids = [train.BOS] + train.encode(f"V: {a}{op}{b}={c}\n")
        lg = model(torch.tensor([ids], device=dev))[0, -1]
        right += (bool(lg[ok_id] > lg[bad_id])) == good
    return right / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--suite", default="hard")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--temps", default="0.5,0.8")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verify", type=int, default=0, help="also score the verification head on N fresh steps")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    ck = torch.load(args.weights, map_location="cpu")
    cfg = train.Config()
    cfg.dim, cfg.n_layers = ck["dim"], ck["layers"]
    model = train.Model(cfg, len(train.TOKENS))
    model.load_state_dict(ck["state"])
    model.to(args.device).eval()
    with open(os.path.join(train.ROOT, "resources", "tasks", f"arith-{args.suite}.jsonl")) as f:
        rows = [json.loads(l) for l in f][: args.limit]
    prompts = [[train.BOS] + train.encode(r["prompt"]) for r in rows]
    gold = [r["answer"] for r in rows]
    g = generate(model, prompts, 0, 400, args.device)
    greedy = sum(answer_of(s) == a for s, a in zip(g, gold)) / len(rows)
    report = {"weights": args.weights, "problems": len(rows), "greedy": greedy}
    if args.verify:
        report["verification"] = verification_accuracy(model, args.verify, args.device)
    for t in [float(x) for x in args.temps.split(",")]:
        samples = generate(model, [p for p in prompts for _ in range(args.k)], t, 400, args.device)
        vote = cover = single = 0
        for i, a in enumerate(gold):
            ans = [answer_of(s) for s in samples[i * args.k : (i + 1) * args.k]]
            counts = collections.Counter(x for x in ans if x is not None)
            vote += bool(counts) and counts.most_common(1)[0][0] == a
            cover += a in ans
            single += ans[0] == a
        report[f"T{t}"] = {"single": single / len(rows), "sc": vote / len(rows), "coverage": cover / len(rows)}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
