#!/usr/bin/python3
"""PyTorch reference benchmark for an ENERGIZE phenotype file.

Builds the network a phenotype describes as a torch.nn.Module and measures
training and inference throughput in images/s on random Fashion-MNIST shaped
data (N,1,28,28), 10 classes, on the CPU or on a CUDA GPU.  See
bench/README.md for the protocol.

Usage: /usr/bin/python3 bench/torch_bench.py bench/small.phen \
           [--batch-size 64] [--threads 2] [--seconds 5] [--json]
           [--device cpu|cuda [--cuda-graph]]

--device cuda: model and data on the GPU, cudnn.benchmark on, TF32 at
PyTorch's defaults (recorded in the JSON), torch.cuda.synchronize() at both
ends of every timing window.  --cuda-graph: the whole training step (forward,
loss, backward, optimizer step) and the inference forward are each captured
once in a torch.cuda.CUDAGraph and replayed; a failed capture is an error
(exit 3), never a silent fallback to eager mode.
"""

import argparse
import inspect
import json
import math
import platform
import statistics
import sys
import time
import traceback

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


def make_optimizer(model, learning, capturable=False):
    kind = learning.get("kind", "gradient_descent")
    if kind != "gradient_descent":
        raise PhenotypeError("unsupported learning kind %r (only gradient_descent)" % kind)
    lr = float(learning.get("lr", 0.01))
    momentum = float(learning.get("momentum", 0.0))
    wd = float(learning.get("weight_decay", 0.0))
    nesterov = parse_bool(learning.get("nesterov", "False"))
    if nesterov and momentum <= 0:
        nesterov = False  # torch rejects nesterov without momentum
    kw = {}
    if capturable and optimizer_accepts(torch.optim.SGD, "capturable"):
        # SGD keeps no step count on the CPU and needs no flag for CUDA graph
        # capture; versions that have the flag get it anyway.
        kw["capturable"] = True
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                           weight_decay=wd, nesterov=nesterov, **kw)


def optimizer_accepts(cls, name):
    try:
        return name in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def measure(step, pool, batch, seconds, windows, warmup, sync=None):
    """Runs `step(x, y)` warmup times, then `windows` windows each of at
    least `seconds`; returns (median, all) images/s.  With `sync` (a GPU),
    sync() runs before the clock is read at the start and at the end of each
    window, so a window counts only steps the device has finished."""
    n = len(pool)
    for i in range(warmup):
        step(*pool[i % n])
    rates = []
    i = 0
    for _ in range(windows):
        steps = 0
        if sync is not None:
            sync()
        t0 = time.perf_counter()
        while True:
            step(*pool[i % n])
            i += 1
            steps += 1
            el = time.perf_counter() - t0
            if el >= seconds:
                break
        if sync is not None:
            sync()
            el = time.perf_counter() - t0
        rates.append(steps * batch / el)
    return statistics.median(rates), rates


# --------------------------------------------------------------------------
# CUDA
# --------------------------------------------------------------------------

class CaptureError(Exception):
    pass


def cuda_info():
    """TF32 and cuDNN settings as they are (this script leaves TF32 at
    PyTorch's defaults).  Reading can warn or, after a mix of the legacy and
    the new (2.9+) TF32 APIs, raise: each value is None when it cannot be
    read."""
    def get(f):
        try:
            return f()
        except Exception:
            return None

    b = torch.backends
    return {
        "cuda_matmul_allow_tf32": get(lambda: bool(b.cuda.matmul.allow_tf32)),
        "cudnn_allow_tf32": get(lambda: bool(b.cudnn.allow_tf32)),
        "cuda_matmul_fp32_precision": get(lambda: str(b.cuda.matmul.fp32_precision)),
        "cudnn_conv_fp32_precision": get(lambda: str(b.cudnn.conv.fp32_precision)),
        "float32_matmul_precision": get(torch.get_float32_matmul_precision),
        "cudnn_benchmark": get(lambda: bool(b.cudnn.benchmark)),
        "cudnn_version": get(b.cudnn.version),
        "cuda_runtime": get(lambda: torch.version.cuda),
    }


def capture_train(model, opt, loss_fn, x0, y0, warmup_iters=3):
    """PyTorch's whole-network capture recipe (CUDA semantics notes, "Whole
    network capture"): static input/target tensors, warm-up iterations on a
    side stream, grads set to None before capture so that backward allocates
    them from the graph's private pool, then forward, loss, backward and
    optimizer.step() captured in one graph.  Returns (graph, static_x,
    static_y, static_loss)."""
    static_x = x0.clone()
    static_y = y0.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(warmup_iters):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(static_x), static_y)
            loss.backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()

    g = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(g):
        static_loss = loss_fn(model(static_x), static_y)
        static_loss.backward()
        opt.step()
    torch.cuda.synchronize()

    # Sanity check: one replay must give a finite loss and move the weights
    # (lr > 0): a graph that captured nothing would otherwise time as fast.
    lr = opt.param_groups[0]["lr"]
    params = list(model.parameters())
    before = [q.detach().clone() for q in params]
    g.replay()
    torch.cuda.synchronize()
    loss = float(static_loss)
    if not math.isfinite(loss):
        raise CaptureError("the captured training step gives a non-finite loss (%r)" % loss)
    if lr > 0 and all(torch.equal(b, q.detach()) for b, q in zip(before, params)):
        raise CaptureError("a replay of the captured training step left the weights unchanged")
    del before
    return g, static_x, static_y, static_loss


def capture_infer(model, x0, n_out, warmup_iters=3):
    """The inference forward (eval mode, no_grad) captured the same way.
    Returns (graph, static_x, static_out)."""
    static_x = x0.clone()
    with torch.no_grad():
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(warmup_iters):
                model(static_x)
        torch.cuda.current_stream().wait_stream(s)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            static_out = model(static_x)
    torch.cuda.synchronize()
    g.replay()
    torch.cuda.synchronize()
    if tuple(static_out.shape) != (x0.shape[0], n_out) or \
            not bool(torch.isfinite(static_out).all()):
        raise CaptureError("the captured inference forward gives a bad output (shape %s)"
                           % (tuple(static_out.shape),))
    return g, static_x, static_out


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
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where model and data live (default cpu)")
    ap.add_argument("--cuda-graph", action="store_true",
                    help="(--device cuda) capture the training step and the inference "
                         "forward in CUDA graphs and time their replays")
    a = ap.parse_args()
    if a.cuda_graph and a.device != "cuda":
        ap.error("--cuda-graph needs --device cuda")

    cuda = a.device == "cuda"
    if cuda:
        if not torch.cuda.is_available():
            print("torch_bench: --device cuda: no usable CUDA device: torch %s (CUDA build: %s), "
                  "torch.cuda.is_available() is False" % (torch.__version__, torch.version.cuda),
                  file=sys.stderr)
            return 2
        # The reference numbers were measured with cudnn autotuning.
        torch.backends.cudnn.benchmark = True
    dev = torch.device(a.device)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    try:
        layers, learning = parse_phenotype(a.phen)
        model = PhenNet(layers)
        if cuda:
            model = model.to(dev)
        opt = make_optimizer(model, learning, capturable=a.cuda_graph)
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
    if cuda:
        pool = [(x.to(dev), y.to(dev)) for x, y in pool]
        torch.cuda.synchronize()
    loss_fn = nn.CrossEntropyLoss()
    sync = torch.cuda.synchronize if cuda else None

    def train_step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    def infer_step(x, y):
        model(x)

    inf_im = None
    if a.cuda_graph:
        stage = "training step"
        try:
            model.train()
            g_tr, sx_tr, sy_tr, _ = capture_train(model, opt, loss_fn, *pool[0])

            def graph_train_step(x, y):
                sx_tr.copy_(x)
                sy_tr.copy_(y)
                g_tr.replay()

            train, train_all = measure(graph_train_step, pool, B, a.seconds, a.windows,
                                       a.warmup, sync)
            stage = "inference forward"
            model.eval()
            g_in, sx_in, _ = capture_infer(model, pool[0][0], model.out_features)

            def graph_infer_step(x, y):
                sx_in.copy_(x)
                g_in.replay()

            inf_ng, inf_ng_all = measure(graph_infer_step, pool, B, a.seconds, a.windows,
                                         a.warmup, sync)
        except Exception as e:
            traceback.print_exc()
            print("torch_bench: %s: CUDA graph capture (or replay) of the %s failed: %s: %s\n"
                  "torch_bench: (no fallback to eager mode; run without --cuda-graph for eager)"
                  % (a.phen, stage, type(e).__name__, e), file=sys.stderr)
            return 3
        infer = inf_ng
    else:
        model.train()
        train, train_all = measure(train_step, pool, B, a.seconds, a.windows, a.warmup, sync)

        model.eval()
        with torch.no_grad():
            inf_ng, inf_ng_all = measure(infer_step, pool, B, a.seconds, a.windows, a.warmup,
                                         sync)
        if hasattr(torch, "inference_mode"):
            with torch.inference_mode():
                inf_im, inf_im_all = measure(infer_step, pool, B, a.seconds, a.windows,
                                             a.warmup, sync)
        infer = max(inf_ng, inf_im or 0.0)

    params = sum(p.numel() for p in model.parameters())
    net = a.phen.rsplit("/", 1)[-1]
    if net.endswith(".phen"):
        net = net[:-5]

    gpu_name = torch.cuda.get_device_name() if cuda else None
    info = cuda_info() if cuda else None
    print("torch_bench %s  torch %s  threads %d  batch %d  %d x %.1f s windows (median)"
          % (a.phen, torch.__version__, a.threads, B, a.windows, a.seconds))
    if cuda:
        print("  device cuda: %s%s  cudnn.benchmark %s  TF32 (PyTorch defaults): matmul %s, "
              "cudnn %s" % (gpu_name, "  CUDA graph" if a.cuda_graph else "",
                            info["cudnn_benchmark"], info["cuda_matmul_allow_tf32"],
                            info["cudnn_allow_tf32"]))
    print("  params %d   forward %.2f MFLOP/image" % (params, model.flops / 1e6))
    fmt = "  %-28s %12.1f img/s   windows: %s"
    print(fmt % ("train", train, " ".join("%.1f" % r for r in train_all)))
    print(fmt % ("infer (no_grad%s)" % (", CUDA graph" if a.cuda_graph else ""), inf_ng,
                 " ".join("%.1f" % r for r in inf_ng_all)))
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
            "device": a.device,
            "cuda_graph": a.cuda_graph,
            "gpu_name": gpu_name,
            # TF32 as PyTorch left it (not set by this script); None on cpu
            "cuda_matmul_allow_tf32": info and info["cuda_matmul_allow_tf32"],
            "cudnn_allow_tf32": info and info["cudnn_allow_tf32"],
            "cudnn_benchmark": info and info["cudnn_benchmark"],
            "cuda": info,
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
