"""Checks ropelab's loss and gradients on one batch against the PyTorch twin (bench/torch_model.py)
run in float64. DIR is a raw dump written by `build/bench/bench_train --dump DIR` (docs/model.md,
"Raw dump"): config.json, params.txt, params.bin, rope.txt, batch.bin, meta.txt, grads.bin.

Tolerances: ropelab computes in float32 (eps 6e-8) over 512 tokens, a 4096-way softmax and 6
layers; against float64 its loss agrees to ~2e-9 relative and each gradient tensor to ~1.3e-6 of
that tensor's largest entry (measured on three encodings; adaptive-temperature attention, both beta
modes: 1.1e-9 and 3.0e-6). We require 1e-5 on the loss and 1e-3
of each tensor's scale on every gradient entry, far above float32 rounding and far below the O(1)
error of a wrong formula.
Exit status 0 when everything agrees.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(d):
    try:
        import torch
    except ImportError:
        print("check_torch: python3-torch is not installed (sh scripts/setup.sh torch)", file=sys.stderr)
        return 3
    import torch_model

    cfg = torch_model.load_config(os.path.join(d, "config.json"))
    meta = dict(line.split() for line in open(os.path.join(d, "meta.txt")))
    B, T, loss_c = int(meta["B"]), int(meta["T"]), float(meta["loss"])
    table = [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in (line.split() for line in open(os.path.join(d, "params.txt")))]
    P = np.fromfile(os.path.join(d, "params.bin"), dtype="<f4")
    G = np.fromfile(os.path.join(d, "grads.bin"), dtype="<f4")
    io = np.fromfile(os.path.join(d, "batch.bin"), dtype="<i4").reshape(2, B, T)
    torch.set_num_threads(2)
    m = torch_model.Model(cfg, T, torch.float64, os.path.join(d, "rope.txt"))
    if [t[0] for t in table] != m.names:
        print("check_torch: parameter names/order differ:\n  C:     %s\n  torch: %s" % ([t[0] for t in table], m.names))
        return 1
    with torch.no_grad():
        for name, off, rows, cols in table:
            n = rows * cols
            p = getattr(m, name.replace(".", "__"))
            p.copy_(torch.from_numpy(P[off:off + n].astype(np.float64)).view(p.shape))
    loss = m(torch.from_numpy(io[0].astype(np.int64)), torch.from_numpy(io[1].astype(np.int64)))
    loss.backward()
    ok = True
    rel = abs(loss.item() - loss_c) / abs(loss.item())
    print("check_torch %s, attention %s: loss ropelab %.9f, torch(float64) %.9f, relative difference %.2e" %
          (cfg["pe"], cfg.get("attn_softmax", "softmax"), loss_c, loss.item(), rel))
    ok &= rel <= 1e-5
    worst, worst_name = 0.0, ""
    for name, off, rows, cols in table:
        n = rows * cols
        g = getattr(m, name.replace(".", "__")).grad.numpy().reshape(-1)
        scale = np.abs(g).max()
        err = np.abs(G[off:off + n].astype(np.float64) - g).max() / max(scale, 1e-30)
        if err > worst:
            worst, worst_name = err, name
        if err > 1e-3:
            print("  gradient of %s differs: max error %.2e of its scale %.3e" % (name, err, scale))
            ok = False
    print("  gradients: worst max-error / scale %.2e (%s), %d tensors: %s" % (worst, worst_name, len(table),
                                                                             "OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: check_torch.py DUMP_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
