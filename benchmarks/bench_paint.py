"""Paint edit latency on the toy generator (CPU): what one brush stroke costs, side by side with a
bare forward pass of the same latent.

One "edit" = what the paint page's server does per stroke: apply the stroke, re-render the image
with every edit so far (one Intervention per edit), segment it for the class pixel counts and
encode the PNG — measured in-process (PaintSession.stroke) and as the page sees it (an HTTP POST to
the local page server, JSON reply with the image). Prints median and p95 per contender and ratios.

    python benchmarks/bench_paint.py            # 60 strokes per contender
    python benchmarks/bench_paint.py --strokes 20 --threads 1
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import time

import torch


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strokes", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layer", default="layer4")
    ap.add_argument("--undo-every", type=int, default=8, help="undo all edits every N strokes (keeps the edit list realistic)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from ganfix.generator import load_generator
    from ganfix.paint import Painting, find_palette
    from ganfix.pages import PageServer
    from ganfix.pages.paint import PaintSession, paint_page
    from ganfix.segmenters import load_segmenter

    gen = load_generator("toyscenes", device="cpu")
    seg = load_segmenter("toyscenes")
    t0 = time.perf_counter()
    pal = find_palette(gen, seg, args.layer, ["tree", "door", "window"], n=8, samples=64, seed=0)
    print(f"palette (64 samples, cached after the first run): {time.perf_counter() - t0:.1f} s")
    painting = Painting(gen, args.layer, pal, seg, 0, 0)
    gh, gw = painting.grid
    session = PaintSession(painting, "/tmp/ganfix-bench-paint")
    rng = random.Random(0)

    def random_stroke():
        r, c, s = rng.randrange(gh), rng.randrange(gw), rng.randint(1, 3)
        cells = [[rr, cc] for rr in range(r, min(gh, r + s)) for cc in range(c, min(gw, c + s))]
        return {"op": rng.choice(["add", "add", "remove"]), "class": rng.choice([e.name for e in pal.entries]), "cells": cells}

    z = gen.latents([0], 0)
    for _ in range(5):  # warm-up
        gen(z)
        session.stroke(random_stroke())
    painting.edits.clear()

    fwd, inproc, http_ms, edits_seen = [], [], [], []
    with PageServer(paint_page(session)) as server:
        for i in range(args.strokes):
            if i % args.undo_every == 0:
                painting.edits.clear()
            # Three contenders per round, in turn, so load on the shared machine hits them alike.
            t = time.perf_counter()
            gen(z)
            fwd.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            session.stroke(random_stroke())
            inproc.append((time.perf_counter() - t) * 1000)
            body = json.dumps(random_stroke()).encode()
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            t = time.perf_counter()
            conn.request("POST", "/api/stroke", body, {"X-Ganfix-Token": server.token, "Content-Type": "application/json"})
            res = conn.getresponse()
            data = res.read()
            http_ms.append((time.perf_counter() - t) * 1000)
            conn.close()
            assert res.status == 200, data[:200]
            edits_seen.append(len(painting.edits))

    print(f"toyscenes, {args.layer} ({gh}×{gw} grid), {args.strokes} strokes per contender, "
          f"{args.threads} thread(s), edits in the list: {min(edits_seen)}–{max(edits_seen)}")
    rows = [("bare forward pass (1 latent)", fwd), ("edit in-process (stroke+render+segment+PNG)", inproc),
            ("edit over HTTP (what the page waits for)", http_ms)]
    for name, xs in rows:
        print(f"  {name:46s} median {statistics.median(xs):7.1f} ms   p95 {pct(xs, 0.95):7.1f} ms")
    print(f"  ratio edit over HTTP ÷ bare forward (medians): {statistics.median(http_ms) / statistics.median(fwd):.2f}")
    ok = pct(http_ms, 0.95) < 300
    print(f"  target < 300 ms per edit: {'met' if ok else 'MISSED'} (p95 over HTTP {pct(http_ms, 0.95):.1f} ms)")


if __name__ == "__main__":
    main()
