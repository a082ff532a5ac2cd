"""Frontend models exported by tracing (issue 5, item 5): `kiln_round_trip --traced` exports an
MLP (Dropout, GELU) and a CNN (BatchNorm with trained running statistics, pools, Flatten,
Dropout) built with kiln's nn modules; each file must pass onnx.checker (full check), keep the
symbolic batch, and run in ONNX Runtime at batch 2 and 5 with outputs matching kiln's eval-mode
outputs within rtol 1e-4 (atol 1e-4 of the output's largest magnitude for entries near zero).

Usage: python traced_export.py KILN_ROUND_TRIP WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime


def main():
    kiln_bin, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    subprocess.run([kiln_bin, "--traced", work], check=True)
    for name in ("mlp", "cnn"):
        path = os.path.join(work, f"traced_{name}.onnx")
        proto = onnx.load(path)
        onnx.checker.check_model(proto, full_check=True)
        assert proto.producer_name == "kiln"
        assert proto.opset_import[0].version == 17, proto.opset_import
        assert proto.graph.input[0].name == "input"
        assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        ops = [n.op_type for n in proto.graph.node]
        assert "Dropout" not in ops and "Reshape" not in ops, ops
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        arrays = np.load(os.path.join(work, f"traced_{name}.npz"))
        for batch in (2, 5):
            x, kiln_y = arrays[f"x_b{batch}"], arrays[f"y_b{batch}"]
            ort_y = session.run(None, {"input": x})[0]
            scale = float(np.max(np.abs(kiln_y)))
            diff = np.abs(ort_y - kiln_y)
            print(f"traced {name} batch {batch}: ops {len(ops)}, ORT vs kiln max abs diff {np.max(diff):.2e} "
                  f"(output scale {scale:.3g}), elementwise max rel {np.max(diff / np.abs(kiln_y)):.2e}")
            np.testing.assert_allclose(ort_y, kiln_y, rtol=1e-4, atol=1e-4 * scale)
    print("traced export OK")


if __name__ == "__main__":
    main()
