"""kiln vs ONNX Runtime on the same exported PyTorch models, in the same run on the same machine.

For each model, batch size and thread count it times `kiln bench` (median over its iterations)
and an onnxruntime InferenceSession (median over the same number of runs, after warm-up) and
prints the ratio kiln / ORT. Inputs have the same shapes and dtypes on both sides (seeded random
values; these models' latency does not depend on the values).

Usage (from the repository root, with the test venv):
  .venv/bin/python tools/bench/compare_ort.py [--kiln build/kiln] [--models build/interop]
      [--iterations 50] [--json build/reports/compare_ort.json]
The models are exported by tests/interop/export_models.py when the folder does not exist.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime

# model, batch sizes (small models also at 32, as the issue asks)
CASES = [("mlp", (1, 32)), ("cnn", (1, 32)), ("resnet18", (1, 8)), ("transformer", (1, 8))]
OPSET = 17


def ort_median_ms(path, batch, threads, iterations, warmup):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {}
    for i in session.get_inputs():
        shape = [batch if j == 0 else (d if isinstance(d, int) else 1) for j, d in enumerate(i.shape)]
        if i.type == "tensor(int64)":
            feed[i.name] = rng.integers(0, 50, size=shape, dtype=np.int64)
        else:
            feed[i.name] = rng.standard_normal(shape, dtype=np.float32)
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def kiln_median_ms(kiln, path, batch, threads, iterations, warmup):
    out = subprocess.run([kiln, "bench", path, "--batch", str(batch), "--threads", str(threads), "--iterations",
                          str(iterations), "--warmup", str(warmup), "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"kiln bench {path} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)["latency_ms"]["median"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", default="build/kiln")
    parser.add_argument("--models", default="build/interop")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", default="build/reports/compare_ort.json")
    args = parser.parse_args()
    if not os.path.isdir(args.models):
        exporter = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "interop", "export_models.py")
        subprocess.run([sys.executable, exporter, args.models], check=True, capture_output=True)

    rows = []
    print(f"{'model':<12} {'batch':>5} {'threads':>7} {'kiln ms':>9} {'ORT ms':>9} {'kiln/ORT':>9}")
    for name, batches in CASES:
        path = os.path.join(args.models, f"{name}_opset{OPSET}", "model.onnx")
        for batch in batches:
            for threads in (1, 2):
                # Alternate the two sides so a change in machine load hits both.
                kiln_ms = kiln_median_ms(args.kiln, path, batch, threads, args.iterations, args.warmup)
                ort_ms = ort_median_ms(path, batch, threads, args.iterations, args.warmup)
                ratio = kiln_ms / ort_ms
                rows.append({"model": name, "batch": batch, "threads": threads, "kiln_ms": kiln_ms,
                             "ort_ms": ort_ms, "ratio": ratio})
                print(f"{name:<12} {batch:>5} {threads:>7} {kiln_ms:>9.3f} {ort_ms:>9.3f} {ratio:>9.2f}", flush=True)
    worst = max(rows, key=lambda r: r["ratio"])
    print(f"worst ratio {worst['ratio']:.2f} ({worst['model']}, batch {worst['batch']}, {worst['threads']} threads); "
          f"onnxruntime {onnxruntime.__version__}")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"onnxruntime": onnxruntime.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
