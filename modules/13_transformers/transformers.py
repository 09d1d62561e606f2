# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 13 — Transformers: LayerNorm, the block, and a GPT
#
# Module 12 gave every position of a sequence a way to look at the positions before it. One
# attention layer is not a language model yet: it needs a place to *think* about what it
# gathered (a small MLP per position), a way to keep activations at a sane scale however deep
# the stack (layer normalisation), a path for gradients that skips every layer (the residual
# stream), and a head that turns the last hidden state into a guess for the next token. Stack
# that block a few times and you have GPT — the architecture behind every large language model
# since 2018 — here small enough to learn Shakespeare on a laptop CPU in a few minutes.
#
# **You will learn to**
#
# 1. implement `LayerNorm` as one `Function` with an exact, vectorized backward, and check it
#    against finite differences and PyTorch;
# 2. build the pre-norm `TransformerBlock`: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`, and say
#    why the residual stream makes deep stacks trainable;
# 3. assemble a `GPT` from a config dataclass: token and position embeddings, blocks, final norm,
#    and a language-model head that *shares* its weight with the token embedding;
# 4. initialise it like GPT-2 (normal(0, 0.02), residual projections scaled by 1/sqrt(2·n_layer))
#    and see why the loss of an untrained model should be ln(vocab_size);
# 5. generate text autoregressively with temperature and top-k sampling, reproducibly;
# 6. count FLOPs per token (≈ 6N for training), profile where one training step's time goes, and
#    measure how activation memory grows with batch × context.
#
# **Prerequisites:** modules 01–07 and 11–12 (`Embedding`, `CausalSelfAttention`).
# **Exports to:** `tinytorch/text/transformers.py`, re-exported by `tinytorch.nn` (`LayerNorm`),
# `tinytorch.nn.functional` (`layer_norm`) and `tinytorch.text` (`GPT`, `GPTConfig`, ...).

# %%
#| default_exp text.transformers

# %%
#| export
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from tinytorch.core.activations import gelu, softmax
from tinytorch.core.autograd import Function, no_grad
from tinytorch.core.layers import Dropout, Linear, Module, ModuleList, Parameter, normal_, ones_, zeros_
from tinytorch.core.losses import cross_entropy
from tinytorch.core.tensor import Tensor, arange, default_generator
from tinytorch.text.attention import CausalSelfAttention
from tinytorch.text.embeddings import Embedding

# %% [markdown]
# ## 1. Layer normalisation
#
# Batch norm (module 09) standardises each *channel* with statistics over the batch. That is a
# poor fit for language models: sequences in a batch have different lengths and contents, a
# prediction at position t must not depend on other sequences, and at generation time the batch
# is often a single sequence. **Layer norm** (Ba, Kiros & Hinton, 2016) standardises each
# *position's own feature vector* instead, so every token is normalised on its own, identically
# in training and evaluation:
#
# ```
#   x: (B, T, E)         one row = the E features of one token
#
#   ┌─────────── E ───────────┐
#   │ x₁  x₂  x₃  ...  x_E    │ ──►  μ = mean(x),  σ² = mean((x − μ)²)     (biased, over E only)
#   └─────────────────────────┘      x̂ = (x − μ) / sqrt(σ² + eps)
#                                     y = γ ⊙ x̂ + β                        γ, β: (E,) learned
# ```
#
# `normalized_shape` says which trailing axes form "one row": `LayerNorm(E)` normalises over the
# last axis, `LayerNorm((C, H, W))` over the last three. There are no running statistics and no
# train/eval difference. nanoGPT (and GPT-2 variants) may drop the bias β (`bias=False`, a
# PyTorch 2.1 option): it saves a few parameters and, at scale, trains a little better.
#
# ### The backward pass
#
# Every output of a row depends on every input of that row, through μ and σ. Write `g = dy ⊙ γ`
# (the gradient arriving at x̂) and `N` for the row length. Differentiating
# `x̂ᵢ = (xᵢ − μ)·r` with `r = 1/sqrt(σ² + eps)` gives, per row,
#
# ```
#   dx = r · ( g − mean(g) − x̂ · mean(g ⊙ x̂) )            means over the N normalised entries
#   dγ = Σ over all rows of dy ⊙ x̂                          dβ = Σ over all rows of dy
# ```
#
# The two subtracted terms remove the parts of `g` that would shift the row's mean or stretch its
# spread — directions in which x̂ cannot move, because it is always standardised. Computing this
# with a chain of recorded ops (mean, sub, mul, sqrt, div, ...) works too, but makes a dozen graph
# nodes and as many full-size temporaries per call; one `Function` with the formula above does
# it in a few NumPy passes, and keeps only `x̂` and `r` alive for backward.

# %%
#| export
def _normalized_shape(value, where: str) -> tuple[int, ...]:
    """normalized_shape as a tuple of positive ints (an int means a 1-tuple)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not items or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in items):
        raise ValueError(f"{where}: normalized_shape must be a positive int or a non-empty sequence of positive "
                         f"ints, got {value!r}")
    return tuple(int(v) for v in items)


class LayerNormFunction(Function):
    """Normalise over the last `dims` axes of x, then y = x̂·weight + bias (weight, bias may be None)."""

    @staticmethod
    def forward(ctx, x, weight, bias, dims: int, eps: float):
        axes = tuple(range(x.ndim - dims, x.ndim))
        # Hint: mean over `axes` (keepdims=True); centered = x - mean; var = mean(centered²) (biased);
        #       invstd = 1 / sqrt(var + eps); xhat = centered * invstd; out = xhat * weight + bias
        #       (skip the multiply when weight is None, the add when bias is None).
        #       Save xhat, invstd and weight for backward (ctx.save_for_backward).
        ### BEGIN SOLUTION
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        var = np.mean(np.square(xhat), axis=axes, keepdims=True)
        invstd = 1.0 / np.sqrt(var + eps)
        xhat *= invstd
        out = xhat if weight is None else xhat * weight
        if bias is not None:
            out = out + bias if out is xhat else np.add(out, bias, out=out)
        ctx.save_for_backward(xhat, invstd, weight)
        ### END SOLUTION
        ctx.axes = axes
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        xhat, invstd, weight = ctx.saved_tensors
        axes = ctx.axes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        lead = tuple(range(grad_output.ndim - len(axes)))
        # Hint: g = grad_output * weight (or grad_output itself without weight);
        #       grad_x = invstd * (g - mean(g) - xhat * mean(g * xhat)), means over `axes` with
        #       keepdims; grad_weight = sum of grad_output * xhat over the `lead` axes;
        #       grad_bias = sum of grad_output over `lead`. Return None for what is not needed.
        ### BEGIN SOLUTION
        grad_x = grad_w = grad_b = None
        g = grad_output if weight is None else grad_output * weight
        if need_x:
            gx = g * xhat
            grad_x = g - g.mean(axis=axes, keepdims=True)
            grad_x -= xhat * gx.mean(axis=axes, keepdims=True)
            grad_x *= invstd
        if need_w:
            grad_w = (grad_output * xhat).sum(axis=lead)
        if need_b:
            grad_b = grad_output.sum(axis=lead)
        ### END SOLUTION
        return grad_x, grad_w, grad_b, None, None


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing `normalized_shape` axes, like torch.nn.functional.layer_norm.

    input: (*, *normalized_shape); weight, bias: normalized_shape or None. Output: input's shape.
    """
    where = "layer_norm"
    shape = _normalized_shape(normalized_shape, where)
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{where}: input must be a floating-point tensor, got dtype {input.dtype}; "
                        "convert it with x.float()")
    if tuple(input.shape[input.ndim - len(shape):]) != shape or input.ndim < len(shape):
        raise ValueError(f"{where}: input of shape {tuple(input.shape)} does not end in normalized_shape "
                         f"{shape}; expected an input of shape (*, {', '.join(map(str, shape))})")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is None:
            continue
        if not isinstance(param, Tensor) or tuple(param.shape) != shape:
            raise ValueError(f"{where}: {name} must be a Tensor of shape {shape} (normalized_shape), got "
                             f"{getattr(param, 'shape', type(param).__name__)}")
        if param.dtype != input.dtype:
            raise TypeError(f"{where}: {name} dtype {param.dtype} does not match the input dtype {input.dtype}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{where}: eps must be a number >= 0, got {eps!r}")
    return LayerNormFunction.apply(input, weight, bias, len(shape), float(eps))


class LayerNorm(Module):
    """Layer normalisation over the trailing `normalized_shape` axes, with PyTorch's arguments and defaults.

    weight (γ) starts at ones and bias (β) at zeros, both of shape normalized_shape; elementwise_affine=False
    has neither, bias=False only the weight. Shape: (*, *normalized_shape) -> same.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be a number >= 0, got {eps!r}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"LayerNorm: dtype must be a floating-point type, got {dtype}")
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if self.elementwise_affine and bias:
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            ones_(self.weight)
        if self.bias is not None:
            zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

# %%
#| test
def test_unit_layer_norm():
    from tinytorch.core.autograd import gradcheck

    rng = np.random.default_rng(0)
    x = Tensor((rng.standard_normal((2, 3, 8)) * 4 + 3).astype(np.float32))
    ln = LayerNorm(8)
    y = ln(x).data
    assert y.shape == (2, 3, 8), f"LayerNorm keeps the shape: expected (2, 3, 8), got {y.shape}"
    assert np.allclose(y.mean(-1), 0, atol=1e-5), (
        f"each row of the output should have mean 0 (weight 1, bias 0), got means {y.mean(-1).ravel()[:3]}; "
        "did you subtract the mean over the LAST axis only?")
    assert np.allclose(y.var(-1), 1, atol=1e-3), (
        f"each row should have (biased) variance 1, got {y.var(-1).ravel()[:3]}; the variance divides by N, "
        "not N-1, and eps goes inside the square root")
    row = x.data[0, 0].astype(np.float64)
    by_hand = (row - row.mean()) / np.sqrt(row.var() + 1e-5)
    assert np.allclose(y[0, 0], by_hand, atol=1e-5), f"row 0: expected {by_hand[:3]}..., got {y[0, 0, :3]}..."
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert LayerNorm(8, bias=False).bias is None and LayerNorm(8, elementwise_affine=False).weight is None
    for shape, affine, bias in (((5,), True, True), ((3, 4), True, False), ((4,), False, False)):
        layer = LayerNorm(shape, elementwise_affine=affine, bias=bias, dtype=np.float64)
        for p in layer.parameters():
            p.data[...] = rng.standard_normal(p.shape)
        inp = Tensor(rng.standard_normal((2, 3, *shape)), requires_grad=True)
        assert gradcheck(lambda t, *ps: layer(t), (inp, *layer.parameters())), (
            f"LayerNorm{shape} (affine={affine}, bias={bias}): the gradient disagrees with finite differences")
    try:
        ln(Tensor(np.zeros((2, 7), dtype=np.float32)))
    except ValueError as error:
        assert "(2, 7)" in str(error) and "(8,)" in str(error), str(error)
    else:
        raise AssertionError("an input whose last axis is not normalized_shape must raise ValueError")
    print("✅ LayerNorm: rows standardised, affine/bias options, gradients match finite differences")


test_unit_layer_norm()

# %% [markdown]
# ## 2. The transformer block
#
# A GPT block applies two sub-layers, each wrapped the same way: normalise, transform, **add
# back** to the input. The running sum `x` that flows from the embeddings to the head is the
# *residual stream*; each sub-layer reads it (through its LayerNorm) and writes an update into it.
#
# ```
#            x (B, T, E) ─────────────────┬──────────────────────────┐
#                                         │                          │
#                              ln_1 ──► CausalSelfAttention ───► (+) │  tokens exchange information
#                                                                  │
#            x ────────────────────────────┬───────────────────────┐ │
#                                          │                       ▼ ▼
#                              ln_2 ──► MLP: E → 4E → GELU → E ─► (+)    each token thinks alone
#                                                                   │
#                                                                   ▼  x (B, T, E)
# ```
#
# **Why residuals.** The derivative of `x + f(x)` is `1 + f'(x)`: whatever the sub-layers do, the
# gradient has an identity path from the loss straight to the embeddings. Without it, a
# 12-layer stack multiplies a dozen Jacobians and the gradient vanishes or explodes.
#
# **Why pre-norm.** The original Transformer (Vaswani et al., 2017) normalised *after* the
# addition (`ln(x + f(x))`, post-norm). GPT-2 moved the norm *inside* the branch (`x + f(ln(x))`)
# and added one final `ln_f` before the head. Now the identity path is never normalised, the
# stream can grow freely, and training is stable without the careful learning-rate warm-up that
# post-norm needs — which is why nearly every modern LLM is pre-norm.
#
# **The MLP** is two Linear layers with GELU between them, 4x wider in the middle (`c_fc: E → 4E`,
# `c_proj: 4E → E`). It holds two thirds of a block's parameters. The names `c_fc`, `c_attn`,
# `c_proj` are GPT-2's (and nanoGPT's), so checkpoints map one to one.

# %%
#| export
class MLP(Module):
    """Position-wise feed-forward network: Linear(E, 4E) -> GELU -> Linear(4E, E) -> Dropout. (*, E) -> (*, E)."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True, hidden: int | None = None):
        super().__init__()
        hidden = 4 * n_embd if hidden is None else hidden
        self.c_fc = Linear(n_embd, hidden, bias=bias)
        self.c_proj = Linear(hidden, n_embd, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        # Hint: c_fc, then gelu (exact, module 02), then c_proj, then dropout.
        ### BEGIN SOLUTION
        return self.dropout(self.c_proj(gelu(self.c_fc(x))))
        ### END SOLUTION


class TransformerBlock(Module):
    """Pre-norm GPT block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). Shape: (B, T, E) -> (B, T, E)."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 block_size: int | None = None):
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout=dropout, bias=bias, block_size=block_size)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout=dropout, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        # Hint: two residual updates, each reading the stream through its own LayerNorm.
        ### BEGIN SOLUTION
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x
        ### END SOLUTION

# %%
#| test
def test_unit_transformer_block():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    block = TransformerBlock(8, 2)
    x = Tensor(np.random.default_rng(1).standard_normal((2, 5, 8)).astype(np.float32))
    y = block(x)
    assert y.shape == (2, 5, 8), f"a block maps (B, T, E) to (B, T, E): expected (2, 5, 8), got {y.shape}"
    changed = x.data.copy()
    changed[:, 3:] += 1.0
    later = block(Tensor(changed)).data
    assert np.allclose(later[:, :3], y.data[:, :3], atol=1e-5), (
        "changing tokens 3 and 4 changed the outputs at positions 0-2: the block must be causal (a position "
        "only sees itself and earlier positions); the LayerNorm must normalise each position on its own")
    for p in block.parameters():
        p.data[...] = 0
    assert np.array_equal(block(x).data, x.data), (
        "with every weight and bias zero, both branches output 0 and the block is the identity: "
        "did you add the branches to x (x + attn(ln_1(x)), x + mlp(ln_2(x)))?")
    print("✅ TransformerBlock: shape kept, causal, residual connections in place")


test_unit_transformer_block()

# %% [markdown]
# ## 3. GPT
#
# The whole model is a lookup, a stack and a head:
#
# ```
#   idx (B, T) int64 token ids
#     │  wte: Embedding(vocab_size, E)         what each token is
#     │  wpe: Embedding(block_size, E)         where it is (positions 0..T-1), added
#     ▼  drop
#   x (B, T, E)  ──►  TransformerBlock × n_layer  ──►  ln_f  ──►  lm_head: Linear(E, vocab_size)
#                                                                    │
#   logits (B, T, vocab_size): at every position, a score for every possible NEXT token
# ```
#
# Position t's logits predict token t+1, and causal attention guarantees they were computed from
# tokens 0..t only. So **one forward pass trains T predictions at once**: the targets are just
# the inputs shifted by one (`y[t] = idx[t+1]`), and the loss is the cross entropy averaged over
# all B·T positions.
#
# **Weight tying.** `lm_head.weight` (vocab_size, E) *is* `wte.weight`: the same Parameter object.
# Reading a token (embedding row) and predicting it (a dot product of the hidden state with the
# same row) use one table. It saves `vocab_size · E` parameters (38M of GPT-2 small's 124M) and
# tends to train better. Its gradient is the sum of two contributions — the embedding lookup's
# and the head's matmul's — which the autograd engine adds up because both reach the same leaf.
#
# **The config** is a dataclass (nanoGPT's `GPTConfig`), validated when it is made, so a bad
# value fails with its name before any weight is allocated.
#
# **Initialisation** (GPT-2): every Linear and Embedding weight ~ normal(0, 0.02), biases 0. Each
# block adds two branch outputs to the residual stream, so after `n_layer` blocks its variance has
# grown by `2·n_layer` such additions; scaling the two projections that write into the stream
# (`attn.c_proj` and `mlp.c_proj`) by `1/sqrt(2·n_layer)` keeps the stream's scale independent of
# depth. With small logits at the start, the model predicts nearly uniformly, so the initial loss
# is close to `ln(vocab_size)` — the first number to check when a training run starts.

# %%
#| export
def _check_int(value, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


@dataclass
class GPTConfig:
    """Sizes of a GPT (nanoGPT's names and defaults: GPT-2 small with a padded vocabulary).

    n_embd must be divisible by n_head; dropout in [0, 1); bias: biases in Linear and LayerNorm layers.
    """

    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self):
        where = "GPTConfig"
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, _check_int(getattr(self, name), name, where))
        if self.n_embd % self.n_head:
            raise ValueError(f"{where}: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}), so "
                             f"that each head gets n_embd / n_head features")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, numbers.Real) or not 0 <= self.dropout < 1:
            raise ValueError(f"{where}: dropout must be a number in [0, 1), got {self.dropout!r}")
        if not isinstance(self.bias, bool):
            raise TypeError(f"{where}: bias must be True or False, got {self.bias!r}")
        self.dropout = float(self.dropout)


def sample_next(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                generator: np.random.Generator | None = None) -> np.ndarray:
    """One token id per row of logits (B, V), sampled from softmax(logits / temperature). -> (B,) int64.

    top_k keeps only the k largest logits of each row; temperature 0 means greedy (argmax).
    """
    if temperature == 0:
        return logits.argmax(axis=-1).astype(np.int64)
    generator = default_generator() if generator is None else generator
    # Hint: scale by 1/temperature; with top_k, set every logit below the row's k-th largest to -inf
    #       (np.partition finds it without a full sort); probabilities with module 02's softmax on a
    #       Tensor; then inverse-CDF sampling: one uniform number u per row from `generator`, and the
    #       first index whose cumulative probability exceeds u (count the entries of the CDF below u).
    ### BEGIN SOLUTION
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = np.partition(scaled, -top_k, axis=-1)[:, -top_k, None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probs = softmax(Tensor(scaled), -1).data
    u = generator.random((probs.shape[0], 1))
    picked = (np.cumsum(probs, axis=-1) <= u).sum(axis=-1)
    return np.minimum(picked, probs.shape[-1] - 1).astype(np.int64)
    ### END SOLUTION


class GPT(Module):
    """A decoder-only transformer language model (GPT-2 layout, nanoGPT's names).

    forward(idx (B, T) int64, targets (B, T) int64 or None) -> (logits (B, T, vocab_size), loss or None).
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT: config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.wte = Embedding(c.vocab_size, c.n_embd)
        self.wpe = Embedding(c.block_size, c.n_embd)
        self.drop = Dropout(c.dropout)
        self.blocks = ModuleList([TransformerBlock(c.n_embd, c.n_head, c.dropout, c.bias, c.block_size)
                                  for _ in range(c.n_layer)])
        self.ln_f = LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = Linear(c.n_embd, c.vocab_size, bias=False)
        # Hint: tie the head to the token table (assign the very same Parameter), then initialise:
        #       every Linear/Embedding weight ~ normal(0, 0.02), Linear biases 0, and the residual
        #       projections (names ending in "c_proj.weight") ~ normal(0, 0.02 / sqrt(2 * n_layer)).
        ### BEGIN SOLUTION
        self.lm_head.weight = self.wte.weight
        for module in self.modules():
            if isinstance(module, (Linear, Embedding)):
                normal_(module.weight, 0.0, 0.02)
            if isinstance(module, Linear) and module.bias is not None:
                zeros_(module.bias)
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                normal_(param, 0.0, 0.02 / math.sqrt(2 * c.n_layer))
        ### END SOLUTION

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Parameters, each shared one counted once; non_embedding leaves out the position table
        (the token table stays in: it doubles as the head's weight)."""
        total = sum(p.numel() for p in self.parameters())
        return total - self.wpe.weight.numel() if non_embedding else total

    def _check_idx(self, idx, name: str) -> tuple[int, int]:
        if not isinstance(idx, Tensor) or idx.dtype.kind not in "iu" or idx.ndim != 2:
            got = f"dtype {idx.dtype}, shape {tuple(idx.shape)}" if isinstance(idx, Tensor) else type(idx).__name__
            raise ValueError(f"GPT.forward: {name} must be an integer Tensor of shape (B, T), got {got}")
        return idx.shape

    def forward(self, idx: Tensor, targets: Tensor | None = None):
        batch, t = self._check_idx(idx, "idx")
        if t > self.config.block_size:
            raise ValueError(f"GPT.forward: idx has a context of {t} tokens, longer than block_size="
                             f"{self.config.block_size}; crop it to the last {self.config.block_size} tokens "
                             f"(idx[:, -{self.config.block_size}:])")
        if targets is not None and tuple(self._check_idx(targets, "targets")) != (batch, t):
            raise ValueError(f"GPT.forward: targets must have idx's shape {(batch, t)}, got {tuple(targets.shape)}")
        # Hint: x = drop(wte(idx) + wpe(positions 0..t-1)); the blocks; ln_f; lm_head gives the logits.
        #       With targets: cross entropy over all B*T positions (reshape logits to (B*T, V) and
        #       targets to (B*T,)), ignore_index=-1 so that -1 marks positions without a target.
        ### BEGIN SOLUTION
        x = self.drop(self.wte(idx) + self.wpe(arange(t)))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            vocab = self.config.vocab_size
            loss = cross_entropy(logits.reshape(batch * t, vocab), targets.reshape(batch * t), ignore_index=-1)
        ### END SOLUTION
        return logits, loss

    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: np.random.Generator | None = None) -> Tensor:
        """Extend idx (B, T) by max_new_tokens sampled tokens -> (B, T + max_new_tokens) int64.

        The context is cropped to the last block_size tokens; temperature 0 is greedy; sampling uses
        `generator` (default: the package generator, seeded by tinytorch.manual_seed). Runs in eval
        mode without recording a graph, and restores the training mode afterwards.
        """
        self._check_idx(idx, "idx")
        max_new_tokens = _check_int(max_new_tokens, "max_new_tokens", "GPT.generate", minimum=0)
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature >= 0:
            raise ValueError(f"GPT.generate: temperature must be a number >= 0, got {temperature!r}")
        if top_k is not None:
            top_k = _check_int(top_k, "top_k", "GPT.generate")
        rng = default_generator() if generator is None else generator
        was_training, tokens = self.training, idx.data.astype(np.int64)
        self.eval()
        try:
            with no_grad():
                # Hint: each step: crop to the last block_size tokens, forward, take the logits of
                #       the LAST position, sample_next, append the new column.
                ### BEGIN SOLUTION
                for _ in range(max_new_tokens):
                    context = tokens[:, -self.config.block_size:]
                    logits, _ = self(Tensor(context))
                    nxt = sample_next(logits.data[:, -1, :], temperature, top_k, rng)
                    tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
                ### END SOLUTION
        finally:
            self.train(was_training)
        return Tensor(tokens)

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """Parameter groups for AdamW: decay the matrices (2-D and up: Linear and Embedding weights),
        not the biases and LayerNorm gains (nanoGPT's rule)."""
        params = list(self.parameters())
        return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
                {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]

# %%
#| test
def test_unit_gpt():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    config = GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16)
    model = GPT(config)
    assert model.lm_head.weight is model.wte.weight, "lm_head.weight must be the very same Parameter as wte.weight"
    per_block = 2 * 16 + 16 * 48 + 48 + 16 * 16 + 16 + 2 * 16 + 16 * 64 + 64 + 64 * 16 + 16
    expected = 11 * 16 + 8 * 16 + 2 * per_block + 2 * 16
    assert model.num_parameters(non_embedding=False) == expected, (
        f"expected {expected} parameters (tied head counted once), got {model.num_parameters(False)}")
    assert model.num_parameters() == expected - 8 * 16, "non_embedding leaves out the position table"
    std = model.blocks[0].mlp.c_proj.weight.data.std()
    assert abs(std - 0.02 / math.sqrt(4)) < 0.004, f"c_proj weights should have std 0.02/sqrt(2*n_layer), got {std}"
    rng = np.random.default_rng(0)
    idx = Tensor(rng.integers(0, 11, (3, 8)))
    logits, loss = model(idx, Tensor(rng.integers(0, 11, (3, 8))))
    assert logits.shape == (3, 8, 11), f"logits should be (B, T, vocab_size) = (3, 8, 11), got {logits.shape}"
    assert abs(loss.item() - math.log(11)) < 0.1, (
        f"an untrained GPT should predict almost uniformly: loss ≈ ln(11) = {math.log(11):.3f}, got {loss.item():.3f}")
    loss.backward()
    assert model.wte.weight.grad is not None and model.wpe.weight.grad is not None
    try:
        model(Tensor(rng.integers(0, 11, (1, 9))))
    except ValueError as error:
        assert "9" in str(error) and "block_size=8" in str(error), str(error)
    else:
        raise AssertionError("a context of 9 tokens with block_size=8 must raise ValueError")
    out = model.generate(Tensor(np.zeros((2, 1), dtype=np.int64)), 12, temperature=0)
    assert out.shape == (2, 13), f"generate(…, 12) on (2, 1) gives (2, 13), got {out.shape}"
    assert np.array_equal(out.data[0], out.data[1]), "greedy decoding of two equal prompts must agree"
    print("✅ GPT: tied head, parameter count, GPT-2 init, loss ≈ ln(V) at start, block_size check, generate")


test_unit_gpt()
