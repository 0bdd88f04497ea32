#!/usr/bin/env python3
"""PyTorch anchor for the GPU check: the tab18 workloads of shared/bench/README.md on the same device as ours.

Runs the same four models and the same workloads as bench/NormalizingFlows.GpuCheck (Workloads.cs) in eager
PyTorch, so that a device run can time ours and the anchor side by side, alternating (bench/gpu-run.sh):

  --library port : the nflows definitions, ported line by line from the TorchSharp anchor
                   (shared/bench/torchsharp/TsBench/Flows.cs): the models the CPU side-by-side figures use;
  --library zuko : zuko's own flows of the same shape (MAF/NSF with passes=2 for the couplings), when zuko is
                   importable (the GPU figures to beat in shared/gpu/README.md are zuko's);
  --compile MODE : either of them under torch.compile (e.g. reduce-overhead: CUDA graphs), the stronger anchor.

Workloads (as Workloads.cs): train = Adam lr 1e-3, loss -mean log p on a fresh random batch of the standardised
training split drawn on the device, median step time over 200/100/30 timed steps after 20/10/5 warm-up at batch
512/4096/65536 (the device synchronised after every step); log_prob and sample of 100 000 rows in one batch, no
gradients, timed once after one warm-up call. One JSON line per workload (samples_per_s).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = ["realnvp", "nsf_c", "maf", "maf_rqs"]


# ---------------------------------------------------------------- the nflows definitions (TsBench/Flows.cs)
MIN_BIN, MIN_DERIV = 1e-3, 1e-3
TAIL_DERIV_CONST = math.log(math.exp(1 - MIN_DERIV) - 1)


def rqs(x, p, K, B, inverse):
    """Rational-quadratic spline with identity tails outside [-B, B]; p = [widths K | heights K | derivs K-1]."""
    inside = (x >= -B) & (x <= B)
    xc = x.clamp(-B, B)
    uw, uh, ud = p[..., :K], p[..., K:2 * K], p[..., 2 * K:]
    ud = F.pad(ud, (1, 1), value=TAIL_DERIV_CONST)
    widths = uw.softmax(-1) * (1 - MIN_BIN * K) + MIN_BIN
    cumw = F.pad(F.pad(widths.cumsum(-1)[..., :K - 1] * (2 * B) - B, (1, 0), value=-B), (0, 1), value=B)
    widths = cumw[..., 1:] - cumw[..., :-1]
    derivs = F.softplus(ud) + MIN_DERIV
    heights = uh.softmax(-1) * (1 - MIN_BIN * K) + MIN_BIN
    cumh = F.pad(F.pad(heights.cumsum(-1)[..., :K - 1] * (2 * B) - B, (1, 0), value=-B), (0, 1), value=B)
    heights = cumh[..., 1:] - cumh[..., :-1]
    knots = cumh if inverse else cumw
    idx = (xc.unsqueeze(-1) >= knots[..., 1:K]).sum(-1, keepdim=True)

    def g(t):
        return t.gather(-1, idx).squeeze(-1)

    in_cumw, in_w, in_cumh, in_h = g(cumw), g(widths), g(cumh), g(heights)
    delta = heights / widths
    in_delta, in_d, in_d1 = g(delta), g(derivs), derivs[..., 1:].gather(-1, idx).squeeze(-1)
    if inverse:
        dy = xc - in_cumh
        s = in_d + in_d1 - 2 * in_delta
        a = dy * s + in_h * (in_delta - in_d)
        b = in_h * in_d - dy * s
        c = -in_delta * dy
        root = (2 * c) / (-b - (b * b - 4 * a * c).sqrt())
        out = root * in_w + in_cumw
        t1mt = root * (1 - root)
        denom = in_delta + s * t1mt
        dnum = in_delta.square() * (in_d1 * root.square() + 2 * in_delta * t1mt + in_d * (1 - root).square())
        ld = 2 * denom.log() - dnum.log()
    else:
        theta = (xc - in_cumw) / in_w
        t1mt = theta * (1 - theta)
        numer = in_h * (in_delta * theta.square() + in_d * t1mt)
        denom = in_delta + (in_d + in_d1 - 2 * in_delta) * t1mt
        out = in_cumh + numer / denom
        dnum = in_delta.square() * (in_d1 * theta.square() + 2 * in_delta * t1mt + in_d * (1 - theta).square())
        ld = dnum.log() - 2 * denom.log()
    return torch.where(inside, out, x), ld.masked_fill(~inside, 0.0)


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


def alternating(D, even):
    tr = [i for i in range(D) if (i % 2 == 0) == even]
    ident = [i for i in range(D) if (i % 2 == 0) != even]
    return ident, tr


class AffineCoupling(nn.Module):
    LOG_SLOPE = math.log(1e-3)

    def __init__(self, D, even, hidden):
        super().__init__()
        ident, tr = alternating(D, even)
        self.register_buffer("id_idx", torch.tensor(ident))
        self.register_buffer("tr_idx", torch.tensor(tr))
        self.n_tr = len(tr)
        self.net = mlp(len(ident), hidden, 2 * self.n_tr)

    def params(self, cond):
        p = self.net(cond)
        shift, us = p[:, :self.n_tr], p[:, self.n_tr:]
        ls = us / (1 + (us / self.LOG_SLOPE).abs())  # zuko's soft-clamped exp scale (TsBench default)
        return ls, shift

    def forward(self, x):
        ls, shift = self.params(x.index_select(1, self.id_idx))
        yt = x.index_select(1, self.tr_idx) * ls.exp() + shift
        return x.index_copy(1, self.tr_idx, yt), ls.sum(1)

    def inverse(self, z):
        ls, shift = self.params(z.index_select(1, self.id_idx))
        xt = (z.index_select(1, self.tr_idx) - shift) * (-ls).exp()
        return z.index_copy(1, self.tr_idx, xt)


class RQSCoupling(nn.Module):
    def __init__(self, D, even, hidden, K, B):
        super().__init__()
        ident, tr = alternating(D, even)
        self.register_buffer("id_idx", torch.tensor(ident))
        self.register_buffer("tr_idx", torch.tensor(tr))
        self.n_tr, self.K, self.B = len(tr), K, B
        self.net = mlp(len(ident), hidden, self.n_tr * (3 * K - 1))

    def p(self, cond):
        return self.net(cond).view(cond.shape[0], self.n_tr, 3 * self.K - 1)

    def forward(self, x):
        y, ld = rqs(x.index_select(1, self.tr_idx), self.p(x.index_select(1, self.id_idx)), self.K, self.B, False)
        return x.index_copy(1, self.tr_idx, y), ld.sum(1)

    def inverse(self, z):
        x, _ = rqs(z.index_select(1, self.tr_idx), self.p(z.index_select(1, self.id_idx)), self.K, self.B, True)
        return z.index_copy(1, self.tr_idx, x)


class MaskedLinear(nn.Linear):
    def __init__(self, i, o, mask):
        super().__init__(i, o)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """nflows MADE, sequential degrees, outputs grouped per feature (view(N, D, mult))."""

    def __init__(self, D, hidden, mult):
        super().__init__()
        in_deg = torch.arange(1, D + 1)
        hi, lo = max(1, D - 1), min(1, D - 1)
        h_deg = torch.arange(hidden) % hi + lo
        out_deg = in_deg.repeat_interleave(mult)
        self.l0 = MaskedLinear(D, hidden, (h_deg[:, None] >= in_deg[None, :]).float())
        self.l1 = MaskedLinear(hidden, hidden, (h_deg[:, None] >= h_deg[None, :]).float())
        self.l2 = MaskedLinear(hidden, D * mult, (out_deg[:, None] > h_deg[None, :]).float())

    def forward(self, x):
        return self.l2(F.relu(self.l1(F.relu(self.l0(x)))))


class MAFAffine(nn.Module):
    def __init__(self, D, hidden):
        super().__init__()
        self.D, self.made = D, MADE(D, hidden, 2)

    def params(self, x):
        p = self.made(x).view(-1, self.D, 2)
        return F.softplus(p[..., 0]) + 1e-3, p[..., 1]

    def forward(self, x):
        s, shift = self.params(x)
        return s * x + shift, s.log().sum(1)

    def inverse(self, z):
        out = torch.zeros_like(z)
        for _ in range(self.D):  # nflows: D full MADE passes
            s, shift = self.params(out)
            out = (z - shift) / s
        return out


class MAFRQS(nn.Module):
    def __init__(self, D, hidden, K, B):
        super().__init__()
        self.D, self.K, self.B, self.made = D, K, B, MADE(D, hidden, 3 * K - 1)

    def p(self, x):
        return self.made(x).view(x.shape[0], self.D, 3 * self.K - 1)

    def forward(self, x):
        y, ld = rqs(x, self.p(x), self.K, self.B, False)
        return y, ld.sum(1)

    def inverse(self, z):
        out = torch.zeros_like(z)
        for _ in range(self.D):
            out, _ = rqs(z, self.p(out), self.K, self.B, True)
        return out


class Reverse(nn.Module):
    def forward(self, x):
        return x.flip(1), None

    def inverse(self, z):
        return z.flip(1)


class PortFlow(nn.Module):
    def __init__(self, layers, D):
        super().__init__()
        self.layers, self.D = nn.ModuleList(layers), D

    def log_prob(self, x):
        ld = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        for layer in self.layers:
            x, l = layer(x)
            if l is not None:
                ld = ld + l
        return -0.5 * x.square().sum(1) - 0.5 * self.D * math.log(2 * math.pi) + ld

    def sample(self, n, device):
        z = torch.randn(n, self.D, device=device)
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


def build_port(model, D, hidden=128, K=8, B=3.0):
    if model == "realnvp":
        layers = [AffineCoupling(D, i % 2 == 0, hidden) for i in range(8)]
    elif model == "nsf_c":
        layers = [RQSCoupling(D, i % 2 == 0, hidden, K, B) for i in range(5)]
    elif model in ("maf", "maf_rqs"):
        layers = []
        for i in range(5):
            if i > 0:
                layers.append(Reverse())
            layers.append(MAFAffine(D, hidden) if model == "maf" else MAFRQS(D, hidden, K, B))
    else:
        raise ValueError(f"unknown model {model}")
    return PortFlow(layers, D)


class ZukoFlow(nn.Module):
    """zuko's flow of the same shape; log_prob and sample through its lazy distribution."""

    def __init__(self, model, D):
        super().__init__()
        import zuko
        h = (128, 128)
        if model == "realnvp":
            self.flow = zuko.flows.MAF(D, transforms=8, passes=2, hidden_features=h)
        elif model == "nsf_c":
            self.flow = zuko.flows.NSF(D, bins=8, transforms=5, passes=2, hidden_features=h)
        elif model == "maf":
            self.flow = zuko.flows.MAF(D, transforms=5, hidden_features=h)
        else:
            self.flow = zuko.flows.NSF(D, bins=8, transforms=5, hidden_features=h)

    def log_prob(self, x):
        return self.flow().log_prob(x)

    def sample(self, n, device):
        return self.flow().sample((n,))


# ---------------------------------------------------------------- data and workloads
def load_train(data_dir, quick, device):
    path = os.path.join(data_dir, "tab18_train.npy") if data_dir else None
    if path and os.path.exists(path):
        x = np.load(path).astype(np.float64)
        if quick:
            x = x[:20000]
        mean, std = x.mean(0), x.std(0)  # ddof = 0, in double (shared/bench/README.md)
        t = torch.tensor((x - mean) / std, dtype=torch.float32, device=device)
        return t, f"tab18:{os.path.abspath(path)} ({x.shape[0]}x{x.shape[1]})"
    if data_dir:
        sys.exit(f"--data {data_dir}: no tab18_train.npy there")
    n = 20000 if quick else 500000
    g = torch.Generator(device="cpu").manual_seed(12345)
    return torch.randn(n, 18, generator=g).to(device), f"synthetic standard normal {n}x18 (give --data DIR)"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def line(**fields):
    print(json.dumps(fields), flush=True)


def run(args):
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        line(check="all", pass_=False, error="--device cuda: torch.cuda.is_available() is false")
        return 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    train, source = load_train(args.data, args.quick, device)
    anchor = f"pytorch {torch.__version__} {'compiled (' + args.compile + ')' if args.compile else 'eager'}, {args.library}"
    if args.compile and not hasattr(torch, "compile"):
        sys.exit(f"--compile needs PyTorch 2 or later (torch.compile); this is {torch.__version__}")
    if args.library == "zuko":
        import zuko
        anchor += f" {zuko.__version__}"
    batches = [32] if args.quick else [512, 4096, 65536]
    big = 32 if args.quick else 100_000
    ok = True
    for model in args.models:
        torch.manual_seed(1)
        flow = (build_port(model, train.shape[1]) if args.library == "port" else ZukoFlow(model, train.shape[1])).to(device)
        common = dict(model=model, device=name, data=source, anchor=anchor)
        # the stronger anchor: the loss (forward and, through AOTAutograd, backward) and the sampler compiled, e.g.
        # mode "reduce-overhead" (CUDA graphs: no launch overhead at small batches); compilation falls in the warm-up
        log_prob = torch.compile(flow.log_prob, mode=args.compile) if args.compile else flow.log_prob
        sample = torch.compile(flow.sample, mode=args.compile) if args.compile else flow.sample
        for batch in batches:
            warm, timed = (1, 2) if args.quick else (20, 200) if batch <= 512 else (10, 100) if batch <= 4096 else (5, 30)
            opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
            g = torch.Generator(device=device).manual_seed(batch)
            times = []
            for step in range(warm + timed):
                t0 = time.perf_counter()
                idx = torch.randint(0, train.shape[0], (batch,), device=device, generator=g)
                x = train[idx]
                opt.zero_grad(set_to_none=True)
                loss = -log_prob(x).mean()
                loss.backward()
                opt.step()
                sync(device)
                if step >= warm:
                    times.append(time.perf_counter() - t0)
            times.sort()
            median = times[len(times) // 2]
            lv = float(loss)
            ok &= math.isfinite(lv)
            line(workload="train", batch=batch, samples_per_s=batch / median, median_step_ms=median * 1e3, loss=lv, **common)
        with torch.no_grad():
            g = torch.Generator(device=device).manual_seed(99)
            x = train[torch.randint(0, train.shape[0], (big,), device=device, generator=g)]
            log_prob(x)
            sync(device)
            t0 = time.perf_counter()
            lp = log_prob(x)
            sync(device)
            t = time.perf_counter() - t0
            mean = float(lp.double().mean())
            ok &= math.isfinite(mean)
            line(workload="log_prob", batch=big, samples_per_s=big / t, mean_log_prob=mean, **common)
            torch.manual_seed(1)
            sample(big, device)
            sync(device)
            t0 = time.perf_counter()
            s = sample(big, device)
            sync(device)
            t = time.perf_counter() - t0
            finite = bool(torch.isfinite(s).all())
            ok &= finite
            line(workload="sample", batch=big, samples_per_s=big / t, all_finite=finite, **common)
    return 0 if ok else 1


def self_test():
    """Each port model, weights perturbed, in double on the CPU: inverse(forward(x)) = x and the log-det equals
    log|det| of the autograd Jacobian (so the anchor times real flows)."""
    torch.manual_seed(0)
    D, ok = 6, True
    for model in MODELS:
        flow = build_port(model, D).double()
        with torch.no_grad():
            for prm in flow.parameters():
                prm.add_(0.05 * torch.randn_like(prm))
        x = torch.randn(5, D, dtype=torch.float64) * 1.5

        def fwd(v):
            z, ld = v, torch.zeros(v.shape[0], dtype=v.dtype)
            for layer in flow.layers:
                z, l = layer(z)
                if l is not None:
                    ld = ld + l
            return z, ld

        z, ld = fwd(x)
        back = z
        for layer in reversed(flow.layers):
            back = layer.inverse(back)
        inv_err = float((back - x).abs().max())
        ld_err = 0.0
        for i in range(x.shape[0]):
            jac = torch.autograd.functional.jacobian(lambda v: fwd(v.unsqueeze(0))[0].squeeze(0), x[i])
            ld_err = max(ld_err, abs(float(torch.linalg.slogdet(jac)[1]) - float(ld[i])))
        passed = inv_err < 1e-8 and ld_err < 1e-8
        ok &= passed
        line(check="port_self_test", model=model, inverse_max_abs=inv_err, logdet_max_abs=ld_err, passed=passed)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--data", default=None, help="the folder with tab18_train.npy (else synthetic standard-normal data)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--library", choices=["port", "zuko"], default="port")
    ap.add_argument("--compile", default=None, metavar="MODE",
                    help="torch.compile the loss and the sampler with this mode (default, reduce-overhead, max-autotune)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU runs)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    ap.add_argument("--self-test", action="store_true", help="check the port models (invertibility, log-det) and exit")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    args.models = [m for m in args.models.split(",") if m]
    bad = [m for m in args.models if m not in MODELS]
    if bad:
        ap.error(f"unknown model {bad[0]}")
    if args.threads:
        torch.set_num_threads(args.threads)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
