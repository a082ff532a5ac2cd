"""Exports the interop models with Debian's torch 1.13 at opsets 13 and 17 with a dynamic batch, and
writes for each, at batch 1 and 3: model.onnx, input_bN.npy, torch_bN.npy (PyTorch's output) and
ort_bN.npy (ONNX Runtime's).

Usage: export_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnxruntime
import torch

import models


def export(name, module, example, kwargs, opset, out_dir):
    folder = os.path.join(out_dir, f"{name}_opset{opset}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    torch.manual_seed(0)
    module.eval()
    input_name = "input"
    torch.onnx.export(module, (example,), path, opset_version=opset, input_names=[input_name],
                      output_names=["output"], dynamic_axes={input_name: {0: "batch"}, "output": {0: "batch"}},
                      do_constant_folding=kwargs.get("training") is None, **kwargs)
    write_references(folder, path, module, example, input_name)
    return folder


def write_references(folder, path, module, example, input_name):
    """input_bN.npy, torch_bN.npy (PyTorch's output) and ort_bN.npy (ONNX Runtime's on the file at
    path) for batch 1 and 3: batches other than the traced one check the dynamic batch dim."""
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = batch_of(example, batch)
        with torch.no_grad():
            np.save(os.path.join(folder, f"torch_b{batch}.npy"), module(x).numpy())
        np.save(os.path.join(folder, f"input_b{batch}.npy"), x.numpy())
        np.save(os.path.join(folder, f"ort_b{batch}.npy"), session.run(None, {input_name: x.numpy()})[0])


def batch_of(example, batch):
    """A new input like example with `batch` rows (seeded, same dtype and value range)."""
    g = torch.Generator().manual_seed(batch)
    shape = (batch,) + tuple(example.shape[1:])
    if example.dtype == torch.int64:
        return torch.randint(0, int(example.max()) + 1, shape, generator=g)
    return torch.randn(shape, generator=g)


def main():
    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    for name, module, example, kwargs in models.cases():
        for opset in (13, 17):
            print("exported", export(name, module, example, kwargs, opset, out_dir), flush=True)


if __name__ == "__main__":
    main()
