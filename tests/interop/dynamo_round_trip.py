"""Fine-tune round trip of a torch 2.15 (dynamo) export: kiln_round_trip fine-tunes the
model for 5 SGD-momentum steps on the batches dynamo_export.py wrote (data.npz) and exports it
back at the model's own opset. Checks:
  (names) kiln trains exactly the module's parameters, under PyTorch's names (named_parameters):
      no parameter tied to another or left out, none under an exporter's name, no constant of
      the exporter trained (DESIGN.md 8: the names stay PyTorch's, for safetensors);
  (a) the loss of every step matches PyTorch's own fine-tuning of the same module on the same
      data (torch_losses.npy; rtol from data.npz: 1e-4, 1e-3 for resnet18, mobilenet and the
      transformer, see dynamo_models.py);
  (b) the exported file keeps the source's default-domain opset and input/output names, passes
      onnx 1.23.2's checker (full_check) and runs in ONNX Runtime 1.31 with outputs matching
      kiln's eval-mode outputs at batch 3 (rtol 1e-4, atol 1e-4 of the output's scale).
The model is MODEL_DIR/finetune.onnx where dynamo_export.py wrote one (models with BatchNorm:
the export without the exporter's optimizer, see there), else MODEL_DIR/model.onnx.
No torch import: numpy, onnx and onnxruntime only.

Usage: dynamo_round_trip.py KILN_ROUND_TRIP MODEL_DIR TRAIN_DIR WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime

OUT_RTOL = 1e-4


def default_opset(proto):
    return {o.domain: o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")}.get("", 0)


def main():
    kiln_bin, model_dir, train_dir, work = sys.argv[1:5]
    name = os.path.basename(work)
    model = os.path.join(model_dir, "finetune.onnx")
    if not os.path.exists(model):
        model = os.path.join(model_dir, "model.onnx")
    print(f"{name}: fine-tuning {model}")
    os.makedirs(work, exist_ok=True)
    for stale in ("model.onnx", "kiln.npz"):
        if os.path.exists(os.path.join(work, stale)):
            os.remove(os.path.join(work, stale))
    data_path = os.path.join(train_dir, "data.npz")
    data = np.load(data_path)
    run = subprocess.run([kiln_bin, model, data_path, work], capture_output=True, text=True)
    print(run.stdout, end="")
    if run.returncode != 0:
        print(f"{name}: kiln_round_trip exited {run.returncode}: {run.stderr.strip()}")
        return 1
    kiln = np.load(os.path.join(work, "kiln.npz"))
    failures = []

    trained = [line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("trainable: ")]
    with open(os.path.join(train_dir, "param_names.txt")) as f:
        torch_names = f.read().split()
    missing = [n for n in torch_names if n not in trained]
    extra = [n for n in trained if n not in torch_names]
    print(f"{name}: (names) kiln trains {len(trained)} tensors, PyTorch's module has {len(torch_names)} parameters")
    if missing or extra:
        failures.append(f"{name}: kiln does not train PyTorch's parameters: not trained under PyTorch's name "
                        f"({len(missing)}): {' '.join(missing)}; trained under another name ({len(extra)}): "
                        f"{' '.join(extra)}")
    for line in run.stdout.splitlines():
        if line.startswith("non-finite gradient"):
            failures.append(f"{name}: {line}")
            break

    losses = np.load(os.path.join(train_dir, "torch_losses.npy"))
    rtol = float(data["loss_rtol"])
    loss_rel = float(np.max(np.abs(kiln["loss"] - losses) / np.abs(losses)))
    print(f"{name}: losses torch {np.array2string(losses, precision=7)}")
    print(f"{name}: losses kiln  {np.array2string(kiln['loss'], precision=7)}")
    print(f"{name}: (a) loss max rel diff {loss_rel:.2e} (rtol {rtol})")
    assert len(kiln["loss"]) == len(losses)
    if not np.allclose(kiln["loss"], losses, rtol=rtol, atol=0) or not np.all(np.isfinite(kiln["loss"])):
        failures.append(f"{name}: losses differ from PyTorch's by up to {loss_rel:.2e} relative (rtol {rtol})")

    source = onnx.load(model, load_external_data=False)
    exported_path = os.path.join(work, "model.onnx")
    proto = onnx.load(exported_path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.producer_name == "kiln", proto.producer_name
    assert default_opset(proto) == default_opset(source), (default_opset(proto), default_opset(source))
    inits = {t.name for t in proto.graph.initializer}
    assert [i.name for i in proto.graph.input if i.name not in inits] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param, "the batch dim stays symbolic"
    x_eval = data["x_eval"]
    session = onnxruntime.InferenceSession(exported_path, providers=["CPUExecutionProvider"])
    ort_out = session.run(None, {"input": x_eval})[0]
    kiln_out = kiln["out"]
    scale = float(np.max(np.abs(kiln_out)))
    diff = np.abs(ort_out - kiln_out)
    print(f"{name}: (b) opset {default_opset(proto)}, IR {proto.ir_version}, checker OK; ORT vs kiln at batch "
          f"{x_eval.shape[0]}: max abs diff {np.max(diff):.2e} ({np.max(diff) / scale:.2e} of the scale {scale:.3g})")
    if not np.allclose(ort_out, kiln_out, rtol=OUT_RTOL, atol=OUT_RTOL * scale):
        failures.append(f"{name}: ONNX Runtime's outputs of kiln's export differ from kiln's")
    for f in failures:
        print(f)
    if not failures:
        print(f"{name}: round trip OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
