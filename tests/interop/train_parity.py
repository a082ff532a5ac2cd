"""PyTorch training parity (issue 4, item 9): kiln and torch 1.13 start from identical weights
and data and train the same way; the loss must match within rtol 1e-4 at every step, and every
parameter's gradient after the first backward within rtol 1e-4.

Usage: python train_parity.py KILN_TRAIN_PARITY CASE WORK_DIR
Cases: mlp_sgd, mlp_momentum (the seed's sine MLP, full batch, 100 epochs), cnn_sgd (SGD with
momentum 0.9 and weight decay), cnn_adam (Adam): a small CNN on deterministic synthetic 28x28
data, batch 32, 3 epochs.
"""
import os
import subprocess
import sys

import numpy as np
import torch

RTOL = 1e-4


def sine_data():
    np.random.seed(1)
    x = np.sort(5 * np.random.rand(100, 1), axis=0).astype(np.float32)
    return x, np.sin(x).astype(np.float32)


def digits_data(n=256):
    # Deterministic synthetic "digits": class k lights a k-dependent stripe pattern plus noise.
    rng = np.random.default_rng(7)
    y = rng.integers(0, 10, size=n)
    x = rng.normal(0, 0.3, size=(n, 1, 28, 28)).astype(np.float32)
    for i, k in enumerate(y):
        x[i, 0, 2 * k:2 * k + 4, :] += 1.0
        x[i, 0, :, 27 - 2 * k - 4:27 - 2 * k] += 0.5
    return x, y.astype(np.int64)


def make_case(name):
    torch.manual_seed(0)
    if name.startswith("mlp"):
        model = torch.nn.Sequential(torch.nn.Linear(1, 10), torch.nn.ReLU(), torch.nn.Linear(10, 1))
        momentum = 0.9 if name == "mlp_momentum" else 0.0
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
        x, y = sine_data()
        return model, opt, torch.nn.functional.mse_loss, x, y, 100, len(x)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(16 * 7 * 7, 10))
    if name == "cnn_sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = digits_data()
    return model, opt, torch.nn.functional.cross_entropy, x, y, 3, 32


def main():
    kiln_bin, name, work = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)
    model, opt, loss_fn, x, y, epochs, batch = make_case(name)
    arrays = {"param." + k: v.detach().numpy() for k, v in model.state_dict().items()}
    arrays.update(x=x, y=y)
    in_path, out_path = os.path.join(work, name + "_in.npz"), os.path.join(work, name + "_out.npz")
    np.savez(in_path, **arrays)
    subprocess.run([kiln_bin, name, in_path, out_path], check=True)
    kiln = np.load(out_path)

    losses, grads = [], None
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        for start in range(0, len(x) - batch + 1, batch):
            opt.zero_grad()
            loss = loss_fn(model(xt[start:start + batch]), yt[start:start + batch])
            loss.backward()
            if grads is None:
                grads = {k: p.grad.detach().numpy().copy() for k, p in model.named_parameters()}
            opt.step()
            losses.append(loss.item())

    failures = []
    kl = kiln["loss"]
    if len(kl) != len(losses):
        failures.append(f"kiln ran {len(kl)} steps, torch {len(losses)}")
    else:
        rel = np.abs(kl - np.array(losses)) / np.maximum(np.abs(losses), 1e-12)
        worst = int(np.argmax(rel))
        print(f"{name}: {len(losses)} steps, loss max rel diff {rel.max():.2e} at step {worst} "
              f"(kiln {kl[worst]:.8g}, torch {losses[worst]:.8g}); final loss kiln {kl[-1]:.6g} torch {losses[-1]:.6g}")
        if rel.max() > RTOL:
            failures.append(f"loss differs by {rel.max():.2e} (rtol {RTOL}) at step {worst}")
    for k, g in grads.items():
        kg = kiln["grad." + k]
        # rtol against the tensor's scale: entries that are ~0 in both compare absolutely.
        err = np.abs(kg - g).max() / max(np.abs(g).max(), 1e-12)
        print(f"  grad {k}: max diff / max |grad| = {err:.2e}")
        if err > RTOL:
            failures.append(f"gradient of {k} differs by {err:.2e} relative to its scale")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(f"{name}: PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
