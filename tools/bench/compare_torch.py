"""kiln vs PyTorch training steps, in the same run on the same machine (issue 4, item 10).

For each case and thread count it runs `kiln_train_bench` and the same training step in torch
1.13, each in its own process (so each peak RSS is its own), interleaved, and prints the ratio
kiln / torch of the median step time and of the peak RSS.

Cases (the same models and data shapes on both sides, SGD with momentum 0.9):
  sine    the seed MLP, Linear(1,10)-ReLU-Linear(10,1), full batch of 100 (a step is an epoch)
  cnn     Conv-ReLU-MaxPool twice then Linear on 28x28 inputs, batch 32
  resnet  resnet18-sized (BasicBlocks [2,2,2,2], 11.2M parameters), 3x64x64 inputs, batch 8
  finetune_cnn, finetune_resnet18: fine-tuning an exported model (issue 5): torch trains the
          module (tests/interop/models.py SmallCnn at batch 32 on 1x28x28; torchvision resnet18
          at batch 8 on 3x64x64) and kiln trains the ONNX file torch exported from it with
          BatchNorm kept (TrainingMode.PRESERVE), as a GraphModule

Usage (repository root, test venv): .venv/bin/python tools/bench/compare_torch.py
    [--kiln build/kiln_train_bench] [--threads 1 2] [--json build/reports/compare_torch.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STEPS = {"sine": 100, "cnn": 30, "resnet": 8, "finetune_cnn": 30, "finetune_resnet18": 8}
# The fine-tuning cases: (input shape, classes).
FINETUNE = {"finetune_cnn": ((32, 1, 28, 28), 10), "finetune_resnet18": ((8, 3, 64, 64), 1000)}


def finetune_module(case):
    import torch
    import torchvision
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "interop"))
    import models
    torch.manual_seed(0)
    return models.SmallCnn() if case == "finetune_cnn" else torchvision.models.resnet18(weights=None)


def export_finetune_model(case, folder):
    """The ONNX file kiln fine-tunes: torch's export of the same module, BatchNorm kept."""
    import torch
    path = os.path.join(folder, case + ".onnx")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        shape, _ = FINETUNE[case]
        torch.onnx.export(finetune_module(case), torch.randn(*shape), path, opset_version=17,
                          input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "N"}},
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    return path


def torch_worker(case, steps):
    import resource

    import torch
    torch.manual_seed(0)
    nn = torch.nn
    if case == "sine":
        model = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 1))
        x = torch.rand(100, 1) * 5
        y = torch.sin(x)
        loss_fn, lr = nn.functional.mse_loss, 0.1
    elif case == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                              nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
        x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
        loss_fn, lr = nn.functional.cross_entropy, 0.01
    elif case in FINETUNE:
        model = finetune_module(case)
        shape, classes = FINETUNE[case]
        x, y = torch.randn(*shape), torch.randint(0, classes, (shape[0],))
        loss_fn, lr = nn.functional.cross_entropy, 0.01
    else:
        import torchvision
        model = torchvision.models.resnet18(num_classes=10)
        x, y = torch.randn(8, 3, 64, 64), torch.randint(0, 10, (8,))
        loss_fn, lr = nn.functional.cross_entropy, 0.01
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"case": case, "steps": steps, "step_ms": statistics.median(times), "peak_rss_mb": rss}))


def run_json(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), KILN_THREADS=str(threads))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", default="build/kiln_train_bench")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cases", nargs="+", default=list(STEPS))
    parser.add_argument("--json")
    parser.add_argument("--models", default="build/bench_models", help="where the fine-tuning models are exported")
    parser.add_argument("--torch-worker", nargs=2, metavar=("CASE", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        return torch_worker(args.torch_worker[0], int(args.torch_worker[1]))

    rows = []
    print(f"{'case':<8}{'threads':>8}{'kiln ms':>11}{'torch ms':>11}{'time ratio':>12}"
          f"{'kiln MB':>10}{'torch MB':>10}{'RSS ratio':>11}")
    for case in args.cases:
        for threads in args.threads:
            steps = str(STEPS[case])
            cmd = [args.kiln, case, steps]
            if case in FINETUNE:
                shape, classes = FINETUNE[case]
                cmd += [export_finetune_model(case, args.models), ",".join(map(str, shape)), str(classes)]
            k = run_json(cmd, threads)
            t = run_json([sys.executable, __file__, "--torch-worker", case, steps], threads)
            row = {"case": case, "threads": threads, "kiln_step_ms": k["step_ms"], "torch_step_ms": t["step_ms"],
                   "time_ratio": k["step_ms"] / t["step_ms"], "kiln_peak_rss_mb": k["peak_rss_mb"],
                   "torch_peak_rss_mb": t["peak_rss_mb"], "rss_ratio": k["peak_rss_mb"] / t["peak_rss_mb"]}
            rows.append(row)
            print(f"{case:<8}{threads:>8}{row['kiln_step_ms']:>11.3f}{row['torch_step_ms']:>11.3f}"
                  f"{row['time_ratio']:>12.2f}{row['kiln_peak_rss_mb']:>10.0f}{row['torch_peak_rss_mb']:>10.0f}"
                  f"{row['rss_ratio']:>11.2f}", flush=True)
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
