"""Fine-tunes a torch 2.15 (dynamo) export with `kiln train` itself and checks each step's loss
against PyTorch's own fine-tuning of the same module (dynamo_export.py's torch_losses.npy): the
same batches in order (--no-shuffle), SGD with momentum, cross entropy, one epoch. Models with a
BatchNorm train from the optimize=False export (finetune.onnx), as dynamo_round_trip.py does.

Usage: dynamo_kiln_train.py KILN MODEL_DIR TRAIN_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

import numpy as np


def main():
    kiln, model_dir, train_dir, work = sys.argv[1:5]
    name = os.path.basename(work)
    os.makedirs(work, exist_ok=True)
    model = os.path.join(model_dir, "finetune.onnx")
    if not os.path.exists(model):
        model = os.path.join(model_dir, "model.onnx")
    data = np.load(os.path.join(train_dir, "data.npz"))
    steps = sum(1 for k in data.files if k.startswith("x") and k[1:].isdigit())
    batch = data["x0"].shape[0]
    train_npz = os.path.join(work, "train.npz")
    np.savez(train_npz, x=np.concatenate([data[f"x{i}"] for i in range(steps)]),
             y=np.concatenate([data[f"y{i}"] for i in range(steps)]))
    metrics = os.path.join(work, "metrics.jsonl")
    cmd = [kiln, "train", model, "--data", train_npz, "--loss", "cross_entropy", "--optimizer", "sgd",
           "--lr", repr(float(data["lr"])), "--momentum", repr(float(data["momentum"])), "--epochs", "1",
           "--batch-size", str(batch), "--no-shuffle", "--quiet", "--metrics-out", metrics]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"{name}: kiln train exited {run.returncode}: {run.stderr.strip()}")
        return 1
    with open(metrics) as f:
        lines = [json.loads(line) for line in f]
    got = np.array([line["loss"] for line in lines if line.get("split") == "train"])
    want = np.load(os.path.join(train_dir, "torch_losses.npy"))
    rtol = float(data["loss_rtol"])
    print(f"{name}: kiln train losses {np.array2string(got, precision=7)}")
    print(f"{name}: PyTorch's        {np.array2string(want, precision=7)}")
    if got.shape != want.shape:
        print(f"{name}: kiln took {got.size} steps, PyTorch {want.size}")
        return 1
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-12)
    print(f"{name}: max relative difference {rel.max():.2e} (limit {rtol:g})")
    return 0 if rel.max() <= rtol else 1


if __name__ == "__main__":
    sys.exit(main())
