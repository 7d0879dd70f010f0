#!/usr/bin/env python3
r"""PyTorch side of `npm run bench` (bench/bench.ts): the same models, batch size, input and optimizer as the
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

Warm-up: the first request of each kind (train, infer, latency) for a model, memory layout, thread count and batch
in this process first runs untimed calls, up to 300 (training steps, latency calls) or 20 (batch inference calls),
stopping earlier after `warmSeconds` (default 5 s), at least 5. A fresh PyTorch process is slow for its first
rounds (allocator growth, OpenMP and OpenBLAS thread start, oneDNN primitive caches): without this, a short run
(`--quick`) averages a cold round into the figure. Each answer says how many warm-up calls it ran ("warmCalls").

The process's environment decides which BLAS it uses and how (issue 13; bench/torchEnv.ts sets it per process):
Debian's torch is built with BLAS_INFO=generic and calls whatever libblas.so.3 the loader finds (the reference
libblas3, or OpenBLAS through update-alternatives or LD_LIBRARY_PATH); OpenBLAS reads OPENBLAS_NUM_THREADS,
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when loaded, libgomp OMP_WAIT_POLICY; glibc reads GLIBC_TUNABLES at start. `{"op": "info"}` reports
what this process found: the BLAS libraries mapped, OpenBLAS's core and threads, the environment, and the speed of
a 512x512 float32 matmul. To run the tuned configuration by hand (1 thread; with 2, also OMP_WAIT_POLICY=PASSIVE):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
    /usr/bin/python3 bench/torch_bench.py --threads 1

Usage:
  /usr/bin/python3 bench/torch_bench.py [--threads 1] [--quick] [--variant best]   one report as JSON on stdout
  /usr/bin/python3 bench/torch_bench.py --serve                     JSON requests on stdin, one JSON answer per line:
    {"op": "info", "threads": 1}                                      -> {"blas", "env", "matmulGflops", ...}
    {"op": "train", "model": "seed-cnn", "threads": 1, "batch": 64, "steps": 30, "warmup": 3} -> {"imagesPerSecond"}
    {"op": "infer", "model": ..., "threads": 1, "batch": 256, "reps": 5}                       -> {"imagesPerSecond"}
    {"op": "latency", "model": ..., "threads": 1, "calls": 100, "warmup": 20}                  -> {"ms": [...]}
  train, infer and latency also take "warmSeconds" (the first-use warm-up above) and "variant": "nchw" (default),
  "channels-last", "torchscript" (inference only) or "best", which first warms every configuration a user would
  pick from (training: NCHW or channels_last memory; inference: eager NCHW, eager channels_last, or TorchScript
  frozen and optimize_for_inference), times each in 3 interleaved short trials, and measures the fastest; the answer
  names it in "variant". Answers also give "minorFaultsPerImage" (ru_minflt over the timed part, per image): the
  page-fault stalls of issue 13 show there.
Debian's python3-torch installs for /usr/bin/python3 (not for a pyenv python3 earlier on PATH).
"""
import argparse
import ctypes
import json
import os
import platform
import re
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
DEFAULT_WARM_SECONDS = 5.0
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
    if variant not in INFER_VARIANTS:
        raise ValueError(f"unknown inference variant {variant!r}: choose one of {', '.join(INFER_VARIANTS)} or best")
    if variant != "torchscript":
        net, _ = setup(name, variant)
        net.eval()
        return net
    if name not in _scripted:
        torch.manual_seed(1)
        net = MODELS[name]().eval()
        _scripted[name] = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(net)))
    return _scripted[name]


_warmed: set = set()
_warm_calls = [0]  # every warm-up call of this process, so that an answer can count those its trials ran too


def warm(key: tuple, call, seconds: float, max_calls: int) -> int:
    """Runs `call()` untimed the first time `key` is seen in this process: until `max_calls` calls or `seconds`
    seconds, whichever comes first, and at least 5 calls. Returns the number of calls (0 when already warm)."""
    if key in _warmed:
        return 0
    _warmed.add(key)
    start = time.perf_counter()
    calls = 0
    while calls < 5 or (calls < max_calls and time.perf_counter() - start < seconds):
        call()
        calls += 1
    _warm_calls[0] += calls
    return calls


def fastest(variants, measure, trials: int = 3) -> str:
    """The variant whose `measure(variant)` (seconds) is smallest, best of `trials` rounds that take the variants in
    turn (so that a burst of load on a shared machine hits all of them)."""
    times = {variant: [] for variant in variants}
    for _ in range(trials):
        for variant in variants:
            times[variant].append(measure(variant))
    return min(variants, key=lambda variant: min(times[variant]))


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def train(model: str, threads: int, batch: int = 64, steps: int = 30, warmup: int = 3, variant: str = "nchw",
          warmSeconds: float = DEFAULT_WARM_SECONDS) -> dict:
    """Training images/s over `steps` timed steps (after the first-use warm-up and `warmup` more steps)."""
    warm_before = _warm_calls[0]
    torch.set_num_threads(threads)
    if variant == "best":
        def trial(v: str) -> float:
            return train(model, threads, batch, 3, 0, v, warmSeconds)["seconds"]
        variant = fastest(TRAIN_VARIANTS, trial)
    if variant not in TRAIN_VARIANTS:
        raise ValueError(f"unknown training variant {variant!r}: choose one of {', '.join(TRAIN_VARIANTS)} or best")
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

    warm(("train", model, variant, threads, batch), step, warmSeconds, 300)
    for _ in range(warmup):
        step()
    faults = minor_faults()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    return {"imagesPerSecond": batch * steps / seconds, "seconds": seconds, "variant": variant, "warmCalls": _warm_calls[0] - warm_before,
            "minorFaultsPerImage": (minor_faults() - faults) / (batch * steps)}


def infer(model: str, threads: int, batch: int = 256, reps: int = 5, variant: str = "nchw",
          warmSeconds: float = DEFAULT_WARM_SECONDS) -> dict:
    """Batched inference images/s over `reps` timed calls of `batch` images (after the first-use warm-up)."""
    warm_before = _warm_calls[0]
    torch.set_num_threads(threads)
    if variant == "best":
        def trial(v: str) -> float:
            return 1 / infer(model, threads, batch, 1, v, warmSeconds)["imagesPerSecond"]
        variant = fastest(INFER_VARIANTS, trial)
    net = inference_model(model, variant)
    x = example(model, batch, variant)
    with torch.no_grad():
        warm(("infer", model, variant, threads, batch), lambda: torch.softmax(net(x), 1).tolist(), warmSeconds, 20)
        torch.softmax(net(x), 1).tolist()
        faults = minor_faults()
        start = time.perf_counter()
        for _ in range(reps):
            torch.softmax(net(x), 1).tolist()
        seconds = time.perf_counter() - start
    return {"imagesPerSecond": batch * reps / seconds, "variant": variant, "warmCalls": _warm_calls[0] - warm_before,
            "minorFaultsPerImage": (minor_faults() - faults) / (batch * reps)}


def latency(model: str, threads: int, calls: int = 100, warmup: int = 20, variant: str = "nchw",
            warmSeconds: float = DEFAULT_WARM_SECONDS) -> dict:
    """Single-image latencies in ms, one per timed call (after the first-use warm-up and `warmup` more calls)."""
    warm_before = _warm_calls[0]
    torch.set_num_threads(threads)
    if variant == "best":
        def trial(v: str) -> float:
            return sum(latency(model, threads, 5, 0, v, warmSeconds)["ms"])
        variant = fastest(INFER_VARIANTS, trial)
    net = inference_model(model, variant)
    x = example(model, 1, variant)
    times = []
    with torch.no_grad():
        warm(("latency", model, variant, threads), lambda: torch.softmax(net(x), 1)[0].tolist(), warmSeconds, 300)
        faults = minor_faults()
        for i in range(warmup + calls):
            start = time.perf_counter()
            torch.softmax(net(x), 1)[0].tolist()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    return {"ms": times, "variant": variant, "warmCalls": _warm_calls[0] - warm_before, "minorFaultsPerImage": (minor_faults() - faults) / (warmup + calls)}


# The environment variables that decide PyTorch's CPU speed here (reported by info() as set or null).
ENV_KEYS = ("LD_LIBRARY_PATH", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
            "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GLIBC_TUNABLES")


def blas() -> dict:
    """Which BLAS this process calls: the libblas.so.3 the loader mapped (Debian's torch links it by that name,
    BLAS_INFO=generic), every mapped BLAS/LAPACK library, and, when libblas.so.3 is OpenBLAS's, OpenBLAS's own
    report (openblas_get_config, openblas_get_corename, openblas_get_num_threads)."""
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if re.search(r"(blas|lapack|mkl|blis|atlas)[^/]*\.so", line)})
    blas_paths = [path for path in paths if re.search(r"/libblas\.so", path)]
    out: dict = {"libraries": paths, "libblas": blas_paths[0] if blas_paths else None, "openblas": None}
    libblas = out["libblas"] or ""
    real = os.path.realpath(libblas) if libblas else ""
    if "openblas" in libblas or "openblas" in real:
        lib = ctypes.CDLL(libblas)
        try:
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            out["openblas"] = {"config": lib.openblas_get_config().decode(), "core": lib.openblas_get_corename().decode(),
                               "threads": lib.openblas_get_num_threads()}
        except AttributeError:  # a libblas.so.3 shim without OpenBLAS's extensions
            out["openblas"] = {"config": None, "core": None, "threads": None}
        out["kind"] = "OpenBLAS"
    elif libblas:
        out["kind"] = "reference BLAS (libblas3)" if re.search(r"/blas/libblas\.so", real or libblas) else os.path.basename(real)
    else:
        out["kind"] = "none mapped"
    return out


def matmul_gflops(threads: int, size: int = 512, seconds: float = 0.3) -> float:
    """GFLOP/s of a size x size float32 matmul (torch.mm: sgemm of the BLAS above) with `threads` threads."""
    torch.set_num_threads(threads)
    a, b = torch.rand(size, size), torch.rand(size, size)
    for _ in range(3):
        torch.mm(a, b)
    calls = 0
    start = time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        torch.mm(a, b)
        calls += 1
    return 2 * size ** 3 * calls / (time.perf_counter() - start) / 1e9


def info(threads: int = 1) -> dict:
    """What this process runs on: versions, parallel backend, BLAS, the environment that tunes it, matmul speed."""
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "parallel": torch.__config__.parallel_info().splitlines()[-1].strip(),
        "blasInfo": (re.search(r"BLAS_INFO=(\w+)", torch.__config__.show()) or [None, None])[1],
        "blas": blas(),
        "env": {key: os.environ.get(key) for key in ENV_KEYS},
        "threads": threads,
        "matmulGflops": matmul_gflops(threads),
        "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def serve() -> None:
    ops = {"info": info, "train": train, "infer": infer, "latency": latency}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            op = request.pop("op")
            answer = ops[op](**request)
        except Exception as error:  # answer the request, keep serving
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def report(threads: int, quick: bool, variant: str) -> dict:
    rounds = 2 if quick else 5
    warm_seconds = 1.5 if quick else DEFAULT_WARM_SECONDS
    out = {"info": info(threads), "threads": threads, "variant": variant, "models": {}}
    train_variant = variant if variant in TRAIN_VARIANTS or variant == "best" else "nchw"
    for name in MODELS:
        trains = [train(name, threads, steps=10 if quick else 30, variant=train_variant, warmSeconds=warm_seconds) for _ in range(rounds)]
        batched = [infer(name, threads, variant=variant, warmSeconds=warm_seconds) for _ in range(rounds)]
        latencies = [latency(name, threads, variant=variant, warmSeconds=warm_seconds) for _ in range(max(2, rounds))]
        ms = sorted(sum((answer["ms"] for answer in latencies), []))
        out["models"][name] = {
            "parameters": sum(p.numel() for p in setup(name)[0].parameters()),
            "trainImagesPerSecond": statistics.median(a["imagesPerSecond"] for a in trains),
            "inferImagesPerSecond": statistics.median(a["imagesPerSecond"] for a in batched),
            "latencyMedianMs": statistics.median(ms),
            "latencyP99Ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
            "variants": {"train": [a["variant"] for a in trains], "infer": [a["variant"] for a in batched],
                         "latency": [a["variant"] for a in latencies]},
        }
    out["info"]["maxRssMB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="answer JSON requests on stdin (used by bench.ts)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variant", default="best", help="nchw, channels-last, torchscript (inference) or best")
    args = parser.parse_args()
    torch.set_num_interop_threads(1)
    if args.serve:
        serve()
    else:
        print(json.dumps(report(args.threads, args.quick, args.variant), indent=2))


if __name__ == "__main__":
    main()
