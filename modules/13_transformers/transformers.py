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
# 1. derive `LayerNorm`'s backward pass, build it from Tensor ops so autograd applies it, and
#    check it against finite differences and PyTorch;
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
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Dropout, Linear, Module, ModuleList, Parameter, normal_, ones_, zeros_
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import accelerated
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
# spread — directions in which x̂ cannot move, because it is always standardised.
#
# ### Composed from Tensor ops: autograd derives that formula for us
#
# We do not have to code the formula. Write the forward pass with the Tensor ops of modules
# 01–05 — a mean, a subtraction, a square, another mean, a square root, a division, the affine
# part — and autograd's chain rule, applied node by node, produces exactly the `dx` above (the
# gradcheck below proves it numerically). To normalise over several trailing axes, view each
# row's `N` entries as one last axis first, and view the result back at the end.
#
# The price is memory and passes: every op is a graph node that keeps its inputs and makes a
# full-size temporary, and backward walks all of them. Module 16 writes the closed form above as
# one `Function` (forward and backward in a few NumPy passes, keeping only `x̂` and `r`) and the
# package uses it by default; `layer_norm` asks for it first through module 06's
# `accelerated("fused_layer_norm", ...)` and takes the composition below when module 16 is not
# there (or `use_fused(False)` is on).

# %%
#| export
def _normalized_shape(value, where: str) -> tuple[int, ...]:
    """normalized_shape as a tuple of positive ints (an int means a 1-tuple)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not items or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in items):
        raise ValueError(f"{where}: normalized_shape must be a positive int or a non-empty sequence of positive "
                         f"ints, got {value!r}")
    return tuple(int(v) for v in items)


def layer_norm_composed(input: Tensor, weight: Tensor | None, bias: Tensor | None, dims: int,
                        eps: float) -> Tensor:
    """LayerNorm over the last `dims` axes from recorded Tensor ops; autograd does the backward.

    input (*, *S) with S the `dims` trailing axes; weight, bias: S or None. Output: input's shape.
    """
    # Hint: view input as (*, N) with N = the product of the last `dims` sizes; centred = rows -
    #       rows.mean(dim=-1, keepdim=True); variance = (centred * centred).mean(dim=-1,
    #       keepdim=True) (biased: divide by N); xhat = centred / (variance + eps).sqrt();
    #       multiply by weight.reshape(N) and add bias.reshape(N) when given; view back to input.shape.
    ### BEGIN SOLUTION
    lead = input.shape[:input.ndim - dims]
    n = int(np.prod(input.shape[input.ndim - dims:]))
    rows = input.reshape(*lead, n)
    centred = rows - rows.mean(dim=-1, keepdim=True)
    variance = (centred * centred).mean(dim=-1, keepdim=True)
    out = centred / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(n)
    if bias is not None:
        out = out + bias.reshape(n)
    return out.reshape(*input.shape)
    ### END SOLUTION


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
    out = accelerated("fused_layer_norm", input, weight, bias, len(shape), float(eps))  # module 16's kernel
    if out is NotImplemented:
        out = layer_norm_composed(input, weight, bias, len(shape), float(eps))
    return out


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
        composed = lambda t, *ps: layer_norm_composed(t, layer.weight, layer.bias, len(shape), layer.eps)
        assert gradcheck(composed, (inp, *layer.parameters())), (
            f"layer_norm_composed{shape} (affine={affine}, bias={bias}): autograd's gradient of your composition "
            "disagrees with finite differences")
        assert np.allclose(composed(inp).data, layer(inp).data, atol=1e-10), (
            "layer_norm_composed must equal LayerNorm (module 16's fused kernel when it is on)")
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
        # All positions of all sequences go through the same two matrices: as one (B·T, E) matrix
        # they make one large matmul each, which BLAS runs faster than a batch of B small ones.
        rows = x.reshape(-1, x.shape[-1])
        # Hint: set `out` to `rows` passed through c_fc, then gelu (exact, module 02), then c_proj,
        #       then dropout. (Module 16 adds a fused GELU: ask accelerated("fused_gelu", h) first and
        #       use gelu(h) when it returns NotImplemented.)
        ### BEGIN SOLUTION
        hidden = self.c_fc(rows)
        activated = accelerated("fused_gelu", hidden)
        if activated is NotImplemented:
            activated = gelu(hidden)
        out = self.dropout(self.c_proj(activated))
        ### END SOLUTION
        return out.reshape(x.shape)


class TransformerBlock(Module):
    """Pre-norm GPT block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). Shape: (B, T, E) -> (B, T, E)."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 block_size: int | None = None):
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout=dropout, bias=bias, block_size=block_size)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout=dropout, bias=bias)

    def forward(self, x: Tensor, kv_cache=None, layer_idx: int = 0) -> Tensor:
        # Hint: two residual updates, each reading the stream through its own LayerNorm. Pass
        #       kv_cache and layer_idx on to self.attn (module 15's KV cache; None and 0 otherwise).
        ### BEGIN SOLUTION
        x = x + self.attn(self.ln_1(x), kv_cache, layer_idx)
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
#
# The cell below also holds `sample_next` and `GPT.generate`, which section 4 explains, and
# `optimizer_groups`: nanoGPT decays only the weight matrices (and the embedding tables), never
# biases or LayerNorm gains, whose job is to set a scale and an offset, not to fit noise.

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

    def forward(self, idx: Tensor, targets: Tensor | None = None, kv_cache=None):
        """kv_cache: a module-15 KVCache (inference): idx holds only the tokens after the cached ones."""
        batch, t = self._check_idx(idx, "idx")
        start = 0 if kv_cache is None else kv_cache.length  # positions already in the cache
        if start + t > self.config.block_size:
            cached = f" after the {start} cached ones" if start else ""
            raise ValueError(f"GPT.forward: idx has a context of {t} tokens{cached}, longer than block_size="
                             f"{self.config.block_size}; crop it to the last {self.config.block_size} tokens "
                             f"(idx[:, -{self.config.block_size}:])")
        if targets is not None and tuple(self._check_idx(targets, "targets")) != (batch, t):
            raise ValueError(f"GPT.forward: targets must have idx's shape {(batch, t)}, got {tuple(targets.shape)}")
        # Hint: x = drop(wte(idx) + wpe(positions start..start+t-1)); the blocks (block i gets
        #       kv_cache and its index i); ln_f; then lm_head on the (B*T, n_embd) matrix of positions
        #       gives logits (B*T, V). With targets: cross entropy against targets reshaped to (B*T,),
        #       ignore_index=-1 (-1 marks "no target here").
        ### BEGIN SOLUTION
        x = self.drop(self.wte(idx) + self.wpe(arange(start, start + t)))
        for i, block in enumerate(self.blocks):
            x = block(x, kv_cache, i)
        logits = self.lm_head(self.ln_f(x).reshape(batch * t, self.config.n_embd))
        loss = None
        if targets is not None:  # module 16's fused softmax + cross-entropy when it is on
            loss = accelerated("softmax_cross_entropy", logits, targets.reshape(batch * t), -1)
            if loss is NotImplemented:
                loss = cross_entropy(logits, targets.reshape(batch * t), ignore_index=-1)
        ### END SOLUTION
        return logits.reshape(batch, t, self.config.vocab_size), loss

    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: np.random.Generator | None = None, use_cache: bool = True) -> Tensor:
        """Extend idx (B, T) by max_new_tokens sampled tokens -> (B, T + max_new_tokens) int64.

        The context is cropped to the last block_size tokens; temperature 0 is greedy; sampling uses
        `generator` (default: the package generator, seeded by tinytorch.manual_seed). Runs in eval
        mode without recording a graph, and restores the training mode afterwards. use_cache: keep
        keys and values in module 15's KV cache (same tokens, far faster); False runs the whole
        context through the model every step.
        """
        if not isinstance(use_cache, bool):
            raise TypeError(f"GPT.generate: use_cache must be True or False, got {use_cache!r}")
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
                if use_cache and max_new_tokens:
                    return Tensor(self._generate_cached(tokens, max_new_tokens, temperature, top_k, rng))
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

    def _generate_cached(self, tokens: np.ndarray, steps: int, temperature, top_k, rng) -> np.ndarray:
        """generate's loop with module 15's KV cache (imported here: module 15 comes after this one)."""
        hint = "GPT.generate uses module 15's KV cache by default; pass use_cache=False to generate without it"
        try:
            from tinytorch.systems.memoization import KVCache, next_token_logits
        except ImportError as error:
            raise ImportError(f"{hint} (tinytorch.systems.memoization, see modules/15_memoization)") from error
        # The context never grows past block_size, nor past the prompt plus all but the last new token.
        cache = KVCache.for_model(self, tokens.shape[0], min(self.config.block_size, tokens.shape[1] + steps - 1))
        try:
            for _ in range(steps):
                chosen = sample_next(next_token_logits(self, tokens, cache), temperature, top_k, rng)
                tokens = np.hstack([tokens, chosen[:, None]])
        except NotImplementedError as error:
            raise NotImplementedError(f"{error} ({hint})") from error
        return tokens

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
    out = model.generate(Tensor(np.zeros((2, 1), dtype=np.int64)), 12, temperature=0, use_cache=False)
    assert out.shape == (2, 13), f"generate(…, 12) on (2, 1) gives (2, 13), got {out.shape}"
    assert np.array_equal(out.data[0], out.data[1]), "greedy decoding of two equal prompts must agree"
    print("✅ GPT: tied head, parameter count, GPT-2 init, loss ≈ ln(V) at start, block_size check, generate")


test_unit_gpt()

# %% [markdown]
# ## 4. Generating text
#
# A trained GPT gives, at the last position, a score for every possible next token. Generation
# is a loop: turn the scores into probabilities, draw one token, append it, run the model again on
# the longer context (cropped to the last `block_size` tokens — the model has no position
# embedding beyond that).
#
# ```
#   "ROMEO:"  ──GPT──►  logits[-1] ──÷ temperature──► top-k ──softmax──► draw ──► "ROMEO:\n"  ──► ...
# ```
#
# - **Temperature** divides the logits before the softmax. Below 1 it sharpens the distribution
#   (safer, more repetitive text); above 1 it flattens it (more surprising, more mistakes). In the
#   limit 0 it becomes *greedy* decoding — always the most likely token — which `sample_next`
#   treats exactly (argmax), since dividing by 0 is not an option.
# - **Top-k** keeps only the k most likely tokens and renormalises: the long tail of unlikely
#   tokens, each rare but many together, can no longer derail a sentence.
# - **Sampling** draws one uniform number u per row and picks the first token whose cumulative
#   probability exceeds u (inverse-CDF sampling): vectorized over the batch, and reproducible —
#   the numbers come from a NumPy generator, by default the package's (`tt.manual_seed`).
#
# `generate` runs in eval mode under `no_grad()` (no dropout, no graph) and restores the mode it
# found. Each new token costs a full forward pass over the whole context; module 15 removes most of
# that work with a key-value cache, which `generate` uses by default (`use_cache=True`). The loop
# you write here is `use_cache=False`: use it until module 15 is done (the tests below do).

# %%
#| test
def test_unit_generate():
    from tinytorch.core.tensor import manual_seed

    logits = np.array([[0.0, 2.0, 1.0, -1.0]] * 4000)
    picks = sample_next(logits, top_k=2, generator=np.random.default_rng(0))
    assert set(np.unique(picks)) == {1, 2}, f"top_k=2 may only pick tokens 1 and 2, got {sorted(set(picks))}"
    share = np.mean(picks == 1)
    expected = math.exp(2) / (math.exp(2) + math.exp(1))
    assert abs(share - expected) < 0.03, (
        f"token 1 should be drawn with probability {expected:.3f} after top-k renormalisation, got {share:.3f}")
    assert sample_next(logits[:2], temperature=0).tolist() == [1, 1], "temperature 0 is greedy (argmax)"
    manual_seed(0)
    model = GPT(GPTConfig(block_size=4, vocab_size=7, n_layer=1, n_head=1, n_embd=8))
    start = Tensor(np.array([[1, 2, 3]]))
    a = model.generate(start, 6, generator=np.random.default_rng(5), use_cache=False).data
    b = model.generate(start, 6, generator=np.random.default_rng(5), use_cache=False).data
    assert a.shape == (1, 9) and np.array_equal(a, b), "the same generator seed must give the same text"
    assert np.array_equal(a[:, :3], start.data), "generate keeps the prompt in front"
    print("✅ sampling: top-k, temperature, greedy, seeded generation longer than block_size")


test_unit_generate()

# %% [markdown]
# ## 5. What a training step costs
#
# ### FLOPs per token: ≈ 6N
#
# Almost all the arithmetic of a GPT is matrix multiplication with its weights. A weight matrix
# with `m·n` entries, applied to one token, costs `m·n` multiply-adds = `2mn` FLOPs forward. In
# backward it is used twice more — once for the input gradient (`dX = dY·W`) and once for the
# weight gradient (`dW = dYᵀ·X`) — so training costs `3 × 2 = 6` FLOPs per weight per token:
#
# ```
#   training FLOPs per token  ≈  6 · N            N = parameters in matrices applied per token
#                            +  6 · 2 · n_layer · T · E     attention: scores q·kᵀ and the weighted sum of v
# ```
#
# (The embedding lookup is not a matmul, but with a tied head the same table *is* used as the
# head's matrix, so counting all N parameters is right. The attention term grows with the context
# T; at T = 64 it is small, at T = 1024 it is not.) Below: the count for the milestone's Shakespeare
# model, and what it means next to a measured training step on your machine.

# %%
#| analysis
import time

from tinytorch.core.optimizers import AdamW, clip_grad_norm_
from tinytorch.core.tensor import manual_seed


def step_flops(config: GPTConfig, params: int, batch: int) -> int:
    """6 FLOPs per parameter per token, plus the attention scores and sums (6·2·n_layer·T·E per token)."""
    t = config.block_size
    return batch * t * (6 * params + 12 * config.n_layer * t * config.n_embd)


shakespeare = GPTConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65, dropout=0.0, bias=False)
manual_seed(0)
gpt = GPT(shakespeare)
optimizer = AdamW(gpt.optimizer_groups(0.1), lr=1e-3, betas=(0.9, 0.99))
rng = np.random.default_rng(0)
batch_x, batch_y = (Tensor(rng.integers(0, 65, (12, 64))) for _ in range(2))


def train_step():
    optimizer.zero_grad()
    _, loss = gpt(batch_x, batch_y)
    loss.backward()
    clip_grad_norm_(gpt.parameters(), 1.0)
    optimizer.step()


def median_seconds(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


n_params = gpt.num_parameters(non_embedding=False)
flops = step_flops(shakespeare, n_params, 12)
seconds = median_seconds(train_step)
square = np.ones((512, 512), dtype=np.float32)
blas = 2 * 512 ** 3 / median_seconds(lambda: square @ square, 15)
print(f"parameters {n_params:,}; one step of 12 x 64 tokens = {flops / 1e9:.2f} GFLOP "
      f"({flops / (12 * 64) / 1e6:.1f} MFLOP per token, 6N = {6 * n_params / 1e6:.1f} of them)")
print(f"measured step {seconds * 1e3:.0f} ms -> {flops / seconds / 1e9:.1f} GFLOP/s; a plain 512x512 matmul "
      f"runs at {blas / 1e9:.1f} GFLOP/s here: the step reaches {flops / seconds / blas:.0%} of the matmul speed")

# %% [markdown]
# ### Where the time goes
#
# To see *which* work, time every sub-layer. Forward is easy: time each call. For backward, put an
# identity `Function` between sub-layers whose backward only notes the time — the gradient passes
# the stamps in reverse order, so consecutive stamps bracket each sub-layer's backward (the same
# trick as module 09; benchmarks/gpt_step.py prints this table for the full step).

# %%
#| analysis
from tinytorch.core.autograd import Function


class Stamp(Function):
    """Identity; its backward writes the time into log[key]."""

    @staticmethod
    def forward(ctx, x, log, key):
        ctx.log, ctx.key = log, key
        return x

    @staticmethod
    def backward(ctx, grad_output):
        ctx.log[ctx.key] = time.perf_counter()
        return grad_output, None, None


def profile_block(block, x):
    """(forward ms, backward ms) of ln_1, attention, ln_2 and the MLP of one block on x."""
    stamps, forward, names = {}, [], ["ln_1", "attn", "ln_2", "mlp"]
    h = Stamp.apply(x, stamps, -1)
    start = time.perf_counter()
    a = Stamp.apply(block.ln_1(h), stamps, 0)
    forward.append(time.perf_counter() - start)
    start = time.perf_counter()
    a = Stamp.apply(block.attn(a), stamps, 1)
    forward.append(time.perf_counter() - start)
    h = h + a
    start = time.perf_counter()
    m = Stamp.apply(block.ln_2(h), stamps, 2)
    forward.append(time.perf_counter() - start)
    start = time.perf_counter()
    m = Stamp.apply(block.mlp(m), stamps, 3)
    forward.append(time.perf_counter() - start)
    (h + m).sum().backward()
    backward = [stamps[k - 1] - stamps[k] if k else stamps[-1] - stamps[0] for k in range(4)]
    return {name: (f * 1e3, b * 1e3) for name, f, b in zip(names, forward, backward)}


stream = Tensor(rng.standard_normal((12, 64, 128)).astype(np.float32), requires_grad=True)
runs = [profile_block(gpt.blocks[0], stream) for _ in range(5)]
print(f"{'sub-layer':<12}{'fwd ms':>8}{'bwd ms':>8}      (one block, batch 12 x 64 tokens)")
for name in runs[0]:
    fwd = sorted(r[name][0] for r in runs)[2]
    bwd = sorted(r[name][1] for r in runs)[2]
    print(f"{name:<12}{fwd:>8.2f}{bwd:>8.2f}")

# %% [markdown]
# The MLP and attention each hold a matmul or four; the MLP is also where GELU runs on a
# `(768, 512)` activation forward and backward, and GELU — an erf, an exp and a handful of
# element-wise passes — can cost as much as the matmuls around it. LayerNorm runs nine times per
# step: composed from Tensor ops (section 1) it is a dozen nodes each time, which is why module 16
# fuses it (with module 16 in the package, this table times its fused kernels; under
# `use_fused(False)` it times this module's own compositions). What is *not* in this table is
# just as real: every temporary array NumPy allocates. A GPT step makes a few hundred of them,
# many over a megabyte.
#
# ### The allocator: a systems surprise
#
# What a per-layer table cannot show is the cost of the memory itself. A training step of this
# model allocates a few hundred NumPy temporaries, many over a megabyte, and glibc's `malloc`
# hands large ones straight back to the operating system when they are freed — so the next step
# page-faults fresh, zero-filled pages all over again. Module 16 (acceleration) measures that and
# adds `keep_freed_memory()`, which the 2017 milestone and `benchmarks/gpt_step.py` call before
# training: part of making a step fast is not doing work the mathematics never asked for.

# %% [markdown]
# ### Activation memory vs batch × context
#
# Parameters are fixed (0.8M floats, 3 MB here); what grows with the work is the memory that
# backward needs: every op keeps its inputs or outputs until the gradient has passed. Most of it is
# proportional to the number of tokens `B·T` (the residual stream, the 4x-wide MLP activations, q,
# k, v), but attention also keeps a `(B, n_head, T, T)` matrix of probabilities per layer, which
# grows with `B·T²`. Measured below with `tracemalloc`, which sees NumPy's allocations: the memory
# still held after a forward pass whose graph is kept for backward.

# %%
#| analysis
import tracemalloc


def activation_megabytes(batch: int, t: int) -> float:
    idx = Tensor(rng.integers(0, 65, (batch, t)))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _, loss = gpt(idx, idx)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del loss
    return held / 2**20


print(f"{'batch':>6}{'context':>9}{'tokens':>8}{'graph MB':>10}{'KB/token':>10}")
for batch, t in ((4, 64), (12, 64), (24, 64), (12, 16), (12, 32)):
    mb = activation_megabytes(batch, t)
    print(f"{batch:>6}{t:>9}{batch * t:>8}{mb:>10.1f}{mb * 1024 / (batch * t):>10.1f}")
print("per token about constant at a fixed context; longer contexts add the T x T attention maps")

# %% [markdown]
# Doubling the batch doubles the memory; doubling the context more than doubles it once the
# `T × T` attention matrices matter (at `T = 1024`, GPT-2's context, each layer's probabilities
# are `n_head · T²` floats per sequence — 48 MB for 12 heads). That is why long-context models
# recompute attention in backward instead of storing it (FlashAttention), and why module 17's
# quantization and module 15's cache care about memory as much as FLOPs.

# %% [markdown]
# ## Reflection
#
# **Q1.** LayerNorm normalises each token over its features; BatchNorm (module 09) normalises each
# feature over the batch. Give two concrete reasons, from training and from generation, why a
# language model uses LayerNorm. What would go wrong at generation time with BatchNorm in
# training mode?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** The Shakespeare model has about 0.8M parameters and its training step processes 768
# tokens. Using 6N FLOPs per token, estimate the GFLOP of one step and, from the analysis above,
# what fraction of the step your machine spends on matrix multiplication. Where would you look
# first to make the step faster, and why is "make the matmuls faster" probably not the answer?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** Remove the residual connections from `TransformerBlock` in your head (`x = attn(ln_1(x))`,
# `x = mlp(ln_2(x))`). What happens to the gradient that reaches the embeddings in a 12-layer model,
# and why does the scaled initialisation of `c_proj` (`0.02/sqrt(2·n_layer)`) only make sense *with*
# residuals?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** Weight tying makes `lm_head.weight` the same Parameter as `wte.weight`. How many
# parameters does it save in GPT-2 small (vocabulary 50,257, n_embd 768), and what fraction of the
# 124M is that? The tied table receives gradient from two places in one backward pass: which two,
# and which part of the autograd engine makes sure both arrive?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - **LayerNorm** standardises each token's features (biased variance, eps inside the square
#   root) and applies a learned gain and bias; composed from Tensor ops, autograd derives its
#   backward `dx = r·(g − mean(g) − x̂·mean(g·x̂))`, and module 16 writes that formula as one
#   fused `Function` that the package uses by default.
# - A **pre-norm block** is `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`: the residual stream
#   carries an identity path for gradients; each branch reads it through its own LayerNorm.
# - **GPT** = token + position embeddings, `n_layer` blocks, a final LayerNorm and a head tied to
#   the token table; GPT-2's initialisation (normal(0, 0.02), residual projections scaled by
#   `1/sqrt(2·n_layer)`) starts it at a loss of about `ln(vocab_size)`.
# - **Generation** samples one token at a time from `softmax(logits / temperature)`, optionally
#   restricted to the top k, with a seeded generator, cropping the context to `block_size`.
# - Training costs **≈ 6N FLOPs per token**; on a CPU in NumPy, GELU, LayerNorm and memory
#   traffic (including the allocator) take a large share of the step next to the matmuls.
# - Next: milestones/2017_transformer trains this model on Shakespeare, Python and dialogue; then
#   module 14 (profiling) turns the measurements of section 5 into tools.
