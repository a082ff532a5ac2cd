"""Runs one exported model through `kiln run` and checks its output against PyTorch's and ONNX
Runtime's (rtol 1e-4, atol 1e-5). Exits non-zero, naming the model and the worst element, on a
mismatch or when kiln fails.

Usage: compare.py KILN_BINARY MODEL_DIR
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

RTOL, ATOL = 1e-4, 1e-5


def check(name, got, want, what):
    if got.shape != want.shape:
        return f"{name}: shape {got.shape} differs from {what}'s {want.shape}"
    bad = ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
    if bad.any():
        i = np.unravel_index(np.argmax(np.abs(got - want) - RTOL * np.abs(want)), got.shape)
        return f"{name}: {bad.sum()} of {got.size} elements differ from {what}'s; worst at {i}: {got[i]} vs {want[i]}"
    return None


def check_references(label, got, folder, batch):
    """The problems of got against PyTorch's and ONNX Runtime's outputs stored for this batch."""
    problems = [check(label, got, np.load(os.path.join(folder, f"{ref}_b{batch}.npy")), ref) for ref in ("torch", "ort")]
    return [p for p in problems if p]


def main():
    kiln, folder = sys.argv[1], sys.argv[2]
    name = os.path.basename(folder)
    failures = []
    for batch in (1, 3):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.npz")
            cmd = [kiln, "run", os.path.join(folder, "model.onnx"), "--input",
                   os.path.join(folder, f"input_b{batch}.npy"), "--output", out]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{name} batch {batch}: kiln exited {run.returncode}: {run.stderr.strip()}")
                continue
            got = np.load(out)["output"]
        failures += check_references(f"{name} batch {batch}", got, folder, batch)
    for f in failures:
        print(f)
    if not failures:
        print(f"{name}: kiln matches PyTorch and ONNX Runtime at batch 1 and 3")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
