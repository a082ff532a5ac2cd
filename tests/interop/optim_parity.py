"""PyTorch parity of kiln::optim: runs every optimizer, LR scheduler and gradient-clipping case
below in kiln (kiln_optim_trajectories) and in torch 1.13 on the same tiny problem, and checks
that the parameter trajectories agree (float32, rtol 1e-5) and the lrs agree (rtol 1e-12).

The gradient of parameter w at step k is a_w * (w - t_w) + noise_w[k], computed from the current
parameters with the same float32 elementwise ops in both. Cases with resume_at continue in kiln
from a checkpoint; torch runs straight through.

Usage: optim_parity.py KILN_OPTIM_TRAJECTORIES [WORK_DIR]
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

STEPS = 12
RTOL, ATOL = 1e-5, 1e-6
SHAPES = {"w0": (3, 4), "w1": (5,), "w2": (2,)}
NAMES = ["w0", "w1", "w2"]


def case(name, optimizer, options, groups=None, **extra):
    c = {"name": name, "optimizer": optimizer, "options": options, "steps": STEPS, "param_names": NAMES,
         "groups": groups or [{"params": NAMES}]}
    c.update(extra)
    return c


def cases():
    two_groups = [{"params": ["w0"]}, {"params": ["w1", "w2"], "options": {"lr": 0.02}}]
    c = [
        case("sgd", "SGD", {"lr": 0.1}),
        case("sgd_momentum", "SGD", {"lr": 0.1, "momentum": 0.9}),
        case("sgd_dampening", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
        case("sgd_nesterov", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        case("sgd_weight_decay_maximize", "SGD", {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1, "maximize": True}),
        case("sgd_groups", "SGD", {"lr": 0.1, "momentum": 0.9}, two_groups),
        case("sgd_frozen", "SGD", {"lr": 0.1, "momentum": 0.9}, frozen=["w1"]),
        case("adam", "Adam", {"lr": 0.01}),
        case("adam_weight_decay", "Adam", {"lr": 0.02, "weight_decay": 0.05, "betas": [0.8, 0.95], "eps": 1e-6}),
        case("adam_amsgrad", "Adam", {"lr": 0.05, "amsgrad": True}),
        case("adam_maximize", "Adam", {"lr": 0.01, "maximize": True, "amsgrad": True}),
        case("adam_groups", "Adam", {"lr": 0.01}, [{"params": ["w0", "w2"]}, {"params": ["w1"], "options": {"lr": 0.1, "amsgrad": True}}]),
        case("adamw", "AdamW", {"lr": 0.01}),
        case("adamw_amsgrad", "AdamW", {"lr": 0.03, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
        case("steplr", "SGD", {"lr": 0.1, "momentum": 0.9}, two_groups, scheduler={"type": "StepLR", "step_size": 3, "gamma": 0.5}),
        case("multisteplr", "Adam", {"lr": 0.05}, scheduler={"type": "MultiStepLR", "milestones": [2, 5, 5, 9], "gamma": 0.3}),
        case("exponentiallr", "SGD", {"lr": 0.1}, two_groups, scheduler={"type": "ExponentialLR", "gamma": 0.9}),
        case("cosine", "SGD", {"lr": 0.1, "momentum": 0.9}, two_groups,
             scheduler={"type": "CosineAnnealingLR", "T_max": 4, "eta_min": 0.001}),
        case("linear_warmup", "AdamW", {"lr": 0.05}, two_groups,
             scheduler={"type": "LinearLR", "start_factor": 0.1, "end_factor": 1.0, "total_iters": 5}),
        case("plateau", "SGD", {"lr": 0.1, "momentum": 0.9}, two_groups,
             scheduler={"type": "ReduceLROnPlateau", "mode": "min", "factor": 0.5, "patience": 1, "threshold": 0.01,
                        "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.004}),
        case("plateau_max_abs", "Adam", {"lr": 0.05},
             scheduler={"type": "ReduceLROnPlateau", "mode": "max", "factor": 0.2, "patience": 0, "threshold": 0.05,
                        "threshold_mode": "abs"}),
        case("clip_norm", "SGD", {"lr": 0.1, "momentum": 0.9}, clip={"type": "norm", "max_norm": 1.0, "norm_type": 2.0}),
        case("clip_norm_inf", "Adam", {"lr": 0.05}, clip={"type": "norm", "max_norm": 0.5, "norm_type": "inf"}),
        case("clip_norm_3", "SGD", {"lr": 0.1}, clip={"type": "norm", "max_norm": 0.8, "norm_type": 3.0}),
        case("clip_value", "SGD", {"lr": 0.1, "momentum": 0.9}, clip={"type": "value", "clip_value": 0.3}),
        case("resume_sgd", "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, two_groups, resume_at=5,
             scheduler={"type": "CosineAnnealingLR", "T_max": 6}),
        case("resume_adam", "Adam", {"lr": 0.05, "amsgrad": True}, two_groups, resume_at=4,
             scheduler={"type": "LinearLR", "start_factor": 0.25, "total_iters": 6}),
        case("resume_plateau", "AdamW", {"lr": 0.05}, resume_at=6,
             scheduler={"type": "ReduceLROnPlateau", "factor": 0.5, "patience": 1}),
    ]
    return c


def inputs():
    rng = np.random.default_rng(1234)
    arrays = {}
    for n, shape in SHAPES.items():
        arrays[n] = rng.standard_normal(shape).astype(np.float32)
        arrays["a_" + n] = rng.uniform(0.2, 2.0, shape).astype(np.float32)
        arrays["t_" + n] = rng.standard_normal(shape).astype(np.float32)
        arrays["noise_" + n] = (0.5 * rng.standard_normal((STEPS,) + shape)).astype(np.float32)
    # The plateau metric: falls, stalls and rises, so patience, threshold and cooldown all matter.
    arrays["metrics"] = np.array([1.0, 0.8, 0.795, 0.79, 0.7, 0.71, 0.72, 0.5, 0.5, 0.49, 0.6, 0.7], dtype=np.float64)
    return arrays


def torch_options(options):
    o = dict(options)
    if "betas" in o:
        o["betas"] = tuple(o["betas"])
    return o


def run_torch(c, arrays):
    params = {}
    for n in c["param_names"]:
        params[n] = torch.tensor(arrays[n].copy(), requires_grad=n not in c.get("frozen", []))
    groups = []
    for g in c["groups"]:
        group = {"params": [params[n] for n in g["params"]]}
        group.update(torch_options(g.get("options", {})))
        groups.append(group)
    opt = getattr(torch.optim, c["optimizer"])(groups, **torch_options(c["options"]))
    sched, plateau = None, None
    s = c.get("scheduler")
    if s:
        kwargs = {k: v for k, v in s.items() if k != "type"}
        cls = getattr(torch.optim.lr_scheduler, s["type"])
        if s["type"] == "ReduceLROnPlateau":
            plateau = cls(opt, **kwargs)
        else:
            sched = cls(opt, **kwargs)
    consts = {k: torch.tensor(v) for k, v in arrays.items() if k != "metrics"}
    traj = {n: [params[n].detach().clone().numpy()] for n in c["param_names"]}
    lrs = [[g["lr"] for g in opt.param_groups]]
    for k in range(c["steps"]):
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for n in c["param_names"]:
                if n in c.get("frozen", []):
                    continue
                p = params[n]
                p.grad = consts["a_" + n] * (p.detach() - consts["t_" + n]) + consts["noise_" + n][k]
        clip = c.get("clip")
        if clip:
            all_params = [p for g in opt.param_groups for p in g["params"]]
            if clip["type"] == "norm":
                norm_type = math.inf if clip["norm_type"] == "inf" else clip["norm_type"]
                torch.nn.utils.clip_grad_norm_(all_params, clip["max_norm"], norm_type)
            else:
                torch.nn.utils.clip_grad_value_(all_params, clip["clip_value"])
        opt.step()
        if sched:
            sched.step()
        if plateau:
            plateau.step(float(arrays["metrics"][k]))
        for n in c["param_names"]:
            traj[n].append(params[n].detach().clone().numpy())
        lrs.append([g["lr"] for g in opt.param_groups])
    out = {f'{c["name"]}.{n}': np.stack(v) for n, v in traj.items()}
    out[f'{c["name"]}.lr'] = np.array(lrs, dtype=np.float64)
    return out


def main():
    binary = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        work = work or tmp
        os.makedirs(work, exist_ok=True)
        all_cases = cases()
        arrays = inputs()
        config, inputs_path, out_path = (os.path.join(work, f) for f in ("optim_cases.json", "optim_inputs.npz", "optim_kiln.npz"))
        with open(config, "w") as f:
            json.dump({"cases": all_cases}, f, indent=1)
        np.savez(inputs_path, **arrays)
        run = subprocess.run([binary, config, inputs_path, out_path], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"kiln_optim_trajectories exited {run.returncode}: {run.stderr.strip()}")
            return 1
        got = dict(np.load(out_path))
    failures, checked = [], 0
    for c in all_cases:
        want = run_torch(c, arrays)
        for key, w in want.items():
            if key not in got:
                failures.append(f"{key}: missing from kiln's output")
                continue
            g = got[key]
            if g.shape != w.shape:
                failures.append(f"{key}: shape {g.shape}, torch {w.shape}")
                continue
            rtol, atol = (1e-12, 0.0) if key.endswith(".lr") else (RTOL, ATOL)
            bad = ~np.isclose(g, w, rtol=rtol, atol=atol)
            checked += 1
            if bad.any():
                i = np.unravel_index(np.argmax(np.abs(g - w) - rtol * np.abs(w)), g.shape)
                failures.append(f"{key}: {bad.sum()} of {g.size} values differ; first bad step "
                                f"{np.argwhere(bad)[0][0]}; worst at {i}: kiln {g[i]!r} vs torch {w[i]!r}")
    for f in failures:
        print("FAIL", f)
    print(f"{len(all_cases)} cases, {checked} trajectories compared, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
