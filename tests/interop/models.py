"""The PyTorch models the interop tests export: examples of common architectures."""
import torch
import torchvision


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.GELU(),
            torch.nn.Linear(32, 4), torch.nn.LogSoftmax(dim=-1))

    def forward(self, x):
        return self.net(x)


class SmallCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.AvgPool2d(2))
        self.head = torch.nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class TinyTransformer(torch.nn.Module):
    def __init__(self, vocab=50, dim=32):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        layer = torch.nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(dim, 3)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def cases():
    """(name, module, example input, export kwargs) for each exported model."""
    g = torch.Generator().manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None)
    return [
        ("mlp", Mlp(), torch.randn(2, 16, generator=g), {}),
        ("cnn", SmallCnn(), torch.randn(2, 1, 28, 28, generator=g), {}),
        ("resnet18", resnet, torch.randn(2, 3, 64, 64, generator=g), {}),
        ("resnet18_preserve", resnet, torch.randn(2, 3, 64, 64, generator=g),
         {"training": torch.onnx.TrainingMode.PRESERVE}),
        ("transformer", TinyTransformer(), torch.randint(0, 50, (2, 7), generator=g), {}),
    ]
