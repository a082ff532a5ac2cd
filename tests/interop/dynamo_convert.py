"""Export to an older opset (train::export_onnx's opset, SaveOptions::opset) of torch 2.15
exports at opset 23:
  convert MODEL_DIR: the model (no Attention; the CNN) written at opset 17 keeps its inputs and
      outputs, declares opset 17 and the IR of opset 17's release (8), passes onnx's checker
      (full_check) and matches PyTorch's and ONNX Runtime's outputs of the source at batch 1
      and 3 in ONNX Runtime 1.31 (rtol 1e-4, atol 1e-5, compare.py's);
  refuse MODEL_DIR: a model with Attention must not go to opset 17: kiln exits non-zero with one
      line that names Attention, and writes no file.

Usage: dynamo_convert.py KILN_ROUND_TRIP convert|refuse MODEL_DIR WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime

from compare import check_references

TARGET = 17


def main():
    kiln_bin, mode, folder, work = sys.argv[1:5]
    name = os.path.basename(folder)
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, f"{name}_to{TARGET}.onnx")
    if os.path.exists(out):
        os.remove(out)
    run = subprocess.run([kiln_bin, "--opset", str(TARGET), os.path.join(folder, "model.onnx"), out],
                         capture_output=True, text=True)
    print(run.stdout, end="")
    err = run.stderr.strip()
    if mode == "refuse":
        print(f"{name} -> opset {TARGET}: exit {run.returncode}, stderr: {err}")
        assert run.returncode == 1, f"expected kiln to refuse, got exit {run.returncode}"
        assert len(err.splitlines()) == 1, "the error is one line"
        assert "Attention" in err, "the error names the op"
        assert str(TARGET) in err, "the error is the conversion's (names the target opset), not the import's"
        assert not os.path.exists(out), "no file is left behind"
        assert not [f for f in os.listdir(work) if f.startswith(f"{name}_to")], os.listdir(work)
        print(f"{name}: refused to go to opset {TARGET}, naming the op")
        return 0
    if run.returncode != 0:
        print(f"{name} -> opset {TARGET}: kiln exited {run.returncode}: {err}")
        return 1
    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    opsets = {o.domain: o.version for o in proto.opset_import}
    print(f"{name} -> opset {TARGET}: opset_import {opsets}, IR {proto.ir_version}, ops "
          f"{' '.join(sorted({n.op_type for n in proto.graph.node}))}")
    assert opsets.get("", opsets.get("ai.onnx")) == TARGET, opsets
    assert proto.ir_version == 8, proto.ir_version
    session = onnxruntime.InferenceSession(out, providers=["CPUExecutionProvider"])
    failures = []
    for batch in (1, 3):
        got = session.run(None, {"input": np.load(os.path.join(folder, f"input_b{batch}.npy"))})[0]
        failures += check_references(f"{name} at opset {TARGET} in ONNX Runtime, batch {batch}", got, folder, batch)
    for f in failures:
        print(f)
    if not failures:
        print(f"{name} at opset {TARGET}: ONNX Runtime matches PyTorch and ONNX Runtime on the source at batch 1 and 3")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
