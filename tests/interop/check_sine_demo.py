"""`kiln demo` uses NumPy's seed-1 points, trains both runs, and writes its figures.

Usage: python check_sine_demo.py KILN OUT_DIR
"""
import os
import subprocess
import sys

import numpy as np


def main():
    kiln, out = sys.argv[1], sys.argv[2]
    result = subprocess.run([kiln, "demo", "--out", out], check=True, capture_output=True, text=True)
    lines = result.stdout.splitlines()
    arrays = np.load(os.path.join(out, "sine_demo.npz"))
    np.random.seed(1)
    x = np.sort(5 * np.random.rand(100, 1), axis=0)
    x_val = np.sort(5 * np.random.rand(50, 1), axis=0)
    failures = []
    if not np.array_equal(arrays["x_train"], x.astype(np.float32)):
        failures.append("x_train differs from NumPy's np.random.seed(1) points")
    if not np.array_equal(arrays["x_val"], x_val.astype(np.float32)):
        failures.append("x_val differs from NumPy's next 50 draws")
    if not np.allclose(arrays["y_train"], np.sin(x), rtol=1e-6, atol=1e-7):
        failures.append("y_train is not sin(x_train)")
    for run in ("sgd", "momentum"):
        for split in ("train", "val"):
            loss = arrays[f"{run}_{split}_loss"]
            if loss.shape != (100,) or not np.all(np.isfinite(loss)):
                failures.append(f"{run} {split} loss: shape {loss.shape}, finite {np.all(np.isfinite(loss))}")
        # every 10 epochs (and the first) a progress line with both losses, then the 6.5 query
        progress = [l for l in lines if l.startswith(run + " ") and "train loss" in l]
        if len(progress) != 11:
            failures.append(f"{run}: {len(progress)} progress lines, expected 11")
        if not any(l.startswith(run + " ") and "prediction at x = 6.5" in l for l in lines):
            failures.append(f"{run}: no prediction at x = 6.5")
    if not arrays["momentum_train_loss"][-1] < arrays["sgd_train_loss"][-1]:
        failures.append("momentum did not end below plain SGD, the seed's finding")
    # Both trained models exported as ONNX: ONNX Runtime gives kiln's predictions on the grid.
    import onnxruntime
    for run in ("sgd", "momentum"):
        session = onnxruntime.InferenceSession(os.path.join(out, run + ".onnx"), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        got = session.run(None, {name: arrays["grid"]})[0]
        if not np.allclose(got, arrays[run + "_grid_prediction"], rtol=1e-5, atol=1e-6):
            failures.append(f"{run}.onnx in ONNX Runtime differs from kiln's predictions")
    for figure in ("loss.svg", "predictions.svg"):
        with open(os.path.join(out, figure)) as f:
            svg = f.read()
        if not svg.startswith("<svg") or svg.count("<path") < 2:
            failures.append(f"{figure} has no curves")
    print("\n".join(lines[-2:]))
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("sine demo: PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
