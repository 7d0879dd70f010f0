#!/usr/bin/env python3
"""PyTorch side of `npm run bench` (bench/bench.ts): the same models, batch size, input and optimizer as the
TypeScript side, on random data, on the CPU, so that the two can be compared in the same run.

Models (layer for layer as src/models/, in NCHW):
  seed-cnn  Conv 32 3x3 relu, MaxPool 2, Conv 64 3x3 relu, MaxPool 2, Conv 128 3x3 relu, MaxPool 2,
            Flatten, Linear 64 relu, Linear 10                                     (101,578 parameters)
  hwr-net   Conv 32 5x5 (no bias) BN relu, MaxPool 2, Conv 64 3x3 BN relu, MaxPool 2, Conv 128 3x3 BN relu,
            Flatten 1152, Dropout 0.4, Linear 128 (no bias) BN relu, Dropout 0.4, Linear 10
  hccr-vgg  64x64 input, 3,755 classes: Conv 32 5x5 stride 2 (no bias) BN relu, MaxPool 2, then Conv 64, 128, 256
            3x3 (no bias) BN relu with MaxPool 2 after the first two, global average pooling, Dropout 0.3,
            Linear 3755                (1,353,867 parameters; TF.js counts 1,354,827 with batch norm's moving statistics)
Training: Adam (lr 0.001), cross-entropy on logits (the TF.js models end in softmax + categorical cross-entropy,
the same function), accuracy computed and the loss read back every step, as TF.js `fitDataset` does.
Inference: model.eval(), torch.no_grad(), softmax, probabilities read back as a list.

Usage:
  /usr/bin/python3 bench/torch_bench.py [--threads 1] [--quick]   one report as JSON on stdout
  /usr/bin/python3 bench/torch_bench.py --serve                     JSON requests on stdin, one JSON answer per line:
    {"op": "info"}
    {"op": "train", "model": "seed-cnn", "threads": 1, "batch": 64, "steps": 30, "warmup": 3} -> {"imagesPerSecond"}
    {"op": "infer", "model": ..., "threads": 1, "batch": 256, "reps": 5}                       -> {"imagesPerSecond"}
    {"op": "latency", "model": ..., "threads": 1, "calls": 100, "warmup": 20}                  -> {"ms": [...]}
  Any request may add "variant": "best", which first tries the configurations a user would pick from (training:
  NCHW or channels_last memory; inference: eager NCHW, eager channels_last, or TorchScript frozen and
  optimize_for_inference) and measures the fastest; the answer then names it in "variant".
Debian's python3-torch installs for /usr/bin/python3 (not for a pyenv python3 earlier on PATH).
"""
import argparse
import json
import platform
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def seed_cnn(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, classes),
    )


def hwr_net(classes: int = 10) -> nn.Module:
    # Keras BatchNormalization(momentum=0.9, epsilon=1e-3) is PyTorch's momentum=0.1, eps=1e-3.
    def block(cin: int, cout: int, k: int) -> list:
        return [nn.Conv2d(cin, cout, k, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1), nn.ReLU()]

    return nn.Sequential(
        *block(1, 32, 5), nn.MaxPool2d(2),
        *block(32, 64, 3), nn.MaxPool2d(2),
        *block(64, 128, 3),
        nn.Flatten(), nn.Dropout(0.4),
        nn.Linear(1152, 128, bias=False), nn.BatchNorm1d(128, eps=1e-3, momentum=0.1), nn.ReLU(),
        nn.Dropout(0.4), nn.Linear(128, classes),
    )


def hccr_vgg(classes: int = 3755) -> nn.Module:
    # src/models/hccrVgg.ts with HCCR_VGG. TF.js "same" padding of the 5x5 stride-2 stem on 64 px pads 1 before and
    # 2 after; PyTorch's padding=2 pads 2 and 2: the same 32x32 output and the same work.
    def block(cin: int, cout: int, k: int, stride: int = 1) -> list:
        return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1), nn.ReLU()]

    return nn.Sequential(
        *block(1, 32, 5, 2), nn.MaxPool2d(2),
        *block(32, 64, 3), nn.MaxPool2d(2),
        *block(64, 128, 3), nn.MaxPool2d(2),
        *block(128, 256, 3),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, classes),
    )


MODELS = {"seed-cnn": seed_cnn, "hwr-net": hwr_net, "hccr-vgg": hccr_vgg}
# Input side in px and classes of each model.
SHAPES = {"seed-cnn": (28, 10), "hwr-net": (28, 10), "hccr-vgg": (64, 3755)}
TRAIN_VARIANTS = ("nchw", "channels-last")
INFER_VARIANTS = ("nchw", "channels-last", "torchscript")
_cache: dict = {}


def setup(name: str, variant: str = "nchw"):
    """One model (+ Adam) per architecture and memory layout for the whole run, so warm-up is paid once."""
    key = (name, variant)
    if key not in _cache:
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
        torch.manual_seed(1)
        model = MODELS[name]()
        if variant == "channels-last":
            model = model.to(memory_format=torch.channels_last)
        _cache[key] = (model, torch.optim.Adam(model.parameters(), lr=1e-3))
    return _cache[key]


def example(name: str, batch: int, variant: str) -> torch.Tensor:
    side = SHAPES[name][0]
    x = torch.rand(batch, 1, side, side)
    return x.contiguous(memory_format=torch.channels_last) if variant == "channels-last" else x


_scripted: dict = {}


def inference_model(name: str, variant: str):
    """The eval-mode model as a user would deploy it: eager (NCHW or channels_last), or TorchScript, frozen and
    optimized for inference (torch.jit.optimize_for_inference: folds batch norm into the convolutions)."""
    if variant != "torchscript":
        net, _ = setup(name, variant)
        net.eval()
        return net
    if name not in _scripted:
        torch.manual_seed(1)
        net = MODELS[name]().eval()
        _scripted[name] = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(net)))
    return _scripted[name]


def fastest(variants, measure) -> str:
    """The variant whose `measure(variant)` (seconds, after a first untimed call) is smallest."""
    times = {}
    for variant in variants:
        measure(variant)
        times[variant] = min(measure(variant) for _ in range(2))
    return min(times, key=times.get)


def train(model: str, threads: int, batch: int = 64, steps: int = 30, warmup: int = 3, variant: str = "nchw") -> dict:
    torch.set_num_threads(threads)
    if variant == "best":
        def trial(v: str) -> float:
            start = time.perf_counter()
            train(model, threads, batch, 1, 0, v)
            return time.perf_counter() - start
        variant = fastest(TRAIN_VARIANTS, trial)
    net, optimizer = setup(model, variant)
    net.train()
    x = example(model, batch, variant)
    y = torch.randint(0, SHAPES[model][1], (batch,))

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        (logits.argmax(1) == y).float().mean().item()
        return loss.item()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    return {"imagesPerSecond": batch * steps / seconds, "seconds": seconds, "variant": variant}


def infer(model: str, threads: int, batch: int = 256, reps: int = 5, variant: str = "nchw") -> dict:
    torch.set_num_threads(threads)
    if variant == "best":
        def trial(v: str) -> float:
            return 1 / infer(model, threads, batch, 1, v)["imagesPerSecond"]
        variant = fastest(INFER_VARIANTS, trial)
    net = inference_model(model, variant)
    x = example(model, batch, variant)
    with torch.no_grad():
        torch.softmax(net(x), 1).tolist()
        start = time.perf_counter()
        for _ in range(reps):
            torch.softmax(net(x), 1).tolist()
        seconds = time.perf_counter() - start
    return {"imagesPerSecond": batch * reps / seconds, "variant": variant}


def latency(model: str, threads: int, calls: int = 100, warmup: int = 20, variant: str = "nchw") -> dict:
    torch.set_num_threads(threads)
    if variant == "best":
        def trial(v: str) -> float:
            start = time.perf_counter()
            latency(model, threads, 5, 0, v)
            return time.perf_counter() - start
        variant = fastest(INFER_VARIANTS, trial)
    net = inference_model(model, variant)
    x = example(model, 1, variant)
    times = []
    with torch.no_grad():
        for i in range(warmup + calls):
            start = time.perf_counter()
            torch.softmax(net(x), 1)[0].tolist()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    return {"ms": times, "variant": variant}


def info() -> dict:
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "parallel": torch.__config__.parallel_info().splitlines()[-1].strip(),
        "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def serve() -> None:
    ops = {"train": train, "infer": infer, "latency": latency}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            op = request.pop("op")
            answer = info() if op == "info" else ops[op](**request)
        except Exception as error:  # answer the request, keep serving
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def report(threads: int, quick: bool) -> dict:
    rounds = 2 if quick else 5
    out = {"info": info(), "threads": threads, "models": {}}
    for name in MODELS:
        rates = [train(name, threads, steps=10 if quick else 30)["imagesPerSecond"] for _ in range(rounds)]
        batched = [infer(name, threads)["imagesPerSecond"] for _ in range(rounds)]
        ms = sorted(sum((latency(name, threads)["ms"] for _ in range(max(2, rounds))), []))
        out["models"][name] = {
            "parameters": sum(p.numel() for p in setup(name)[0].parameters()),
            "trainImagesPerSecond": statistics.median(rates),
            "inferImagesPerSecond": statistics.median(batched),
            "latencyMedianMs": statistics.median(ms),
            "latencyP99Ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
        }
    out["info"]["maxRssMB"] = info()["maxRssMB"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="answer JSON requests on stdin (used by bench.ts)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_interop_threads(1)
    if args.serve:
        serve()
    else:
        print(json.dumps(report(args.threads, args.quick), indent=2))


if __name__ == "__main__":
    main()
