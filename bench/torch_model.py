"""PyTorch twin of ropelab's training model (include/ropelab/model.h), for bench/torch_train.py
(speed) and bench/check_torch.py (agreement of loss and gradients).

The same Gemma-layout decoder: token embedding times embed_scale (sqrt(d_model)), tied or untied
head, pre-norm RMSNorm with weight w or (1 + w), attention with n_kv_heads shared key/value heads
(query head h uses kv head h // (n_heads / n_kv_heads)), head_dim independent of d_model,
per-layer rotations from a frequency table (any librope encoding, either pair layout), optional
sliding window and q/k/v/o/MLP biases, GeGLU (tanh GELU) or SwiGLU MLP, final RMSNorm, softmax
cross-entropy with targets < 0 ignored. Written the plain eager way (torch 1.13 has no fused
attention on CPU): scores, mask, softmax, weighted sum. The attention softmax follows the config's
"attn_softmax": "softmax", or adaptive temperature ("Softmax is not enough"): per row
H = entropy of softmax(s), beta = max(1, poly(H)) if H > 0.5 else 1, softmax(beta s), with autograd
through beta ("adaptive") or beta detached ("adaptive-const").
"""
import json
import math

import torch
import torch.nn.functional as F


def chunk_dims(layout, rot_dims, head_dim, k):
    """The two dims of chunk k (librope's rl_rope_chunk_dims)."""
    if layout == "interleaved":
        return 2 * k, 2 * k + 1
    if k < rot_dims // 2:
        return k, k + rot_dims // 2
    j, rest = k - rot_dims // 2, head_dim - rot_dims
    return rot_dims + j, rot_dims + j + rest // 2


class Rotation:
    """cos/sin tables [T][n_chunks] and the pair permutation of one layer."""

    def __init__(self, layout, rot_dims, attn_factor, freqs, head_dim, T, dtype):
        nc = head_dim // 2
        pos = torch.arange(T, dtype=torch.float64)[:, None]
        ang = pos * torch.tensor(freqs, dtype=torch.float64)[None, :]
        scale = torch.tensor([attn_factor if k < rot_dims // 2 else 1.0 for k in range(nc)], dtype=torch.float64)
        self.cos = (torch.cos(ang) * scale).to(dtype)
        self.sin = (torch.sin(ang) * scale).to(dtype)
        pairs = [chunk_dims(layout, rot_dims, head_dim, k) for k in range(nc)]
        self.i0 = torch.tensor([p[0] for p in pairs])
        self.i1 = torch.tensor([p[1] for p in pairs])
        perm = torch.cat([self.i0, self.i1])
        self.inv = torch.empty_like(perm)
        self.inv[perm] = torch.arange(head_dim)
        self.identity = all(f == 0 for f in freqs) and attn_factor == 1.0

    def __call__(self, x):  # x: [B, T, heads, head_dim]
        if self.identity:
            return x
        c, s = self.cos[None, :, None, :], self.sin[None, :, None, :]
        x0, x1 = x[..., self.i0], x[..., self.i1]
        return torch.cat([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1)[..., self.inv]


def rope_tables(cfg, T, dtype, rope_txt=None):
    """One Rotation per layer: from bench_train's rope.txt dump, or for plain "rope:theta=X" /
    "nope" specs computed here (the speed benchmark)."""
    hd, L = cfg["head_dim"], cfg["n_layers"]
    if rope_txt:
        rows = [line.split() for line in open(rope_txt)]
        return [Rotation(r[1], int(r[2]), float(r[3]), [float(v) for v in r[4:]], hd, T, dtype) for r in rows]
    specs = cfg["pe"].split(";")
    out = []
    for l in range(L):
        spec = specs[l % len(specs)]
        if spec.startswith("nope"):
            freqs = [0.0] * (hd // 2)
        elif spec.startswith("rope:theta="):
            theta = float(spec.split("=")[1].split(",")[0])
            freqs = [theta ** (-2.0 * k / hd) for k in range(hd // 2)]
        else:
            raise SystemExit("torch_model: only 'rope:theta=X' and 'nope' are computed here (got %s)" % spec)
        out.append(Rotation("half", hd, 1.0, freqs, hd, T, dtype))
    return out


class Model(torch.nn.Module):
    def __init__(self, cfg, T, dtype=torch.float32, rope_txt=None):
        super().__init__()
        if cfg["norm"] != "rms" or cfg["mlp"] not in ("geglu", "swiglu") or cfg["fused_qkv"] or \
                cfg["parallel_residual"] or cfg["sandwich_norm"] or cfg["attn_softcap"] or cfg["final_softcap"]:
            raise SystemExit("torch_model: only the trainable layouts are mirrored")
        self.cfg = cfg
        V, D, L = cfg["vocab_size"], cfg["d_model"], cfg["n_layers"]
        H, KV, hd, Fh = cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"], cfg["d_ff"]
        P = lambda *shape: torch.nn.Parameter(torch.zeros(*shape, dtype=dtype))
        self.names = []  # Hugging Face names, in ropelab's table order

        def reg(name, p):
            self.register_parameter(name.replace(".", "__"), p)
            self.names.append(name)
            return p

        self.wte = reg("model.embed_tokens.weight", P(V, D))
        self.layers = []
        for l in range(L):
            pre = "model.layers.%d." % l
            y = {"attn_norm": reg(pre + "input_layernorm.weight", P(D))}
            for n, rows in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
                y["w" + n] = reg(pre + "self_attn.%s_proj.weight" % n, P(rows, D))
            if cfg["qkv_bias"]:
                for n, rows in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
                    y["b" + n] = reg(pre + "self_attn.%s_proj.bias" % n, P(rows))
            y["wo"] = reg(pre + "self_attn.o_proj.weight", P(D, H * hd))
            if cfg["o_bias"]:
                y["bo"] = reg(pre + "self_attn.o_proj.bias", P(D))
            y["mlp_norm"] = reg(pre + "post_attention_layernorm.weight", P(D))
            y["wgate"] = reg(pre + "mlp.gate_proj.weight", P(Fh, D))
            y["wup"] = reg(pre + "mlp.up_proj.weight", P(Fh, D))
            if cfg["mlp_bias"]:
                y["bgate"] = reg(pre + "mlp.gate_proj.bias", P(Fh))
                y["bup"] = reg(pre + "mlp.up_proj.bias", P(Fh))
            y["wdown"] = reg(pre + "mlp.down_proj.weight", P(D, Fh))
            if cfg["mlp_bias"]:
                y["bdown"] = reg(pre + "mlp.down_proj.bias", P(D))
            self.layers.append(y)
        self.final_norm = reg("model.norm.weight", P(D))
        self.head = self.wte if cfg["tie_embeddings"] else reg("lm_head.weight", P(V, D))
        es = cfg["embed_scale"]
        self.embed_scale = math.sqrt(D) if es == "sqrt_d_model" else float(es)
        self.scale = 1.0 / math.sqrt(cfg["query_pre_attn_scalar"] or hd)
        self.rot = rope_tables(cfg, T, dtype, rope_txt)
        windows = cfg["sliding_layers"]
        i = torch.arange(T)
        causal = i[None, :] > i[:, None]
        self.masks = []
        for l in range(L):
            w = cfg["sliding_window"] if windows[l % len(windows)] else 0
            self.masks.append(causal | (i[:, None] - i[None, :] >= w) if w > 0 else causal)

    def adaptive_beta(self, s, mask):
        """beta per row of the masked scores s [..., T, T] (1 for plain softmax)."""
        kind = self.cfg.get("attn_softmax", "softmax")
        if kind == "softmax":
            return 1.0
        p = torch.softmax(s, dim=-1)
        # H = logsumexp(s) - sum p s, with the masked entries' -inf kept out of the product
        H = torch.logsumexp(s, dim=-1, keepdim=True) - (p * s.masked_fill(mask, 0.0)).sum(-1, keepdim=True)
        poly = (((-0.037 * H + 0.481) * H - 2.3) * H + 4.917) * H - 1.791
        beta = torch.where((H > 0.5) & (poly > 1), poly, torch.ones_like(poly))
        return beta.detach() if kind == "adaptive-const" else beta

    def norm(self, x, w):
        g = 1 + w if self.cfg["norm_plus_one"] else w
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg["norm_eps"]) * g

    def forward(self, tokens, targets):
        c = self.cfg
        B, T = tokens.shape
        H, KV, hd = c["n_heads"], c["n_kv_heads"], c["head_dim"]
        x = F.embedding(tokens, self.wte) * self.embed_scale
        for l, y in enumerate(self.layers):
            h = self.norm(x, y["attn_norm"])
            q = F.linear(h, y["wq"], y.get("bq")).view(B, T, H, hd)
            k = F.linear(h, y["wk"], y.get("bk")).view(B, T, KV, hd)
            v = F.linear(h, y["wv"], y.get("bv")).view(B, T, KV, hd)
            q, k = self.rot[l](q), self.rot[l](k)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            if KV != H:
                k = k.repeat_interleave(H // KV, dim=1)
                v = v.repeat_interleave(H // KV, dim=1)
            s = (q @ k.transpose(-1, -2)) * self.scale
            s = s.masked_fill(self.masks[l][:T, :T], float("-inf"))
            a = torch.softmax(self.adaptive_beta(s, self.masks[l][:T, :T]) * s, dim=-1) @ v
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, H * hd), y["wo"], y.get("bo"))
            h = self.norm(x, y["mlp_norm"])
            g = F.linear(h, y["wgate"], y.get("bgate"))
            g = F.gelu(g, approximate="tanh") if c["mlp"] == "geglu" else F.silu(g)
            x = x + F.linear(g * F.linear(h, y["wup"], y.get("bup")), y["wdown"], y.get("bdown"))
        logits = F.linear(self.norm(x, self.final_norm), self.head)
        return F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1), ignore_index=-1)

    def decay_groups(self, wd):
        named = dict(zip(self.names, [getattr(self, n.replace(".", "__")) for n in self.names]))
        dec = [p for n, p in named.items() if p.dim() == 2]
        nodec = [p for n, p in named.items() if p.dim() == 1]
        return [{"params": dec, "weight_decay": wd}, {"params": nodec, "weight_decay": 0.0}]


def load_config(path):
    with open(path) as f:
        return json.load(f)


def reference_config():
    """ropelab's reference model (rl_model_config_default), as its JSON."""
    return {"arch": "gemma", "vocab_size": 4096, "d_model": 256, "n_layers": 6, "n_heads": 4, "n_kv_heads": 1,
            "head_dim": 64, "d_ff": 1024, "max_seq": 256, "pe": "rope:theta=10000", "norm": "rms",
            "norm_plus_one": True, "norm_eps": 1e-6, "sandwich_norm": False, "mlp": "geglu", "qkv_bias": False,
            "o_bias": False, "mlp_bias": False, "fused_qkv": False, "parallel_residual": False,
            "query_pre_attn_scalar": 0, "attn_softcap": 0, "final_softcap": 0, "sliding_window": 0,
            "sliding_layers": [0], "tie_embeddings": True, "embed_scale": "sqrt_d_model", "bos_id": 256,
            "eos_id": 256, "init_std": 0.02}
