#!/usr/bin/env python3
"""PyTorch cross-check of a nandspin workload: the same network, data and training in PyTorch.

usage: PYTHON=python3; $PYTHON scripts/torch_reference.py WORKLOAD.toml
           [--set KEY=VALUE ...] [--seed S] [--draws FILE] [--threads N] [--quiet]

  WORKLOAD.toml   any nandspin workload file (workloads/*.toml)
  --set KEY=VALUE override a workload key with nandspin's syntax: a dotted key, a TOML value
                  (anything that is not valid TOML is taken as a string); a layer is addressed
                  by its name. Examples: --set data.dir=/data/fashion-mnist
                  --set training.epochs=2 --set training.batch_size=1
                  --set layers.conv1.out_channels=8
  --seed S        shorthand for --set training.seed=S
  --draws FILE    take the initial parameters and the per-epoch image orders from FILE,
                  written by `nandspin draws` for the same workload, --set and seed, instead
                  of drawing them here: the run then starts from nandspin's exact state and
                  sees the images in nandspin's order
  --threads N     torch.set_num_threads(N) (default 1); inter-op threads are always 1
  --quiet         no description of the network on stderr

Output (stdout), one line per epoch, then the final accuracy:
  epoch E train_loss X train_accuracy X test_loss X test_accuracy X images_per_s X
  final test_accuracy X
train_loss and train_accuracy are averaged over the epoch's training batches as they were
trained (as nandspin reports them); images_per_s is the training images of the epoch over the
seconds spent in its training loop (gathering batches, forward, backward, SGD step; the test
pass is not timed). Needs Python 3.11 or later (tomllib), torch and numpy.

What is matched, key by key:
  - [data]: IDX files, gzipped or raw (told apart by the gzip magic, not by the name), the
    names of [data] with `.gz` added or removed tried too, `dir` relative to the workload
    file; pixels byte / 255, no normalisation; `image_size = [rows, cols]` checked if given;
    the number of classes is the largest label plus one (train and test). A folder's
    SHA256SUMS is not checked here.
  - [training]: epochs, batch_size (the last batch of an epoch may be smaller), mean softmax
    cross-entropy, SGD with PyTorch's momentum (v = m v + g; w -= lr v), learning_rate
    (scaled by batch_size / learning_rate_batch when that is set), weight_decay added
    to the gradients of conv2d and dense weights only (not to biases, not to batch-norm
    gamma and beta), shuffle (a new order every epoch), max_train_images and
    max_test_images (the first N images). `kernels` is read and ignored.
  - [[layers]]: any graph of conv2d, max_pool, avg_pool, relu, flatten, dense, add and
    batch_norm layers naming their `input` (or `inputs` for add), in any order; shapes
    inferred; conv2d stride 1 and padding 0 by default, pool stride = kernel by default;
    max pooling never picks padding, average pooling counts padding as zeros
    (count_include_pad=True); flatten orders features channel, row, column; a flat
    activation is a (C, 1, 1) one, so a dense layer may follow a 1x1 output directly;
    conv2d and dense have biases, weights and biases drawn uniformly in
    +-1/sqrt(fan_in); batch_norm (momentum default 0.1, PyTorch's convention; epsilon
    default 1e-5) per channel over batch, rows and columns after spatial layers, per
    feature after flat ones, batch statistics in training (biased variance to normalise,
    unbiased for the running variance), running statistics in evaluation, gamma 1, beta 0.
The random draws: nandspin draws its initial weights and its shuffle orders from its own
keyed streams (src/rng.rs); without --draws this script draws them from torch's generator
seeded with training.seed, so a seed gives a different run here than in nandspin and the two
compare on their statistics (accuracy over seeds). With --draws FILE (`nandspin draws
--workload W --seed S --out FILE`, with the same --set), both start from the same weights and
train the images in the same order; they then differ only by floating-point rounding (sums
in another order), which is below 1e-5 in the first steps' losses and grows as training goes.
Arch keys (`weights.*`, ...) do not apply: the reference is the ideal float store.
"""

import argparse
import gzip
import math
import os
import struct
import sys
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    sys.exit("torch_reference.py: needs Python 3.11 or later (tomllib)")

WORKLOAD_KEYS = ("schema_version", "name", "data", "training", "layers")
ARCH_KEYS = ("weights", "device", "string", "update", "variation", "chip", "tile",
             "subarray", "noc", "dram", "energy")
DATA_KEYS = {
    "format": "idx",
    "dir": None,
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
    "image_size": None,
}
TRAINING_KEYS = {
    "epochs": 10,
    "batch_size": 32,
    "learning_rate": 0.01,
    "learning_rate_batch": None,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "seed": 0,
    "shuffle": True,
    "max_train_images": None,
    "max_test_images": None,
    "kernels": "native",
}
# Keys each layer type takes besides name, type, input/inputs.
LAYER_KEYS = {
    "conv2d": ("out_channels", "in_channels", "kernel", "stride", "padding"),
    "max_pool": ("kernel", "stride", "padding"),
    "avg_pool": ("kernel", "stride", "padding"),
    "relu": (),
    "flatten": (),
    "dense": ("out_features", "in_features"),
    "add": (),
    "batch_norm": ("momentum", "epsilon"),
}
EVAL_BATCH = 1000


class InputError(Exception):
    """Bad user input: printed as one line, exit code 2."""


# ---------------------------------------------------------------------------------------------
# Workload file and --set overrides


def parse_override(arg):
    """KEY=VALUE as nandspin reads it: the value as TOML if it is valid TOML, else a string."""
    if "=" not in arg:
        raise InputError(f"--set {arg}: expected KEY=VALUE, e.g. --set training.epochs=1")
    key, value = arg.split("=", 1)
    key, value = key.strip(), value.strip()
    path = key.split(".")
    if not key or any(not p for p in path):
        raise InputError(f"--set {arg}: the key must be a dotted path such as training.epochs")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return path, parsed


def apply_override(table, path, value, arg):
    top = path[0]
    if top in ARCH_KEYS:
        raise InputError(f"--set {arg}: `{top}` is an arch key; the PyTorch reference reads "
                         "only the workload (it is the ideal float store)")
    if top not in WORKLOAD_KEYS:
        raise InputError(f"--set {arg}: unknown key `{top}` (workload keys: "
                         f"{', '.join(WORKLOAD_KEYS)})")
    if top in ("schema_version", "name"):
        raise InputError(f"--set {arg}: `{top}` cannot be overridden")
    cur = table
    i = 0
    while i < len(path):
        seg = path[i]
        if i == len(path) - 1:
            cur[seg] = value
            return
        entry = cur.setdefault(seg, {})
        if isinstance(entry, dict):
            cur = entry
        elif isinstance(entry, list):
            name = path[i + 1]
            found = [t for t in entry if isinstance(t, dict) and t.get("name") == name]
            if not found:
                raise InputError(f"--set {arg}: no entry named `{name}` in `{seg}`")
            if i + 1 == len(path) - 1:
                raise InputError(f"--set {arg}: name a key inside `{seg}.{name}`, "
                                 f"e.g. {seg}.{name}.kernel")
            cur = found[0]
            i += 1
        else:
            raise InputError(f"--set {arg}: `{'.'.join(path[:i + 1])}` is a value, not a table")
        i += 1


def check_int(where, v, lo=None):
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"{where}: expected an integer, got {v!r}")
    if lo is not None and v < lo:
        raise InputError(f"{where}: must be at least {lo}, got {v}")
    return v


def check_number(where, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where}: expected a number, got {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise InputError(f"{where}: must be finite, got {v}")
    return v


def load_workload(file, sets):
    path = file
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: {e}")
    for arg in sets:
        p, v = parse_override(arg)
        apply_override(table, p, v, arg)
    if sets:
        path = f"{path} with --set"

    for k in table:
        if k not in WORKLOAD_KEYS:
            raise InputError(f"{path}: unknown key `{k}` (workload keys: "
                             f"{', '.join(WORKLOAD_KEYS)})")
    if table.get("schema_version", 1) != 1:
        raise InputError(f"{path}: schema_version {table['schema_version']} is not supported "
                         "(this script reads 1)")

    data = dict(DATA_KEYS)
    if not isinstance(table.get("data"), dict):
        raise InputError(f"{path}: missing [data] section")
    for k, v in table["data"].items():
        if k not in DATA_KEYS:
            raise InputError(f"{path}: data.{k}: unknown key")
        data[k] = v
    if data["dir"] is None:
        raise InputError(f"{path}: data.dir: required")
    if data["format"] != "idx":
        raise InputError(f"{path}: data.format: only \"idx\" is known, got {data['format']!r}")
    for k in ("dir", "train_images", "train_labels", "test_images", "test_labels"):
        if not isinstance(data[k], str):
            raise InputError(f"{path}: data.{k}: expected a string, got {data[k]!r}")
    if data["image_size"] is not None:
        s = data["image_size"]
        if not (isinstance(s, list) and len(s) == 2):
            raise InputError(f"{path}: data.image_size: expected [rows, cols], got {s!r}")
        for v in s:
            check_int(f"{path}: data.image_size", v, 1)
    data["dir"] = os.path.join(os.path.dirname(os.path.abspath(file)), data["dir"])

    tr = dict(TRAINING_KEYS)
    for k, v in table.get("training", {}).items():
        if k not in TRAINING_KEYS:
            raise InputError(f"{path}: training.{k}: unknown key")
        tr[k] = v
    w = lambda k: f"{path}: training.{k}"  # noqa: E731
    for k in ("epochs", "batch_size"):
        check_int(w(k), tr[k], 1)
    check_int(w("seed"), tr["seed"], 0)
    for k in ("learning_rate_batch", "max_train_images", "max_test_images"):
        if tr[k] is not None:
            check_int(w(k), tr[k], 1)
    tr["learning_rate"] = check_number(w("learning_rate"), tr["learning_rate"])
    if tr["learning_rate"] <= 0:
        raise InputError(f"{w('learning_rate')}: must be a positive number")
    if tr["learning_rate_batch"] is not None:
        check_int(w("learning_rate_batch"), tr["learning_rate_batch"], 1)
        # The linear scaling rule, as nandspin applies it.
        tr["learning_rate"] = tr["learning_rate"] * tr["batch_size"] / tr["learning_rate_batch"]
    tr["momentum"] = check_number(w("momentum"), tr["momentum"])
    if not 0 <= tr["momentum"] < 1:
        raise InputError(f"{w('momentum')}: must be in [0, 1), got {tr['momentum']}")
    tr["weight_decay"] = check_number(w("weight_decay"), tr["weight_decay"])
    if tr["weight_decay"] < 0:
        raise InputError(f"{w('weight_decay')}: must be zero or positive")
    if not isinstance(tr["shuffle"], bool):
        raise InputError(f"{w('shuffle')}: expected true or false, got {tr['shuffle']!r}")
    if tr["kernels"] not in ("native", "portable"):
        raise InputError(f"{w('kernels')}: expected \"native\" or \"portable\"")

    layers = table.get("layers")
    if not isinstance(layers, list) or not layers:
        raise InputError(f"{path}: the network has no layers")
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise InputError(f"{path}: layers[{i}]: expected a table")
        name = spec.get("name")
        where = f"{path}: layer {name if isinstance(name, str) else f'#{i + 1}'}"
        if not isinstance(name, str) or not name or name == "input" or "." in name:
            raise InputError(f"{where}: name: a layer needs a name (not `input`, no `.`)")
        kind = spec.get("type")
        if kind not in LAYER_KEYS:
            raise InputError(f"{where}: type: unknown layer type {kind!r} (this script knows "
                             f"{', '.join(LAYER_KEYS)})")
        for k in spec:
            if k not in ("name", "type", "input", "inputs") and k not in LAYER_KEYS[kind]:
                raise InputError(f"{where}: `{k}` does not apply to a {kind} layer")
    return table.get("name") or os.path.splitext(os.path.basename(file))[0], data, tr, layers


# ---------------------------------------------------------------------------------------------
# IDX data


def find_file(d, name):
    p = os.path.join(d, name)
    if os.path.exists(p):
        return p
    alt = p[:-3] if p.endswith(".gz") else p + ".gz"
    return alt if os.path.exists(alt) else p


def read_idx(path):
    import numpy as np

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror}")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise InputError(f"{path}: corrupt gzip stream: {e}")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError(f"{path}: not an IDX file (bad magic)")
    if raw[2] != 0x08:
        raise InputError(f"{path}: IDX element type 0x{raw[2]:02x}, only unsigned bytes (0x08)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise InputError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    n = math.prod(dims)
    body = raw[4 + 4 * ndim:]
    if len(body) != n:
        raise InputError(f"{path}: IDX header says {'x'.join(map(str, dims))} ({n} bytes), "
                         f"found {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_split(data, which, limit):
    import torch

    ipath = find_file(data["dir"], data[f"{which}_images"])
    lpath = find_file(data["dir"], data[f"{which}_labels"])
    images, labels = read_idx(ipath), read_idx(lpath)
    if images.ndim != 3:
        raise InputError(f"{ipath}: images must have rank 3 (N x rows x cols), got {images.ndim}")
    if labels.ndim != 1:
        raise InputError(f"{lpath}: labels must have rank 1, got {labels.ndim}")
    if len(images) != len(labels):
        raise InputError(f"{ipath}: {len(images)} images but {lpath} has {len(labels)} labels")
    if data["image_size"] is not None and list(images.shape[1:]) != list(data["image_size"]):
        raise InputError(f"{ipath}: images are {images.shape[1]}x{images.shape[2]}, but "
                         f"data.image_size says {data['image_size'][0]}x{data['image_size'][1]}")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    if len(images) == 0:
        raise InputError(f"{ipath}: no images")
    x = torch.from_numpy(images.astype("float32") / 255.0).unsqueeze(1).contiguous()
    y = torch.from_numpy(labels.astype("int64"))
    return x, y


# ---------------------------------------------------------------------------------------------
# The network


def build_graph(layers, input_shape, where):
    """Orders the layers and infers shapes. Returns [(spec, inputs, in_shape, out_shape)] in
    topological order; a shape is (C, H, W), flat activations being (F, 1, 1)."""
    by_name = {}
    for spec in layers:
        if spec["name"] in by_name:
            raise InputError(f"{where}: two layers are named `{spec['name']}`")
        by_name[spec["name"]] = spec
    ins = {}
    for spec in layers:
        lw = f"{where}: layer {spec['name']}"
        has_in, has_ins = "input" in spec, "inputs" in spec
        if has_in and has_ins:
            raise InputError(f"{lw}: inputs: give either `input` or `inputs`, not both")
        if not has_in and not has_ins:
            raise InputError(f"{lw}: names no input: set `input` (or `inputs` for add)")
        names = [spec["input"]] if has_in else spec["inputs"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InputError(f"{lw}: input: expected layer names")
        if spec["type"] == "add" and (has_in or len(names) < 2):
            raise InputError(f"{lw}: inputs: an add layer takes `inputs = [\"a\", \"b\", ...]`")
        if spec["type"] != "add" and len(names) != 1:
            raise InputError(f"{lw}: inputs: a {spec['type']} layer takes one input")
        for n in names:
            if n != "input" and n not in by_name:
                raise InputError(f"{lw}: input `{n}` is not a layer (nor `input`)")
        ins[spec["name"]] = names
    # Kahn's algorithm, file order among ready layers.
    consumers = {s["name"]: [] for s in layers}
    for s in layers:
        for n in ins[s["name"]]:
            if n != "input":
                consumers[n].append(s["name"])
    pending = {s["name"]: sum(n != "input" for n in ins[s["name"]]) for s in layers}
    order, ready = [], [s["name"] for s in layers if pending[s["name"]] == 0]
    while ready:
        n = ready.pop(0)
        order.append(n)
        for c in consumers[n]:
            pending[c] -= 1
            if pending[c] == 0:
                ready.append(c)
    if len(order) != len(layers):
        stuck = [s["name"] for s in layers if s["name"] not in order]
        raise InputError(f"{where}: layer {stuck[0]} is part of a cycle")
    sinks = [s["name"] for s in layers if not consumers[s["name"]]]
    if len(sinks) != 1:
        raise InputError(f"{where}: the network must end in one layer, but {len(sinks)} "
                         f"layers' outputs are unused ({', '.join(sinks)})")

    shapes, out = {"input": input_shape}, []
    for n in order:
        spec = by_name[n]
        lw = f"{where}: layer {n}"
        kind = spec["type"]
        src = ins[n]
        c, h, w = shapes[src[0]]

        def need(k, default=None, lo=1):
            v = spec.get(k, default)
            if v is None:
                raise InputError(f"{lw}: a {kind} layer needs `{k}`")
            return check_int(f"{lw}: {k}", v, lo)

        if kind in ("conv2d", "max_pool", "avg_pool"):
            k = need("kernel")
            stride = need("stride", 1 if kind == "conv2d" else k)
            pad = need("padding", 0, 0)
            if kind != "conv2d" and 2 * pad > k:
                raise InputError(f"{lw}: padding: padding {pad} is more than half the kernel {k}")
            if k > h + 2 * pad or k > w + 2 * pad:
                raise InputError(f"{lw}: kernel: {kind} kernel {k} is larger than its input "
                                 f"{h}x{w} (padded {h + 2 * pad}x{w + 2 * pad})")
            oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            if kind == "conv2d":
                oc = need("out_channels")
                if "in_channels" in spec and spec["in_channels"] != c:
                    raise InputError(f"{lw}: in_channels: expects {spec['in_channels']} input "
                                     f"channels, gets {c} from `{src[0]}`")
                shape = (oc, oh, ow)
            else:
                shape = (c, oh, ow)
        elif kind in ("relu", "batch_norm"):
            if kind == "batch_norm":
                m = check_number(f"{lw}: momentum", spec.get("momentum", 0.1))
                e = check_number(f"{lw}: epsilon", spec.get("epsilon", 1e-5))
                if not 0 <= m <= 1:
                    raise InputError(f"{lw}: momentum: must be in [0, 1], got {m}")
                if not 0 < e <= 1:
                    raise InputError(f"{lw}: epsilon: must be in (0, 1], got {e}")
            shape = (c, h, w)
        elif kind == "flatten":
            shape = (c * h * w, 1, 1)
        elif kind == "dense":
            of = need("out_features")
            if (h, w) != (1, 1):
                raise InputError(f"{lw}: input: a dense layer needs flat features, but "
                                 f"`{src[0]}` gives {c}x{h}x{w}; add a flatten layer")
            if "in_features" in spec and spec["in_features"] != c:
                raise InputError(f"{lw}: in_features: expects {spec['in_features']} input "
                                 f"features, gets {c} from `{src[0]}`")
            shape = (of, 1, 1)
        elif kind == "add":
            for s in src[1:]:
                if shapes[s] != (c, h, w):
                    raise InputError(f"{lw}: inputs: `{s}` gives {shapes[s]}, `{src[0]}` gives "
                                     f"{(c, h, w)}; an add layer needs one shape")
            shape = (c, h, w)
        shapes[n] = shape
        out.append((spec, src, (c, h, w), shape))
    return out


def make_net(graph):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class BatchNorm(nn.Module):
        """torch.nn.BatchNorm1d / 2d in one module, for (N, C) and (N, C, H, W) inputs, that
        also takes one value per channel in training (a batch of one image after a flat
        layer, or a last batch of one), which PyTorch refuses: as in nandspin, that value
        normalises to 0 (the output is beta) and the running variance takes a variance of 0."""

        def __init__(self, c, eps, momentum):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(c))
            self.bias = nn.Parameter(torch.zeros(c))
            self.register_buffer("running_mean", torch.zeros(c))
            self.register_buffer("running_var", torch.ones(c))
            self.eps, self.momentum = eps, momentum

        def forward(self, x):
            if self.training and x.numel() == x.shape[1]:
                view = [1, -1] + [1] * (x.dim() - 2)
                mean = x.mean([d for d in range(x.dim()) if d != 1], keepdim=True)
                y = (x - mean) * self.weight.view(view) / math.sqrt(self.eps) + self.bias.view(view)
                with torch.no_grad():
                    self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.flatten())
                    self.running_var.mul_(1 - self.momentum)
                return y
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                self.training, self.momentum, self.eps)

    class GraphNet(nn.Module):
        """A DAG of layers; activations are (N, C, H, W), or (N, F) after flat layers."""

        def __init__(self):
            super().__init__()
            self.steps = []  # (name, kind, input names, module or params)
            self.mods = nn.ModuleDict()
            self.decay, self.no_decay = [], []
            self.macs, self.weights = 0, 0
            self.output = graph[-1][0]["name"]
            for spec, src, (c, h, w), (oc, oh, ow) in graph:
                kind, name = spec["type"], spec["name"]
                arg = None
                if kind == "conv2d":
                    k = spec["kernel"]
                    m = nn.Conv2d(c, oc, k, stride=spec.get("stride", 1),
                                  padding=spec.get("padding", 0), bias=True)
                    self.init_uniform(m, c * k * k)
                    self.macs += oc * oh * ow * c * k * k
                elif kind == "dense":
                    m = nn.Linear(c, oc, bias=True)
                    self.init_uniform(m, c)
                    self.macs += oc * c
                elif kind == "batch_norm":
                    m = BatchNorm(c, float(spec.get("epsilon", 1e-5)),
                                  float(spec.get("momentum", 0.1)))
                    self.no_decay += [m.weight, m.bias]
                    self.weights += 2 * c
                else:
                    m = None
                    k = spec.get("kernel")
                    if kind in ("max_pool", "avg_pool"):
                        arg = (k, spec.get("stride", k), spec.get("padding", 0))
                if m is not None:
                    self.mods[name] = m
                self.steps.append((name, kind, src, arg))

        def init_uniform(self, m, fan_in):
            # PyTorch's default init for Conv2d / Linear is exactly this; drawn explicitly so
            # that the script does not depend on it.
            bound = 1.0 / math.sqrt(fan_in)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound)
                m.bias.uniform_(-bound, bound)
            self.decay.append(m.weight)
            self.no_decay.append(m.bias)
            self.weights += m.weight.numel() + m.bias.numel()

        def forward(self, x):
            acts = {"input": x}
            for name, kind, src, arg in self.steps:
                a = acts[src[0]]
                if kind == "conv2d":
                    if a.dim() == 2:
                        a = a.reshape(a.shape[0], -1, 1, 1)
                    y = self.mods[name](a)
                elif kind == "dense":
                    y = self.mods[name](a.reshape(a.shape[0], -1))
                elif kind == "batch_norm":
                    y = self.mods[name](a)
                elif kind == "relu":
                    y = F.relu(a)
                elif kind == "flatten":
                    y = a.reshape(a.shape[0], -1)
                elif kind in ("max_pool", "avg_pool"):
                    if a.dim() == 2:
                        a = a.reshape(a.shape[0], -1, 1, 1)
                    k, s, p = arg
                    if kind == "max_pool":
                        y = F.max_pool2d(a, k, s, p)
                    else:
                        y = F.avg_pool2d(a, k, s, p, count_include_pad=True)
                elif kind == "add":
                    ys = [acts[n] for n in src]
                    if any(t.dim() != ys[0].dim() for t in ys):
                        ys = [t.reshape(t.shape[0], -1) for t in ys]
                    y = ys[0]
                    for t in ys[1:]:
                        y = y + t
                else:  # checked when the file was read
                    raise AssertionError(kind)
                acts[name] = y
            out = acts[self.output]
            return out.reshape(out.shape[0], -1)

    return GraphNet()


# ---------------------------------------------------------------------------------------------
# Training


def evaluate(net, x, y):
    import torch
    import torch.nn.functional as F

    net.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), EVAL_BATCH):
            out = net(x[i:i + EVAL_BATCH])
            t = y[i:i + EVAL_BATCH]
            loss += F.cross_entropy(out, t, reduction="sum").item()
            correct += (out.argmax(1) == t).sum().item()
    return loss / len(y), correct / len(y)


def load_draws(path, net, n, epochs):
    """Copies the initial parameters of a `nandspin draws` file into `net` and returns the
    image order of each epoch (a list of index tensors); any mismatch is an InputError."""
    import torch

    try:
        with open(path, "rb") as f:
            d = tomllib.load(f)
    except OSError as e:
        raise InputError(f"--draws {path}: cannot read: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"--draws {path}: not a draws file (bad TOML: {e})")
    if d.get("format_version") != 1:
        raise InputError(f"--draws {path}: format_version: expected 1, got "
                         f"{d.get('format_version')!r}; write it with this nandspin")
    if d.get("train_images") != n:
        raise InputError(f"--draws {path}: train_images: the draws are for "
                         f"{d.get('train_images')} training images, this run has {n}; "
                         f"write them with the same data and --set")
    orders = d.get("orders", [])
    if len(orders) < epochs:
        raise InputError(f"--draws {path}: orders: the draws hold {len(orders)} epochs, this "
                         f"run trains {epochs}; write them with the same training.epochs")
    targets = {}
    for name, m in net.mods.items():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            targets[f"{name}.weight"], targets[f"{name}.bias"] = m.weight, m.bias
        else:
            targets[f"{name}.gamma"], targets[f"{name}.beta"] = m.weight, m.bias
    params = d.get("params", [])
    names = [p.get("name") for p in params]
    if sorted(names) != sorted(targets):
        missing = sorted(set(targets) - set(names))
        extra = sorted(set(names) - set(targets))
        raise InputError(f"--draws {path}: params: the draws are for another network (missing "
                         f"{', '.join(missing) or 'none'}; not in this one: "
                         f"{', '.join(extra) or 'none'})")
    with torch.no_grad():
        for p in params:
            t, values = targets[p["name"]], p.get("values", [])
            if len(values) != t.numel():
                raise InputError(f"--draws {path}: params `{p['name']}`: {len(values)} values, "
                                 f"the layer has {t.numel()}")
            t.copy_(torch.tensor(values, dtype=torch.float32).reshape(t.shape))
    out = []
    for e, o in enumerate(orders[:epochs], 1):
        idx = o.get("images", [])
        if sorted(idx) != list(range(n)):
            raise InputError(f"--draws {path}: orders (epoch {e}): not an order of the "
                             f"{n} training images")
        out.append(torch.tensor(idx, dtype=torch.int64))
    return out


def main():
    ap = argparse.ArgumentParser(
        description="Train a nandspin workload in PyTorch (the reference for cross-checks).")
    ap.add_argument("workload")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--draws", metavar="FILE")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.threads < 1:
        raise InputError(f"--threads: must be at least 1, got {args.threads}")
    sets = list(args.set) + ([f"training.seed={args.seed}"] if args.seed is not None else [])
    name, data, tr, layers = load_workload(args.workload, sets)

    import torch
    import torch.nn.functional as F

    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    torch.manual_seed(tr["seed"])

    train_x, train_y = load_split(data, "train", tr["max_train_images"])
    test_x, test_y = load_split(data, "test", tr["max_test_images"])
    if train_x.shape[1:] != test_x.shape[1:]:
        raise InputError(f"{data['dir']}: training images are {tuple(train_x.shape[2:])}, test "
                         f"images {tuple(test_x.shape[2:])}")
    graph = build_graph(layers, tuple(train_x.shape[1:]), args.workload)
    classes = int(max(train_y.max().item(), test_y.max().item())) + 1
    if graph[-1][3][0] * graph[-1][3][1] * graph[-1][3][2] < classes:
        raise InputError(f"{args.workload}: layer {graph[-1][0]['name']}: gives "
                         f"{graph[-1][3][0]} class scores, but the data has {classes} classes")
    net = make_net(graph)
    opt = torch.optim.SGD(
        [{"params": net.decay, "weight_decay": tr["weight_decay"]},
         {"params": net.no_decay, "weight_decay": 0.0}],
        lr=tr["learning_rate"], momentum=tr["momentum"])
    if not args.quiet:
        print(f"{name}: {len(graph)} layers, {net.weights} parameters, {net.macs} MACs per image "
              f"forward; {len(train_y)} train / {len(test_y)} test images, {classes} classes; "
              f"batch {tr['batch_size']}, lr {tr['learning_rate']}, momentum {tr['momentum']}, "
              f"weight_decay {tr['weight_decay']}, seed {tr['seed']}; torch {torch.__version__}, "
              f"{torch.get_num_threads()} thread(s)", file=sys.stderr)

    gen = torch.Generator().manual_seed(tr["seed"])
    n, bs = len(train_y), tr["batch_size"]
    orders = load_draws(args.draws, net, n, tr["epochs"]) if args.draws else None
    test_acc = float("nan")
    for epoch in range(1, tr["epochs"] + 1):
        net.train()
        if orders is not None:
            order = orders[epoch - 1]
        else:
            order = torch.randperm(n, generator=gen) if tr["shuffle"] else torch.arange(n)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        t0 = time.perf_counter()
        for i in range(0, n, bs):
            idx = order[i:i + bs]
            xb, yb = train_x[idx], train_y[idx]
            out = net(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach().double() * len(idx)
                correct += (out.argmax(1) == yb).sum()
        train_s = time.perf_counter() - t0
        train_loss, train_acc = loss_sum.item() / n, correct.item() / n
        test_loss, test_acc = evaluate(net, test_x, test_y)
        print(f"epoch {epoch} train_loss {train_loss:.6f} train_accuracy {train_acc:.6f} "
              f"test_loss {test_loss:.6f} test_accuracy {test_acc:.6f} "
              f"images_per_s {n / train_s:.1f}", flush=True)
    print(f"final test_accuracy {test_acc:.6f}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
