"""Fine-tune round trip with PyTorch (issue 5, item 6).

torch 1.13 exports a model to ONNX (opset 17, dynamic batch); kiln (kiln_round_trip, a C++
driver over load_module, optim::SGD and cross entropy) fine-tunes it for 5 steps with SGD and
momentum 0.9 (lr 0.01; 0.001 for resnet18, see LR), and PyTorch trains the same module from the same weights on the same batches.
Then:
  (a) the loss of every step matches PyTorch's: rtol 1e-4 for the MLP and the CNN, 1e-3 for
      resnet18 and the transformer;
  (b) kiln's exported ONNX (inference form) passes onnx.checker and runs in ONNX Runtime with
      outputs matching kiln's eval-mode outputs (rtol 1e-4, at batch 3, not the training batch);
  (c) kiln's safetensors file loads into a fresh PyTorch module with
      load_state_dict(safetensors.torch.load_file(...), strict=True), whose outputs match
      kiln's (as in (b)).

Dropout: PyTorch's masks cannot be reproduced, so both sides train with Dropout inactive:
PyTorch runs model.train() and then .eval() on every Dropout module; kiln runs the GraphModule
in train() with set_dropout_enabled(false). BatchNorm trains on batch statistics on both sides.

Usage: python round_trip.py KILN_ROUND_TRIP CASE WORK_DIR   (CASE: mlp, cnn, resnet18, transformer)
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import safetensors.torch
import torch
import torchvision

import models

STEPS = 5
# resnet18 at batch 4 amplifies tiny differences: in PyTorch alone, weights perturbed by 1e-6
# (relative) change the step-4 loss by 2e-2 at lr 0.01 but 2.5e-4 at lr 0.001 (measured), so
# resnet18 fine-tunes at lr 0.001, where a loss comparison at rtol 1e-3 means something.
LR = {"mlp": 0.01, "cnn": 0.01, "resnet18": 0.001, "transformer": 0.01}
MOMENTUM = 0.9
LOSS_RTOL = {"mlp": 1e-4, "cnn": 1e-4, "resnet18": 1e-3, "transformer": 1e-3}
OUT_RTOL = 1e-4


class CnnWithDropout(models.SmallCnn):
    """models.SmallCnn (Conv, BatchNorm, pools) with Dropout before the head."""

    def __init__(self):
        super().__init__()
        self.drop = torch.nn.Dropout(0.25)

    def forward(self, x):
        return self.head(self.drop(torch.flatten(self.features(x), 1)))


def make_model(case):
    """(module, export kwargs, input maker(batch, generator), classes)."""
    if case == "mlp":
        return models.Mlp(), {}, lambda b, g: torch.randn(b, 16, generator=g), 4
    if case == "cnn":
        return (CnnWithDropout(), {"training": torch.onnx.TrainingMode.PRESERVE},
                lambda b, g: torch.randn(b, 1, 28, 28, generator=g), 10)
    if case == "resnet18":
        return (torchvision.models.resnet18(weights=None), {"training": torch.onnx.TrainingMode.PRESERVE},
                lambda b, g: torch.randn(b, 3, 64, 64, generator=g), 1000)
    if case == "transformer":
        return models.TinyTransformer(), {}, lambda b, g: torch.randint(0, 50, (b, 7), generator=g), 3
    raise SystemExit(f"unknown case {case}")


def agreement(a, b, scale):
    """Max |a - b| relative to the output's scale, and the worst elementwise relative diff."""
    diff = np.abs(a - b)
    return (f"max abs diff {np.max(diff):.2e} = {np.max(diff) / scale:.2e} of the output scale {scale:.3g}, "
            f"elementwise max rel {np.max(diff / np.maximum(np.abs(b), 1e-30)):.2e}")


def main():
    kiln_bin, case, work = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, kwargs, make_input, classes = make_model(case)
    g = torch.Generator().manual_seed(1)
    batch = 4
    xs = [make_input(batch, g) for _ in range(STEPS)]
    ys = [torch.randint(0, classes, (batch,), generator=g) for _ in range(STEPS)]
    x_eval = make_input(3, g)

    # Export as export_models.py does: eval mode, dynamic batch, opset 17.
    model.eval()
    src = os.path.join(work, "torch.onnx")
    torch.onnx.export(model, (xs[0],), src, opset_version=17, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      do_constant_folding=kwargs.get("training") is None, **kwargs)
    data = {f"x{k}": x.numpy() for k, x in enumerate(xs)}
    data.update({f"y{k}": y.numpy() for k, y in enumerate(ys)})
    data.update(lr=np.array(LR[case]), momentum=np.array(MOMENTUM), x_eval=x_eval.numpy())
    data_path = os.path.join(work, "data.npz")
    np.savez(data_path, **data)
    for name in ("model.onnx", "model.safetensors", "kiln.npz"):
        if os.path.exists(os.path.join(work, name)):
            os.remove(os.path.join(work, name))
    subprocess.run([kiln_bin, src, data_path, work], check=True)
    kiln = np.load(os.path.join(work, "kiln.npz"))

    # PyTorch trains the same module from the same weights, Dropout inactive.
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    opt = torch.optim.SGD(model.parameters(), lr=LR[case], momentum=MOMENTUM)
    losses = []
    for x, y in zip(xs, ys):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    losses = np.array(losses)
    loss_rel = float(np.max(np.abs(kiln["loss"] - losses) / np.abs(losses)))
    print(f"{case}: losses torch {np.array2string(losses, precision=7)}")
    print(f"{case}: losses kiln  {np.array2string(kiln['loss'], precision=7)}")
    print(f"{case}: (a) loss max rel diff {loss_rel:.2e} (rtol {LOSS_RTOL[case]})")
    assert len(kiln["loss"]) == STEPS
    np.testing.assert_allclose(kiln["loss"], losses, rtol=LOSS_RTOL[case], atol=0)
    assert losses[-1] != losses[0]

    kiln_out = kiln["out"]
    scale = float(np.max(np.abs(kiln_out)))
    # Elementwise rtol 1e-4; entries near zero (logits cross 0) get atol 1e-4 of the output's scale.
    atol = OUT_RTOL * scale

    # (b) kiln's ONNX: checker, ONNX Runtime at batch 3.
    exported = os.path.join(work, "model.onnx")
    proto = onnx.load(exported)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.producer_name == "kiln"
    assert [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}] == ["input"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert not any(n.op_type == "Dropout" for n in proto.graph.node), "inference form has no Dropout"
    session = onnxruntime.InferenceSession(exported, providers=["CPUExecutionProvider"])
    ort_out = session.run(None, {"input": x_eval.numpy()})[0]
    print(f"{case}: (b) ORT vs kiln: {agreement(ort_out, kiln_out, scale)}")
    np.testing.assert_allclose(ort_out, kiln_out, rtol=OUT_RTOL, atol=atol)

    # (c) safetensors into a fresh PyTorch module, strict.
    torch.manual_seed(123)  # other initial weights: everything must come from the file
    fresh = make_model(case)[0]
    state = safetensors.torch.load_file(os.path.join(work, "model.safetensors"))
    fresh.load_state_dict(state, strict=True)
    fresh.eval()
    with torch.no_grad():
        fresh_out = fresh(x_eval).numpy()
        model.eval()
        torch_trained_out = model(x_eval).numpy()
    print(f"{case}: (c) safetensors ({len(state)} tensors) in PyTorch vs kiln: {agreement(fresh_out, kiln_out, scale)}")
    np.testing.assert_allclose(fresh_out, kiln_out, rtol=OUT_RTOL, atol=atol)
    print(f"{case}: (info) PyTorch-trained vs kiln-trained outputs: {agreement(torch_trained_out, kiln_out, scale)}")
    print(f"{case}: round trip OK")


if __name__ == "__main__":
    main()
