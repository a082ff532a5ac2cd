#!/usr/bin/env python3
"""Writes ONNX's backend node tests, as the installed onnx package defines them, into a folder.

onnx 1.23 no longer ships the node-test data (onnx/backend/test/data/node) in its wheel or its
source package; the cases live on as code in onnx.backend.test.case.node, whose expected outputs
come from ONNX's reference implementation and numpy. This script writes them the way the older
suites are laid out, so kiln_onnx_node_tests runs them like libonnx-testdata:

    OUT/<test name>/model.onnx
    OUT/<test name>/test_data_set_<N>/input_<K>.pb, output_<K>.pb

Tensors are TensorProtos named after the graph's inputs/outputs; sequences, optionals and maps
are SequenceProto/OptionalProto/MapProto, as ONNX's own data is.

    python generate_node_tests.py --output DIR [--stamp FILE] [--filter TEXT]

The folder is written under DIR.tmp and renamed to DIR at the end, so an interrupted run leaves
no half suite; --stamp FILE is written last (the build's OUTPUT for the custom command).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys


def serialize(value, value_info) -> bytes:
    """One input or output value as the protobuf ONNX's test data uses for its type."""
    from onnx import TensorProto, numpy_helper

    kind = value_info.type.WhichOneof("value")
    name = value_info.name
    if kind == "sequence_type":
        return numpy_helper.from_list(value, name).SerializeToString()
    if kind == "optional_type":
        return numpy_helper.from_optional(value, name).SerializeToString()
    if kind == "map_type":
        return numpy_helper.from_dict(value, name).SerializeToString()
    if kind != "tensor_type":
        raise ValueError(f"{name}: value type '{kind}' has no test-data encoding")
    if isinstance(value, TensorProto):
        return value.SerializeToString()
    return numpy_helper.from_array(value, name).SerializeToString()


def write_case(case, root: str) -> None:
    folder = os.path.join(root, case.name)
    if os.path.exists(folder):
        raise ValueError(f"{case.name}: two node test cases have this name")
    os.makedirs(folder)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    graph = case.model.graph
    for n, (inputs, outputs) in enumerate(case.data_sets):
        data_set = os.path.join(folder, f"test_data_set_{n}")
        os.makedirs(data_set)
        for prefix, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            if len(values) > len(infos):
                raise ValueError(f"{case.name}: {len(values)} {prefix} values for {len(infos)} graph {prefix}s")
            for k, value in enumerate(values):
                with open(os.path.join(data_set, f"{prefix}_{k}.pb"), "wb") as f:
                    f.write(serialize(value, infos[k]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="folder to (re)create with one folder per test")
    parser.add_argument("--stamp", help="file written last, holding the onnx version and the test count")
    parser.add_argument("--filter", default="", help="only tests whose name contains this text")
    args = parser.parse_args()

    import numpy as np
    import onnx
    from onnx.backend.test.case import node as node_cases

    # Some cases draw random inputs without a seed of their own; a fixed seed makes the
    # generated suite the same on every machine and every build.
    np.random.seed(0)
    cases = [c for c in node_cases.collect_testcases() if c.kind == "node" and args.filter in c.name]

    out = os.path.abspath(args.output)
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for case in cases:
        write_case(case, tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write(f"onnx {onnx.__version__}: {len(cases)} node tests in {out}\n")
    print(f"generate_node_tests: onnx {onnx.__version__}, {len(cases)} node tests in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
