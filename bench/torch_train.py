"""Training speed of ropelab's reference model in PyTorch (bench/torch_model.py): the same model,
batch and step (forward, backward, AdamW with decay on matrices only) as bench/bench_train.c.
Prints "tokens/s X". Run with Debian's python3-torch: /usr/bin/python3 bench/torch_train.py
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--pe", default="rope:theta=10000")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch_train: python3-torch is not installed (sh scripts/setup.sh torch)", file=sys.stderr)
        return 3
    import torch_model

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    cfg = torch_model.reference_config()
    cfg["pe"] = a.pe
    T, B, V = cfg["max_seq"], a.batch, cfg["vocab_size"]
    m = torch_model.Model(cfg, T)
    with torch.no_grad():
        for n in m.names:
            p = getattr(m, n.replace(".", "__"))
            if p.dim() == 2:
                p.normal_(0, cfg["init_std"])
    opt = torch.optim.AdamW(m.decay_groups(0.1), lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    total, best = 0.0, 1e30
    for s in range(a.steps + 1):  # step 0 warms up
        tok = torch.randint(0, V, (B, T + 1))
        x, y = tok[:, :T], tok[:, 1:]
        t0 = time.perf_counter()
        loss = m(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s > 0:
            total += dt
            best = min(best, dt)
    print("torch %s, %d threads, step %.3f s mean, loss %.3f" % (torch.__version__, a.threads, total / a.steps,
                                                               loss.item()))
    print("tokens/s %.1f best %.1f" % (B * T * a.steps / total, B * T / best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
