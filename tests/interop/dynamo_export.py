"""Exports the dynamo interop models (dynamo_models.py) with torch 2.15's default exporter
(torch.onnx.export(..., dynamo=True), its defaults otherwise: optimize, external data) with a
dynamic batch, at the exporter's default opset (20 in torch 2.15) and at opset 23, and writes what the tests
compare kiln against, so that no test has to import torch again:

  OUT/dynamo_<model>_opset<N>/model.onnx (+ model.onnx.data), input_bB.npy, torch_bB.npy
      (PyTorch's output), ort_bB.npy (ONNX Runtime's), for B in 1, 3: compare.py's layout;
  OUT/dynamo_<model>_opset<N>/finetune.onnx (+ .data), only for models with BatchNorm: the same
      export with optimize=False. The default export (optimize=True) folds each eval-mode
      BatchNorm into the Conv before it (onnxscript's FuseBatchNormIntoConv) and stores the
      folded weights under the Conv's PyTorch name ("features.0.weight"): fine for inference,
      but fine-tuning that file trains another network than PyTorch's module (no BatchNorm, no
      batch statistics), so the fine-tuning tests start from the unfolded file, which keeps
      BatchNormalization and its parameters under PyTorch's names, as round_trip.py's
      TrainingMode.PRESERVE export does for torch 1.13;
  OUT/dynamo_<model>_train/data.npz: 5 fine-tuning batches x<k>, y<k>, lr, momentum, loss_rtol,
      an evaluation input x_eval; param_names.txt: the module's named_parameters;
      torch_losses.npy: the loss of each of PyTorch's 5 SGD-momentum steps on a copy of the
      module (model.train(), Dropout inactive: see round_trip.py).

Usage: dynamo_export.py OUT_DIR
"""
import copy
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime
import torch

import dynamo_models
from export_models import write_references

DEFAULT_OPSET = 20  # torch 2.15's (torch.onnx._constants.ONNX_DEFAULT_OPSET); another default fails here
OPSETS = (None, 23)
STEPS = 5
MOMENTUM = 0.9
TRAIN_BATCH = 4


def has_batchnorm(module):
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


def export(case, opset, out_dir):
    module = case.module
    module.eval()
    example = case.example()
    want = opset or DEFAULT_OPSET
    folder = os.path.join(out_dir, f"dynamo_{case.name}_opset{want}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    for stale in ("model.onnx", "model.onnx.data", "finetune.onnx", "finetune.onnx.data"):
        if os.path.exists(os.path.join(folder, stale)):
            os.remove(os.path.join(folder, stale))
    kwargs = {} if opset is None else {"opset_version": opset}
    common = dict(dynamo=True, input_names=["input"], output_names=["output"], dynamic_shapes=({0: "batch"},))
    torch.onnx.export(module, (example,), path, **common, **kwargs)
    if has_batchnorm(module):
        torch.onnx.export(module, (example,), os.path.join(folder, "finetune.onnx"), optimize=False, **common,
                          **kwargs)
    proto = onnx.load(path, load_external_data=False)
    got = {o.domain: o.version for o in proto.opset_import}.get("", 0)
    if got != want:
        raise SystemExit(f"{path}: the exporter wrote opset {got}, expected {want}")
    ops = sorted({n.op_type for n in proto.graph.node})
    write_references(folder, path, module, example, "input")
    print(f"exported {folder}: IR {proto.ir_version}, opset {got}, ops {' '.join(ops)}", flush=True)


def fine_tune(case, out_dir):
    """PyTorch's 5 steps on a copy of the (untrained) module; writes the data and the losses."""
    folder = os.path.join(out_dir, f"dynamo_{case.name}_train")
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(1)
    xs = [case.make_input(TRAIN_BATCH, g) for _ in range(STEPS)]
    ys = [case.targets(TRAIN_BATCH, g) for _ in range(STEPS)]
    x_eval = case.make_input(3, g)
    data = {f"x{k}": x.numpy() for k, x in enumerate(xs)}
    data.update({f"y{k}": y.numpy() for k, y in enumerate(ys)})
    data.update(lr=np.array(case.lr), momentum=np.array(MOMENTUM), x_eval=x_eval.numpy(),
                loss_rtol=np.array(case.loss_rtol))
    np.savez(os.path.join(folder, "data.npz"), **data)
    with open(os.path.join(folder, "param_names.txt"), "w") as f:
        f.writelines(f"{n}\n" for n, _ in case.module.named_parameters())
    model = copy.deepcopy(case.module)
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    opt = torch.optim.SGD(model.parameters(), lr=case.lr, momentum=MOMENTUM)
    losses = []
    for x, y in zip(xs, ys):
        opt.zero_grad()
        loss = dynamo_models.loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.save(os.path.join(folder, "torch_losses.npy"), np.array(losses))
    print(f"fine-tuned {case.name} in PyTorch: losses {np.array2string(np.array(losses), precision=7)}", flush=True)


def main():
    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}")
    for case in dynamo_models.cases():
        start = time.time()
        for opset in OPSETS:
            export(case, opset, out_dir)
        fine_tune(case, out_dir)
        print(f"{case.name}: {time.time() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
