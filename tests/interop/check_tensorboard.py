"""TensorBoard interop (issue 6).

1. kiln_tensorboard_interop writes event files; the real tensorboard package reads them with
   EventAccumulator (size_guidance 0: nothing sampled away) and every value must come back:
   scalars (float32, NaN, infinity, an odd tag), add_scalars runs, histograms (against numpy's
   histogram over TensorBoard's default edges, trimmed the way torch's make_histogram trims),
   PNG images (decoded with PIL), text, the graph, hparams (the plugin's protos).
2. kiln's .proto files use TensorBoard's field numbers and types (protoc descriptor vs the
   tensorboard package's generated descriptors).
3. torch.utils.tensorboard.SummaryWriter files (simple_value and new_style tensor scalars) are
   drawn by `kiln plot`; a corrupted file is reported by name and its readable records are used;
   tags that match nothing fail with one line.

usage: check_tensorboard.py KILN_TB_WRITER KILN OUTDIR PROTO_DIR
"""
import io
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

writer_exe, kiln, out, proto_dir = sys.argv[1:5]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def load(path):
    acc = ea.EventAccumulator(path, size_guidance={k: 0 for k in ea.DEFAULT_SIZE_GUIDANCE})
    acc.Reload()
    return acc


def f32(x):
    return float(np.float32(x))


shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
subprocess.run([writer_exe, out], check=True)
acc = load(os.path.join(out, "kiln"))
tags = acc.Tags()

# --- scalars
loss = acc.Scalars("loss/train")
check([e.step for e in loss] == [0, 1, 2, 3, 4, 5, 6], f"loss steps {[e.step for e in loss]}")
check([e.value for e in loss[:5]] == [f32(1.0 / (i + 1)) for i in range(5)], f"loss values {[e.value for e in loss]}")
check(math.isnan(loss[5].value), "NaN scalar comes back as NaN")
check(loss[6].value == math.inf, "inf scalar comes back as inf")
odd = acc.Scalars("odd tag/ü (x) #1 %s")
check(len(odd) == 1 and odd[0].value == f32(0.1) and odd[0].step == 3, f"odd tag {odd}")
for key, value in (("a", 1.5), ("b", -2.5)):
    sub = load(os.path.join(out, "kiln", "pair_" + key)).Scalars("pair")
    check(len(sub) == 1 and sub[0].value == value and sub[0].step == 2, f"add_scalars run {key}: {sub}")

# --- histograms: numpy over TensorBoard's default edges, trimmed like torch's make_histogram
v, pos = 1e-12, []
while v < 1e20:
    pos.append(v)
    v *= 1.1
edges = [-x for x in pos[::-1]] + [0] + pos


def expected_histogram(values):
    counts, limits = np.histogram(values, bins=edges)
    nz = np.nonzero(counts)[0]
    start, end = int(nz[0]), int(nz[-1]) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    return list(limits[start:end + 1]), [float(c) for c in counts]


for tag, values in (("hist/small", np.array([-2.0, 0.0, 0.5, 0.5, 1.0, 3.0])),
                    ("hist/ramp", np.arange(1000, dtype=np.float32) * np.float32(0.01) - np.float32(5.0))):
    h = acc.Histograms(tag)
    check(len(h) == 1, f"{tag}: {len(h)} histogram events")
    hv = h[0].histogram_value
    limits, counts = expected_histogram(values)
    check(list(hv.bucket_limit) == limits, f"{tag} bucket_limit differs")
    check(list(hv.bucket) == counts, f"{tag} bucket counts differ: {list(hv.bucket)[:8]} vs {counts[:8]}")
    check(hv.min == float(values.min()) and hv.max == float(values.max()), f"{tag} min/max {hv.min} {hv.max}")
    check(hv.num == len(values), f"{tag} num {hv.num}")
    values64 = values.astype(np.float64)
    check(math.isclose(hv.sum, values64.sum(), rel_tol=1e-9, abs_tol=1e-9), f"{tag} sum {hv.sum}")
    check(math.isclose(hv.sum_squares, float(values64 @ values64), rel_tol=1e-9), f"{tag} sum_squares {hv.sum_squares}")

# --- images
from PIL import Image  # Pillow ships with the venv's Debian site packages

rgb = acc.Images("img/rgb")
check(len(rgb) == 1 and rgb[0].width == 2 and rgb[0].height == 2 and rgb[0].step == 1, f"img/rgb {rgb}")
pixels = np.array(Image.open(io.BytesIO(rgb[0].encoded_image_string)))
expected = np.array([[[0, 0, 255], [255, 63, 255]], [[127, 191, 0], [255, 25, 0]]], dtype=np.uint8)
check(pixels.shape == (2, 2, 3) and (pixels == expected).all(), f"img/rgb pixels {pixels.tolist()}")
gray = acc.Images("img/gray")
pixels = np.array(Image.open(io.BytesIO(gray[0].encoded_image_string)))
check(pixels.tolist() == [[7, 128, 255]], f"img/gray pixels {pixels.tolist()}")

# --- text
text = acc.Tensors("notes")
check(len(text) == 1 and text[0].step == 4, f"text events {text}")
check(tensor_util.make_ndarray(text[0].tensor_proto).tolist() == [b"**kiln** writes *text*"], "text content")
check(acc.SummaryMetadata("notes").plugin_data.plugin_name == "text", "text plugin name")

# --- graph
graph = acc.Graph()
nodes = {n.name: n for n in graph.node}
check(set(nodes) == {"x", "fc/weight", "fc/bias", "layer1/0/fc/Gemm", "layer1/0/relu/Relu", "output/y"},
      f"graph nodes {sorted(nodes)}")
gemm = nodes["layer1/0/fc/Gemm"]
check(gemm.op == "Gemm" and list(gemm.input) == ["x", "fc/weight", "fc/bias"], f"Gemm node {gemm}")
check(gemm.attr["transB"].i == 1, "Gemm transB attribute")
shape = gemm.attr["_output_shapes"].list.shape[0]
check([d.size for d in shape.dim] == [-1, 3] and shape.dim[0].name == "N", f"Gemm output shape {shape}")
check(nodes["layer1/0/relu/Relu"].op == "Relu" and list(nodes["layer1/0/relu/Relu"].input) == ["layer1/0/fc/Gemm"],
      "Relu node")
check(nodes["x"].op == "Placeholder" and nodes["fc/weight"].op == "Const", "input and initializer nodes")

# --- hparams
hp = load(os.path.join(out, "kiln", "hp"))
content = hp.PluginTagToContent("hparams")
check(set(content) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"},
      f"hparams tags {sorted(content)}")
exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
check({(i.name, i.type) for i in exp.hparam_infos} == {("lr", 3), ("optimizer", 1), ("nesterov", 2)},
      f"experiment hparams {exp.hparam_infos}")
check([m.name.tag for m in exp.metric_infos] == ["hparam/loss"], "experiment metrics")
start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
check(start.hparams["lr"].number_value == 0.1 and start.hparams["optimizer"].string_value == "sgd"
      and start.hparams["nesterov"].bool_value is False, f"session start {start}")
end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"]).session_end_info
check(end.status == 1, "session end status SUCCESS")
metric = hp.Scalars("hparam/loss")
check(len(metric) == 1 and metric[0].value == 0.25, f"hparam metric {metric}")
# TensorBoard's hparams backend parses the run's experiment from the metadata it keeps.
from tensorboard.plugins.hparams import metadata as hp_metadata
check(hp_metadata.parse_experiment_plugin_data(content["_hparams_/experiment"]).metric_infos[0].name.tag == "hparam/loss",
      "hparams metadata parser")

# --- proto field numbers: kiln's .proto files against the tensorboard package's descriptors
from google.protobuf import descriptor_pb2
from tensorboard.compat.proto import (attr_value_pb2, event_pb2, graph_pb2, node_def_pb2, resource_handle_pb2,
                                      summary_pb2, tensor_pb2, tensor_shape_pb2, versions_pb2, histogram_pb2)
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.text import plugin_data_pb2 as text_pb2

with tempfile.TemporaryDirectory() as tmp:
    desc = os.path.join(tmp, "kiln.desc")
    protos = sorted(p for p in os.listdir(proto_dir) if p.endswith(".proto"))
    subprocess.run(["protoc", "-I", ".", "-I", "/usr/include", "--descriptor_set_out", desc] + protos,
                   check=True, cwd=proto_dir)
    fds = descriptor_pb2.FileDescriptorSet.FromString(open(desc, "rb").read())
mine = {}


def walk(prefix, messages):
    for m in messages:
        mine[prefix + m.name] = {f.name: (f.number, f.type) for f in m.field}
        walk(prefix + m.name + ".", m.nested_type)


for f in fds.file:
    walk("", f.message_type)
theirs = {}


def walk2(prefix, by_name):
    for m in by_name.values():
        theirs[prefix + m.name] = {f.name: (f.number, f.type) for f in m.fields}
        walk2(prefix + m.name + ".", m.nested_types_by_name)


for mod in (event_pb2, summary_pb2, graph_pb2, tensor_pb2, attr_value_pb2, node_def_pb2, versions_pb2,
            resource_handle_pb2, tensor_shape_pb2, histogram_pb2, api_pb2, plugin_data_pb2, text_pb2):
    walk2("", mod.DESCRIPTOR.message_types_by_name)
for name, fields in mine.items():
    check(name in theirs, f"proto message {name} is not TensorBoard's")
    for field, numtype in fields.items():
        check(theirs.get(name, {}).get(field) == numtype,
              f"proto {name}.{field} = {numtype}, TensorBoard has {theirs.get(name, {}).get(field)}")
check(len(mine) >= 30, f"only {len(mine)} proto messages compared")

# --- kiln plot on PyTorch's files
from torch.utils.tensorboard import SummaryWriter

torch_dir = os.path.join(out, "torch")
with SummaryWriter(os.path.join(torch_dir, "run1")) as w:
    for step in range(6):
        w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("acc", step / 10, step, new_style=True)
    w.add_scalars("pair", {"a": 1.0, "b": 2.0}, 0)
    w.add_text("ignored", "not a scalar", 0)


def plot(*args):
    return subprocess.run([kiln, "plot", *args], capture_output=True, text=True)


svg = os.path.join(out, "torch.svg")
r = plot(torch_dir, "--tags", "loss", "acc", "-o", svg)
check(r.returncode == 0, f"kiln plot of torch files: rc {r.returncode}: {r.stderr}")
check("2 curves, 12 points" in r.stdout, f"kiln plot output: {r.stdout}")
check(r.stderr == "", f"kiln plot warned on torch files: {r.stderr}")
body = open(svg).read() if os.path.exists(svg) else ""
check("<svg" in body and "run1: loss" not in body and "loss" in body and "acc" in body, "plot SVG names the curves")
r = plot(torch_dir, "-o", os.path.join(out, "all.svg"))  # every scalar: loss, acc, and the two pair runs
check(r.returncode == 0 and "4 curves, 14 points" in r.stdout, f"kiln plot of every torch scalar: {r.stdout} {r.stderr}")

# --- kiln plot on a corrupted kiln file: named CRC error, readable records still drawn
bad_dir = os.path.join(out, "corrupted")
os.makedirs(bad_dir)
src = [f for f in os.listdir(os.path.join(out, "kiln")) if "tfevents" in f][0]
data = bytearray(open(os.path.join(out, "kiln", src), "rb").read())
offset, index = 0, 0
while index < 3:  # walk to record 3: the scalar at step 2
    (length,) = struct.unpack_from("<Q", data, offset)
    offset += 16 + length
    index += 1
(length,) = struct.unpack_from("<Q", data, offset)
data[offset + 12 + length - 1] ^= 0xFF
bad = os.path.join(bad_dir, src)
open(bad, "wb").write(bytes(data[: len(data) - 5]))  # and cut in the last record
r = plot(bad_dir, "--tags", "loss/train", "-o", os.path.join(out, "corrupted.svg"))
check(r.returncode == 0, f"kiln plot of a corrupted file: rc {r.returncode}: {r.stderr}")
check(f"{bad}: record 3 at byte {offset}: data CRC mismatch" in r.stderr, f"CRC error by name: {r.stderr}")
check("incomplete record" in r.stderr, f"truncated tail reported: {r.stderr}")
check("1 curves, 6 points" in r.stdout, f"readable records drawn: {r.stdout}")

r = plot(torch_dir, "--tags", "nope", "-o", os.path.join(out, "none.svg"))
check(r.returncode != 0 and "no scalar matches --tags nope" in r.stderr and r.stderr.count("\n") == 1,
      f"no matching tag: rc {r.returncode}: {r.stderr}")
check(not os.path.exists(os.path.join(out, "none.svg")), "no SVG written when nothing matches")

# --- kiln demo --logdir: each run's curves equal the losses in sine_demo.npz
demo_out, demo_logs = os.path.join(out, "demo"), os.path.join(out, "demo_runs")
subprocess.run([kiln, "demo", "--out", demo_out, "--epochs", "20", "--logdir", demo_logs, "--histogram-every", "5"],
               check=True, capture_output=True)
arrays = np.load(os.path.join(demo_out, "sine_demo.npz"))
for run in ("sgd", "momentum"):
    a = load(os.path.join(demo_logs, run))
    for tag, key in (("loss/train", "train_loss"), ("loss/val", "val_loss")):
        got = [e.value for e in a.Scalars(tag)]
        check(got == [f32(x) for x in arrays[f"{run}_{key}"]], f"demo {run} {tag} differs from sine_demo.npz")
        check([e.step for e in a.Scalars(tag)] == list(range(1, 21)), f"demo {run} {tag} steps")
    check([e.value for e in a.Scalars("lr")] == [f32(0.1)] * 20, f"demo {run} lr")
    norms = [e.value for e in a.Scalars("grad_norm")]
    check(len(norms) == 20 and all(n > 0 and math.isfinite(n) for n in norms), f"demo {run} grad_norm {norms[:3]}")
    check([e.step for e in a.Histograms("weights/0.weight")] == [5, 10, 15, 20], f"demo {run} weight histograms")
    check(len(a.Histograms("grads/2.bias")) == 4, f"demo {run} gradient histograms")
    check({n.name for n in a.Graph().node} >= {"x", "0/weight", "0/Gemm", "1/Relu", "2/Gemm", "output/y"},
          f"demo {run} graph")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        a.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info
    check(start.hparams["momentum"].number_value == (0.9 if run == "momentum" else 0.0), f"demo {run} hparams")
    check(a.Scalars("hparam/val_loss")[0].value == f32(arrays[f"{run}_val_loss"][-1]), f"demo {run} final metric")

# --- TensorBoard's own HParams backend (what the HParams tab asks for) lists the runs with
# their hparams and metrics.
from tensorboard import context as tb_context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2 as hp_api, backend_context, get_experiment, list_session_groups


def session_groups(logdir):
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    context = backend_context.Context(base_plugin.TBContext(logdir=logdir, multiplexer=mux, data_provider=provider))
    request_context = tb_context.RequestContext()
    experiment = get_experiment.Handler(request_context, context, "", hp_api.GetExperimentRequest()).run()
    request = hp_api.ListSessionGroupsRequest(start_index=0, slice_size=100, allowed_statuses=[0, 1, 2, 3])
    for info in experiment.hparam_infos:
        request.col_params.add(hparam=info.name)
    for info in experiment.metric_infos:
        request.col_params.add(metric=info.name)
    response = list_session_groups.Handler(request_context, context, "", request).run()
    return {g.name: ({k: getattr(v, v.WhichOneof("kind")) for k, v in g.hparams.items()},
                     {m.name.tag: m.value for m in g.metric_values}) for g in response.session_groups}


groups = session_groups(os.path.join(out, "kiln"))
check(groups == {"hp": ({"lr": 0.1, "optimizer": "sgd", "nesterov": False}, {"hparam/loss": 0.25})},
      f"HParams backend on kiln's run: {groups}")
groups = session_groups(demo_logs)
check(set(groups) == {"sgd", "momentum"}, f"HParams backend lists the demo runs: {sorted(groups)}")
for run, (hparams, metrics) in groups.items():
    check(hparams.get("momentum") == (0.9 if run == "momentum" else 0.0) and hparams.get("optimizer") == "sgd",
          f"HParams backend: {run} hparams {hparams}")
    check(metrics.get("hparam/val_loss") == f32(arrays[f"{run}_val_loss"][-1]), f"HParams backend: {run} metrics {metrics}")

print(f"{len(failures)} failed" if failures else "tensorboard interop: all checks passed")
sys.exit(1 if failures else 0)
