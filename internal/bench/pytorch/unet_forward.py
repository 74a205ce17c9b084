#!/usr/bin/python3
"""PyTorch side of BENCHMARKS.md: the diffusers UNet2DModel forward, timed like `belm bench`.

    /usr/bin/python3 internal/bench/pytorch/unet_forward.py [--threads 2] [--batches 1,8,64] [--duration 3]

Debian's python3-torch (1.13) has no diffusers, so this is UNet2DModel written again in plain torch
(positional time embedding, DownBlock2D / AttnDownBlock2D / UpBlock2D / AttnUpBlock2D, the mid block
with attention, conv down/up sampling: the block types of google/ddpm-cifar10-32). Before timing
anything it proves it is the same network: it loads diffusers' tiny fixture
(belm/unet/testdata/tiny_cifar10_*.safetensors, made by diffusers 0.31 itself), runs it and compares
ε with diffusers' own output (must agree to 1e-5), and it checks that the full-size model has
ddpm-cifar10-32's 35,746,307 parameters. Then it times the full-size forward (random weights: the
time does not depend on them) at each batch, float32, NCHW, torch.no_grad, with --threads intra-op
threads, and prints medians the way `belm bench` does. A benchmark aid only: no test depends on it.

BLAS matters: torch 1.13 from Debian runs the attention and linear layers through the system BLAS,
and Debian's default is the reference BLAS (libblas3), under which those matmuls took 80 % of a
2.8 s batch-8 forward here. The numbers in BENCHMARKS.md use OpenBLAS as the issue did
(`apt-get install libopenblas0-pthread`, OPENBLAS_NUM_THREADS=1 so it does not fight torch's own
threads); the script says which BLAS it got.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "..", "..", "belm", "unet", "testdata")


def read_safetensors(path):
    """The safetensors format: u64 header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(body[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy()
    return out


class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    """diffusers' Attention as UNet2DModel builds it: one head when attention_head_dim is null,
    residual connection, softmax in float32."""

    def __init__(self, c, groups, eps, head_dim):
        super().__init__()
        self.heads = c // head_dim
        self.group_norm = nn.GroupNorm(groups, c, eps=eps)
        self.to_q, self.to_k, self.to_v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c)])
        self.scale = head_dim ** -0.5

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.group_norm(x).view(b, c, hh * ww).transpose(1, 2)
        def split(t):
            return t.view(b, -1, self.heads, c // self.heads).transpose(1, 2)
        q, k, v = split(self.to_q(h)), split(self.to_k(h)), split(self.to_v(h))
        p = torch.softmax((q @ k.transpose(-1, -2) * self.scale).float(), dim=-1).to(q.dtype)
        h = (p @ v).transpose(1, 2).reshape(b, hh * ww, c)
        h = self.to_out[0](h).transpose(1, 2).reshape(b, c, hh, ww)
        return h + x


class Downsample(nn.Module):
    def __init__(self, c, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Block(nn.Module):
    def __init__(self, resnets, attentions, down=None, up=None):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if attentions:
            self.attentions = nn.ModuleList(attentions)
        if down is not None:
            self.downsamplers = nn.ModuleList([down])
        if up is not None:
            self.upsamplers = nn.ModuleList([up])


class UNet2DModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        for k, want in [("time_embedding_type", "positional"), ("act_fn", "silu"), ("center_input_sample", False),
                        ("downsample_type", "conv"), ("upsample_type", "conv"), ("resnet_time_scale_shift", "default"),
                        ("mid_block_scale_factor", 1), ("class_embed_type", None), ("num_class_embeds", None)]:
            if cfg.get(k, want) != want:
                sys.exit(f"unet_forward.py: config {k}={cfg[k]!r} is not supported here (only {want!r})")
        boc, g, eps = cfg["block_out_channels"], cfg["norm_num_groups"], cfg["norm_eps"]
        self.cfg = cfg
        temb = 4 * boc[0]
        hd = cfg.get("attention_head_dim")
        self.time_embedding = nn.Module()
        self.time_embedding.linear_1 = nn.Linear(boc[0], temb)
        self.time_embedding.linear_2 = nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(cfg["in_channels"], boc[0], 3, padding=1)
        L = cfg["layers_per_block"]
        self.down_blocks = nn.ModuleList()
        cout = boc[0]
        for i, kind in enumerate(cfg["down_block_types"]):
            cin, cout = cout, boc[i]
            final = i == len(boc) - 1
            attn = kind == "AttnDownBlock2D"
            self.down_blocks.append(Block(
                [Resnet(cin if j == 0 else cout, cout, temb, g, eps) for j in range(L)],
                [Attention(cout, g, eps, hd or cout) for _ in range(L)] if attn else None,
                down=None if final else Downsample(cout, cfg["downsample_padding"])))
        c = boc[-1]
        self.mid_block = Block([Resnet(c, c, temb, g, eps), Resnet(c, c, temb, g, eps)],
                               [Attention(c, cfg.get("attn_norm_num_groups") or g, eps, hd or c)])
        rev = list(reversed(boc))
        self.up_blocks = nn.ModuleList()
        cout = rev[0]
        for i, kind in enumerate(cfg["up_block_types"]):
            prev, cout, cin = cout, rev[i], rev[min(i + 1, len(boc) - 1)]
            final = i == len(boc) - 1
            attn = kind == "AttnUpBlock2D"
            resnets = [Resnet((prev if j == 0 else cout) + (cin if j == L else cout), cout, temb, g, eps)
                       for j in range(L + 1)]
            self.up_blocks.append(Block(resnets, [Attention(cout, g, eps, hd or cout) for _ in range(L + 1)] if attn else None,
                                        up=None if final else Upsample(cout)))
        self.conv_norm_out = nn.GroupNorm(g, boc[0], eps=eps)
        self.conv_out = nn.Conv2d(boc[0], cfg["out_channels"], 3, padding=1)

    def time_proj(self, t):
        half = self.cfg["block_out_channels"][0] // 2
        exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - self.cfg["freq_shift"])
        emb = t[:, None].float() * torch.exp(exponent)[None, :]
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
        if self.cfg["flip_sin_to_cos"]:
            emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
        return emb

    def forward(self, x, t):
        e = self.time_proj(t).to(x.dtype)
        temb = self.time_embedding.linear_2(F.silu(self.time_embedding.linear_1(e)))
        h = self.conv_in(x)
        skips = [h]
        for blk in self.down_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(h, temb)
                if hasattr(blk, "attentions"):
                    h = blk.attentions[j](h)
                skips.append(h)
            if hasattr(blk, "downsamplers"):
                h = blk.downsamplers[0](h)
                skips.append(h)
        h = self.mid_block.resnets[0](h, temb)
        h = self.mid_block.attentions[0](h)
        h = self.mid_block.resnets[1](h, temb)
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(torch.cat([h, skips.pop()], dim=1), temb)
                if hasattr(blk, "attentions"):
                    h = blk.attentions[j](h)
            if hasattr(blk, "upsamplers"):
                h = blk.upsamplers[0](h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def load_config(name):
    with open(os.path.join(TESTDATA, name)) as f:
        return json.load(f)


def check_fixture():
    """ε of diffusers' tiny UNet, recomputed here: the proof that this module is UNet2DModel."""
    m = UNet2DModel(load_config("tiny_cifar10_config.json")).eval()
    w = read_safetensors(os.path.join(TESTDATA, "tiny_cifar10_unet.safetensors"))
    missing, unexpected = m.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()}, strict=False)
    if missing or unexpected:
        sys.exit(f"unet_forward.py: fixture keys differ: missing {missing}, unexpected {unexpected}")
    io = read_safetensors(os.path.join(TESTDATA, "tiny_cifar10_io.safetensors"))
    with torch.no_grad():
        eps = m(torch.from_numpy(io["x"]), torch.from_numpy(io["t"]).long()).numpy()
    d = float(np.abs(eps - io["eps"]).max())
    if d > 1e-5:
        sys.exit(f"unet_forward.py: this UNet differs from diffusers' fixture by {d:.2e} > 1e-5")
    return d


def blas():
    """The BLAS library torch's matmuls went to (after one was run), from this process's mappings."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    with open("/proc/self/maps") as f:
        libs = {os.path.basename(l.split()[-1]) for l in f if "blas" in l.lower()}
    if any("openblas" in l for l in libs):
        return "OpenBLAS (OPENBLAS_NUM_THREADS=%s)" % os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    return "reference BLAS (%s): slow matmuls, install libopenblas0-pthread" % ", ".join(sorted(libs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--batches", default="1,8,64")
    ap.add_argument("--duration", type=float, default=3.0, help="minimum seconds measured per batch")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d = check_fixture()
    torch.manual_seed(0)
    m = UNet2DModel(load_config("ddpm_cifar10_32_config.json")).eval()
    n = sum(p.numel() for p in m.parameters())
    if n != 35746307:
        sys.exit(f"unet_forward.py: full-size model has {n} parameters, not ddpm-cifar10-32's 35,746,307")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}, {blas()}; "
          f"fixture ε max|Δ| vs diffusers {d:.1e}; {n:,} parameters; load average {load} at start")
    print("| benchmark | PyTorch median | 5%-tile | count |")
    print("|---|---:|---:|---:|")
    with torch.no_grad():
        for b in [int(s) for s in a.batches.split(",")]:
            x = torch.randn(b, 3, 32, 32)
            t = torch.full((b,), 500, dtype=torch.long)
            m(x, t)  # warm-up, not counted
            times, start = [], time.perf_counter()
            while time.perf_counter() - start < a.duration or len(times) < 3:
                t0 = time.perf_counter()
                m(x, t)
                times.append(time.perf_counter() - t0)
            times.sort()
            print(f"| forward/B{b} | {statistics.median(times) * 1e3:.1f} ms | {times[len(times) // 20] * 1e3:.1f} ms | {len(times)} |")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
