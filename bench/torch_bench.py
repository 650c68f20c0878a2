#!/usr/bin/python3
"""PyTorch (CPU) reference benchmark for an ENERGIZE phenotype file.

Builds the network a phenotype describes as a torch.nn.Module and measures
training and inference throughput in images/s on random Fashion-MNIST shaped
data (N,1,28,28), 10 classes.  See bench/README.md for the protocol.

Usage: /usr/bin/python3 bench/torch_bench.py bench/small.phen \
           [--batch-size 64] [--threads 2] [--seconds 5] [--json]
"""

import argparse
import json
import math
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

IN_SHAPE = (1, 28, 28)  # C, H, W of a Fashion-MNIST image
NUM_CLASSES = 10


class PhenotypeError(Exception):
    pass


# --------------------------------------------------------------------------
# Phenotype parsing
# --------------------------------------------------------------------------

def parse_bool(s):
    v = s.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise PhenotypeError("bad boolean %r" % s)


def parse_phenotype(path):
    """Returns (layers, learning): layers a list of dicts with 'kind',
    'inputs' (list of int, -1 = image) and the raw string fields; learning
    a dict of raw string fields (with 'kind')."""
    layers, learning = [], None
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            toks = line.split()
            fields = {}
            for t in toks:
                if ":" not in t:
                    raise PhenotypeError("%s:%d: token %r is not key:value" % (path, lineno, t))
                k, v = t.split(":", 1)
                fields[k] = v
            head = toks[0].split(":", 1)[0]
            if head == "layer":
                kind = fields.pop("layer")
                inp = fields.pop("input", None)
                if inp is None:
                    raise PhenotypeError("%s:%d: layer without input:" % (path, lineno))
                try:
                    inputs = [int(x) for x in inp.split(",") if x != ""]
                except ValueError:
                    raise PhenotypeError("%s:%d: bad input:%s" % (path, lineno, inp))
                if not inputs:
                    raise PhenotypeError("%s:%d: empty input list" % (path, lineno))
                layers.append({"kind": kind, "inputs": inputs, "f": fields, "line": lineno})
            elif head == "learning":
                learning = dict(fields)
                learning["kind"] = learning.pop("learning")
            else:
                raise PhenotypeError("%s:%d: unknown entity %r" % (path, lineno, head))
    if not layers:
        raise PhenotypeError("%s: no layers" % path)
    if learning is None:
        raise PhenotypeError("%s: no learning: line" % path)
    return layers, learning


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class SamePool(nn.Module):
    """TF-style 'same' pooling: output ceil(n/s); zero padding, the odd
    extra element on the right/bottom (F.pad before pooling)."""

    def __init__(self, kind, k, s, h, w):
        super().__init__()
        self.kind, self.k, self.s = kind, k, s

        def pads(n):
            out = (n + s - 1) // s
            total = max((out - 1) * s + k - n, 0)
            return total // 2, total - total // 2

        top, bottom = pads(h)
        left, right = pads(w)
        self.pad = (left, right, top, bottom)

    def forward(self, x):
        if any(self.pad):
            x = F.pad(x, self.pad, value=0.0)
        if self.kind == "pool_max":
            return F.max_pool2d(x, self.k, self.s)
        return F.avg_pool2d(x, self.k, self.s)


def activation(name, is_output):
    name = (name or "linear").lower()
    if name == "linear":
        return None
    if name == "relu":
        return nn.ReLU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "softmax":
        # The output layer's softmax is folded into CrossEntropyLoss: the
        # network returns logits.  A hidden softmax is applied as such.
        return None if is_output else nn.Softmax(dim=1)
    raise PhenotypeError("unsupported activation %r" % name)


def conv_out(n, k, s, pad):
    return (n + 2 * pad - k) // s + 1


class PhenNet(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.inputs = []
        self.mods = nn.ModuleList()
        self.flatten = []
        shapes = []          # output shape of each layer (without batch dim)
        self.flops = 0       # forward FLOPs / image (multiply-add = 2)
        last = len(layers) - 1
        for i, L in enumerate(layers):
            kind, f = L["kind"], L["f"]
            for j in L["inputs"]:
                if j != -1 and not (0 <= j < i):
                    raise PhenotypeError("line %d: layer %d: input %d is not an earlier layer"
                                         % (L["line"], i, j))
            in_shapes = [IN_SHAPE if j == -1 else shapes[j] for j in L["inputs"]]
            if len(set(in_shapes)) != 1:
                raise PhenotypeError("line %d: layer %d sums inputs of different shapes %s"
                                     % (L["line"], i, in_shapes))
            shp = in_shapes[0]
            flatten = False
            parts = []
            if kind == "conv":
                if len(shp) != 3:
                    raise PhenotypeError("line %d: conv after a flat layer" % L["line"])
                c, h, w = shp
                oc = int(f["out_channels"])
                k = int(f["kernel_size"])
                s = int(f.get("stride", 1))
                padding = f.get("padding", "valid").lower()
                bias = parse_bool(f.get("bias", "True"))
                if padding == "same":
                    if s != 1:
                        raise PhenotypeError("line %d: conv padding:same with stride %d "
                                             "is not supported (stride must be 1)" % (L["line"], s))
                    parts.append(nn.Conv2d(c, oc, k, stride=1, padding="same", bias=bias))
                    oh, ow = h, w
                elif padding == "valid":
                    parts.append(nn.Conv2d(c, oc, k, stride=s, padding=0, bias=bias))
                    oh, ow = conv_out(h, k, s, 0), conv_out(w, k, s, 0)
                else:
                    raise PhenotypeError("line %d: conv padding %r" % (L["line"], padding))
                if oh <= 0 or ow <= 0:
                    raise PhenotypeError("line %d: conv output is empty" % L["line"])
                self.flops += 2 * oc * oh * ow * c * k * k
                a = activation(f.get("act"), i == last)
                if a is not None:
                    parts.append(a)
                shp = (oc, oh, ow)
            elif kind in ("pool_max", "pool_avg"):
                if len(shp) != 3:
                    raise PhenotypeError("line %d: pooling after a flat layer" % L["line"])
                c, h, w = shp
                k = int(f["kernel_size"])
                s = int(f.get("stride", k))
                padding = f.get("padding", "valid").lower()
                if padding == "valid":
                    if kind == "pool_max":
                        parts.append(nn.MaxPool2d(k, s))
                    else:
                        parts.append(nn.AvgPool2d(k, s))
                    oh, ow = conv_out(h, k, s, 0), conv_out(w, k, s, 0)
                elif padding == "same":
                    parts.append(SamePool(kind, k, s, h, w))
                    oh, ow = math.ceil(h / s), math.ceil(w / s)
                else:
                    raise PhenotypeError("line %d: pool padding %r" % (L["line"], padding))
                if oh <= 0 or ow <= 0:
                    raise PhenotypeError("line %d: pool output is empty" % L["line"])
                shp = (c, oh, ow)
            elif kind == "dropout":
                parts.append(nn.Dropout(float(f.get("rate", 0.5))))
            elif kind == "batch_norm":
                if len(shp) == 3:
                    parts.append(nn.BatchNorm2d(shp[0]))
                else:
                    parts.append(nn.BatchNorm1d(shp[0]))
            elif kind == "fc":
                n_in = 1
                for d in shp:
                    n_in *= d
                flatten = len(shp) != 1
                of = int(f["out_features"])
                bias = parse_bool(f.get("bias", "True"))
                parts.append(nn.Linear(n_in, of, bias=bias))
                self.flops += 2 * n_in * of
                a = activation(f.get("act"), i == last)
                if a is not None:
                    parts.append(a)
                shp = (of,)
            else:
                raise PhenotypeError("line %d: unsupported layer kind %r" % (L["line"], kind))
            self.inputs.append(list(L["inputs"]))
            self.flatten.append(flatten)
            self.mods.append(nn.Sequential(*parts) if len(parts) != 1 else parts[0])
            shapes.append(shp)
        if len(shapes[-1]) != 1:
            raise PhenotypeError("the last layer must be an fc layer (logits)")
        self.out_features = shapes[-1][0]
        self.shapes = shapes

    def forward(self, x):
        outs = []
        for mod, inputs, flatten in zip(self.mods, self.inputs, self.flatten):
            h = None
            for j in inputs:
                t = x if j == -1 else outs[j]
                h = t if h is None else h + t
            if flatten:
                h = torch.flatten(h, 1)
            outs.append(mod(h))
        return outs[-1]


def make_optimizer(model, learning):
    kind = learning.get("kind", "gradient_descent")
    if kind != "gradient_descent":
        raise PhenotypeError("unsupported learning kind %r (only gradient_descent)" % kind)
    lr = float(learning.get("lr", 0.01))
    momentum = float(learning.get("momentum", 0.0))
    wd = float(learning.get("weight_decay", 0.0))
    nesterov = parse_bool(learning.get("nesterov", "False"))
    if nesterov and momentum <= 0:
        nesterov = False  # torch rejects nesterov without momentum
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                           weight_decay=wd, nesterov=nesterov)


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def measure(step, pool, batch, seconds, windows, warmup):
    """Runs `step(x, y)` warmup times, then `windows` windows each of at
    least `seconds`; returns (median, all) images/s."""
    n = len(pool)
    for i in range(warmup):
        step(*pool[i % n])
    rates = []
    i = 0
    for _ in range(windows):
        steps = 0
        t0 = time.perf_counter()
        while True:
            step(*pool[i % n])
            i += 1
            steps += 1
            el = time.perf_counter() - t0
            if el >= seconds:
                break
        rates.append(steps * batch / el)
    return statistics.median(rates), rates


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("phen")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of one timing window")
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps before each measurement")
    ap.add_argument("--pool", type=int, default=16, help="pre-generated batches")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    try:
        layers, learning = parse_phenotype(a.phen)
        model = PhenNet(layers)
        opt = make_optimizer(model, learning)
    except (PhenotypeError, KeyError, ValueError) as e:
        msg = str(e) if not isinstance(e, KeyError) else "missing field %s" % e
        print("torch_bench: %s: %s" % (a.phen, msg), file=sys.stderr)
        return 2

    B = a.batch_size
    ncls = min(NUM_CLASSES, model.out_features)
    # Fashion-MNIST-like: uniform [0,1) pixels normalised with the dataset's
    # mean/std, so activations are in the usual range.
    pool = [(((torch.rand(B, *IN_SHAPE) - 0.2860) / 0.3530).contiguous(),
             torch.randint(0, ncls, (B,)))
            for _ in range(a.pool)]
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    def infer_step(x, y):
        model(x)

    model.train()
    train, train_all = measure(train_step, pool, B, a.seconds, a.windows, a.warmup)

    model.eval()
    with torch.no_grad():
        inf_ng, inf_ng_all = measure(infer_step, pool, B, a.seconds, a.windows, a.warmup)
    inf_im = None
    if hasattr(torch, "inference_mode"):
        with torch.inference_mode():
            inf_im, inf_im_all = measure(infer_step, pool, B, a.seconds, a.windows, a.warmup)
    infer = max(inf_ng, inf_im or 0.0)

    params = sum(p.numel() for p in model.parameters())
    net = a.phen.rsplit("/", 1)[-1]
    if net.endswith(".phen"):
        net = net[:-5]

    print("torch_bench %s  torch %s  threads %d  batch %d  %d x %.1f s windows (median)"
          % (a.phen, torch.__version__, a.threads, B, a.windows, a.seconds))
    print("  params %d   forward %.2f MFLOP/image" % (params, model.flops / 1e6))
    fmt = "  %-28s %12.1f img/s   windows: %s"
    print(fmt % ("train", train, " ".join("%.1f" % r for r in train_all)))
    print(fmt % ("infer (no_grad)", inf_ng, " ".join("%.1f" % r for r in inf_ng_all)))
    if inf_im is not None:
        print(fmt % ("infer (inference_mode)", inf_im, " ".join("%.1f" % r for r in inf_im_all)))
    print("  %-28s %12.1f img/s   (best of the inference modes)" % ("infer", infer))

    if a.json:
        print(json.dumps({
            "net": net,
            "phen": a.phen,
            "batch_size": B,
            "threads": a.threads,
            "seconds": a.seconds,
            "windows": a.windows,
            "train_images_per_s": round(train, 2),
            "infer_images_per_s": round(infer, 2),
            "infer_no_grad_images_per_s": round(inf_ng, 2),
            "infer_inference_mode_images_per_s": None if inf_im is None else round(inf_im, 2),
            "flops_per_image": model.flops,
            "params": params,
            "torch_version": torch.__version__,
            "python": platform.python_version(),
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
