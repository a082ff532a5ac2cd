"""The models the torch 2.15 (dynamo exporter) interop tests export: models.py's MLP, CNN and
TransformerEncoder, torchvision's resnet18 and mobilenet_v3_small, and a LLaMA-style decoder
block (RMSNorm, causal scaled_dot_product_attention, SwiGLU MLP, residuals).

Each case also says how it fine-tunes: the learning rate, the loss tolerance against PyTorch,
and how to make inputs and targets (dynamo_export.py trains PyTorch, the test trains kiln).
"""
import torch
import torch.nn.functional as F
import torchvision

import models


class DecoderBlock(torch.nn.Module):
    """Pre-norm decoder block as in LLaMA: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim=32, heads=4, hidden=64):
        super().__init__()
        self.heads = heads
        self.attn_norm = torch.nn.RMSNorm(dim, eps=1e-5)
        self.q_proj = torch.nn.Linear(dim, dim, bias=False)
        self.k_proj = torch.nn.Linear(dim, dim, bias=False)
        self.v_proj = torch.nn.Linear(dim, dim, bias=False)
        self.o_proj = torch.nn.Linear(dim, dim, bias=False)
        self.mlp_norm = torch.nn.RMSNorm(dim, eps=1e-5)
        self.gate_proj = torch.nn.Linear(dim, hidden, bias=False)
        self.up_proj = torch.nn.Linear(dim, hidden, bias=False)
        self.down_proj = torch.nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        h = self.attn_norm(x)

        def split(y):  # (B, T, D) -> (B, H, T, D/H)
            return y.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)

        a = F.scaled_dot_product_attention(split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h)),
                                           is_causal=True)
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, d))
        h = self.mlp_norm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class TinyDecoder(torch.nn.Module):
    """Token embedding, one DecoderBlock, final RMSNorm, LM head: logits (B, T, vocab)."""

    def __init__(self, vocab=64, dim=32):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.block = DecoderBlock(dim)
        self.norm = torch.nn.RMSNorm(dim, eps=1e-5)
        self.head = torch.nn.Linear(dim, vocab, bias=False)

    def forward(self, tokens):
        return self.head(self.norm(self.block(self.embed(tokens))))


class Case:
    def __init__(self, name, module, make_input, classes, lr, loss_rtol):
        self.name, self.module, self.make_input, self.classes = name, module, make_input, classes
        self.lr, self.loss_rtol = lr, loss_rtol

    def example(self):
        return self.make_input(2, torch.Generator().manual_seed(0))

    def targets(self, batch, g):
        """Class targets of the fine-tuning loss: (B,) for classifiers, (B, T) for the decoder."""
        if self.name == "decoder":
            return torch.randint(0, self.classes, (batch, 7), generator=g)
        return torch.randint(0, self.classes, (batch,), generator=g)


def loss_fn(logits, targets):
    """Cross entropy; the decoder's (B, T, V) logits flatten to (B*T, V) (next-token loss)."""
    return F.cross_entropy(logits.flatten(0, -2), targets.flatten())


def cases():
    """The cases, made with torch.manual_seed(0) so the weights are the same on every run."""
    torch.manual_seed(0)
    image = lambda c, s: (lambda b, g: torch.randn(b, c, s, s, generator=g))  # noqa: E731
    # resnet18 and mobilenet at batch 4 amplify tiny differences (see round_trip.py's LR): lr 0.001.
    return [
        Case("mlp", models.Mlp(), lambda b, g: torch.randn(b, 16, generator=g), 4, 0.01, 1e-4),
        Case("cnn", models.SmallCnn(), image(1, 28), 10, 0.01, 1e-4),
        Case("resnet18", torchvision.models.resnet18(weights=None), image(3, 64), 1000, 0.001, 1e-3),
        Case("mobilenet_v3_small", torchvision.models.mobilenet_v3_small(weights=None), image(3, 64), 1000, 0.001,
             1e-3),
        Case("transformer", models.TinyTransformer(), lambda b, g: torch.randint(0, 50, (b, 7), generator=g), 3,
             0.01, 1e-3),
        Case("decoder", TinyDecoder(), lambda b, g: torch.randint(0, 64, (b, 7), generator=g), 64, 0.01, 1e-4),
    ]
