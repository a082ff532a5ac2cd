"""Makes the files `make demo` fine-tunes: a small CNN trained briefly in PyTorch 1.13 and exported
to ONNX (BatchNorm and Dropout kept), plus bundled train/validation data for fine-tuning.

    /usr/bin/python3 examples/finetune/make_example.py   (or the test venv's python)

Writes examples/finetune/small_cnn.onnx, stripes_train.npz and stripes_val.npz (each with x, y),
and stripes_val_images.npy (8 validation images, to run the exported model on). The task: 12x12 images with a bright horizontal stripe whose row band is the
class (6 classes). The model is pre-trained on clean images; the bundled data adds noise and a
brightness shift, which fine-tuning adapts to.
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES, SIZE = 6, 12


class SmallCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.classifier = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(16 * 3 * 3, CLASSES))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def stripes(n, rng, noise, shift):
    y = rng.integers(0, CLASSES, size=n)
    x = rng.normal(shift, noise, size=(n, 1, SIZE, SIZE)).astype(np.float32)
    for i, k in enumerate(y):
        x[i, 0, 2 * k:2 * k + 2, :] += 1.0
    return x, y.astype(np.int64)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = SmallCnn()
    x, y = stripes(512, rng, noise=0.1, shift=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for start in range(0, len(x), 32):  # one short epoch: a model worth fine-tuning, not finished
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(x[start:start + 32])),
                                          torch.from_numpy(y[start:start + 32])).backward()
        opt.step()
    model.eval()
    torch.onnx.export(model, torch.from_numpy(x[:2]), os.path.join(HERE, "small_cnn.onnx"), opset_version=17,
                      input_names=["image"], output_names=["logits"], dynamic_axes={"image": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    x_train, y_train = stripes(256, rng, noise=0.5, shift=0.8)
    x_val, y_val = stripes(64, rng, noise=0.5, shift=0.8)
    np.savez(os.path.join(HERE, "stripes_train.npz"), x=x_train, y=y_train)
    np.savez(os.path.join(HERE, "stripes_val.npz"), x=x_val, y=y_val)
    np.save(os.path.join(HERE, "stripes_val_images.npy"), x_val[:8])  # for `kiln run` on the export
    with torch.no_grad():
        acc = (model(torch.from_numpy(x_val)).argmax(1).numpy() == y_val).mean()
    print(f"wrote small_cnn.onnx, stripes_train.npz and stripes_val.npz; validation accuracy before fine-tuning: {acc:.2f}")


if __name__ == "__main__":
    main()
