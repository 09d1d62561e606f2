"""Write tests/fixtures/torch_transformers.npz: PyTorch's values and gradients for module 13.

Run it with a Python that has torch 2.13 (the tests never import torch; CI only reads the .npz):

    PYTHONPATH=. /work/torchvenv/bin/python scripts/make_transformer_fixtures.py

Everything is float64 and small. Keys are `<case>/<what>`, arrays only (no pickle):

ln_*:   x, weight, bias (absent when not affine / no bias), normalized_shape (int array), eps,
        out, gout (the gradient fed to backward), grad_x, grad_weight, grad_bias
gpt_*:  a tiny nanoGPT-layout model written here in PyTorch (pre-norm blocks, causal attention,
        GELU MLP, tied head) with random weights:
        config (n_layer, n_head, n_embd, block_size, vocab_size, bias as ints),
        param:<name> for every state_dict entry (the tied head appears as both wte.weight and
        lm_head.weight, as in PyTorch), idx, targets (with -1 = no target at some positions),
        logits, loss, grad:<name> for every parameter (the tied one once, under wte.weight)
tests/13_transformers/test_transformers_torch_parity.py has the TinyTorch side of every case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_transformers.npz"
rng = np.random.default_rng(20261203)
arrays: dict[str, np.ndarray] = {}
torch.set_default_dtype(torch.float64)


def save(case: str, **values) -> None:
    for key, value in values.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        arrays[f"{case}/{key}"] = np.asarray(value)


def layer_norm_case(case: str, x_shape: tuple, normalized_shape: tuple, affine: bool, bias: bool, eps: float,
                    scale: float = 1.0) -> None:
    x = torch.tensor(rng.standard_normal(x_shape) * scale + 0.5, requires_grad=True)
    inputs = {"x": x}
    weight = b = None
    if affine:
        weight = torch.tensor(rng.standard_normal(normalized_shape), requires_grad=True)
        inputs["weight"] = weight
        if bias:
            b = torch.tensor(rng.standard_normal(normalized_shape), requires_grad=True)
            inputs["bias"] = b
    out = F.layer_norm(x, normalized_shape, weight, b, eps)
    gout = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(gout))
    save(case, **{k: v for k, v in inputs.items()}, normalized_shape=np.array(normalized_shape), eps=eps,
         out=out, gout=gout, **{f"grad_{k}": v.grad for k, v in inputs.items()})


class Attention(nn.Module):
    def __init__(self, e: int, h: int, bias: bool):
        super().__init__()
        self.h = h
        self.c_attn = nn.Linear(e, 3 * e, bias=bias)
        self.c_proj = nn.Linear(e, e, bias=bias)

    def forward(self, x):
        b, t, e = x.shape
        q, k, v = self.c_attn(x).split(e, dim=2)
        q, k, v = (z.view(b, t, self.h, e // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, e))


class Block(nn.Module):
    def __init__(self, e: int, h: int, bias: bool):
        super().__init__()
        self.ln_1 = nn.LayerNorm(e, bias=bias)
        self.attn = Attention(e, h, bias)
        self.ln_2 = nn.LayerNorm(e, bias=bias)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(e, 4 * e, bias=bias)
        self.mlp.c_proj = nn.Linear(4 * e, e, bias=bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))


class TinyGPT(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, block_size, vocab_size, bias):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, bias) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, bias=bias)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return logits, F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)


def gpt_case(case: str, n_layer: int, n_head: int, n_embd: int, block_size: int, vocab_size: int, bias: bool,
             batch: int, t: int) -> None:
    model = TinyGPT(n_layer, n_head, n_embd, block_size, vocab_size, bias)
    with torch.no_grad():
        for p in model.parameters():  # random, not the init: layer norms and biases matter too
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)) * 0.3))
    idx = torch.tensor(rng.integers(0, vocab_size, (batch, t)))
    targets = rng.integers(0, vocab_size, (batch, t))
    targets[0, :2] = -1  # positions without a target (ignore_index=-1)
    targets = torch.tensor(targets)
    logits, loss = model(idx, targets)
    loss.backward()
    save(case, config=np.array([n_layer, n_head, n_embd, block_size, vocab_size, int(bias)]), idx=idx,
         targets=targets, logits=logits, loss=loss)
    for name, value in model.state_dict().items():
        save(case, **{f"param:{name}": value})
    for name, p in model.named_parameters():
        save(case, **{f"grad:{name}": p.grad})


def main() -> None:
    layer_norm_case("ln_last_affine", (3, 4, 6), (6,), True, True, 1e-5)
    layer_norm_case("ln_last_no_bias", (5, 6), (6,), True, False, 1e-5)
    layer_norm_case("ln_plain", (2, 3, 5), (5,), False, False, 1e-5)
    layer_norm_case("ln_two_axes", (2, 3, 4), (3, 4), True, True, 1e-5)
    layer_norm_case("ln_three_axes_eps", (2, 2, 3, 4), (2, 3, 4), True, True, 1e-2)
    layer_norm_case("ln_large_offset", (4, 8), (8,), True, True, 1e-5, scale=1e-2)
    gpt_case("gpt_bias", n_layer=2, n_head=2, n_embd=8, block_size=6, vocab_size=7, bias=True, batch=2, t=5)
    gpt_case("gpt_no_bias", n_layer=1, n_head=4, n_embd=8, block_size=4, vocab_size=5, bias=False, batch=3, t=4)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(OUT)
    print(f"wrote {OUT} ({len(arrays)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
