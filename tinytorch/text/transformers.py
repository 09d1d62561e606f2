# Generated from modules/13_transformers/transformers.py by `tito export`. Do not edit: edit the module.

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
        hidden = self.c_fc(rows)
        activated = accelerated("fused_gelu", hidden)
        if activated is NotImplemented:
            activated = gelu(hidden)
        out = self.dropout(self.c_proj(activated))
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
        x = x + self.attn(self.ln_1(x), kv_cache, layer_idx)
        x = x + self.mlp(self.ln_2(x))
        return x


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
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = np.partition(scaled, -top_k, axis=-1)[:, -top_k, None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probs = softmax(Tensor(scaled), -1).data
    u = generator.random((probs.shape[0], 1))
    picked = (np.cumsum(probs, axis=-1) <= u).sum(axis=-1)
    return np.minimum(picked, probs.shape[-1] - 1).astype(np.int64)


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
        self.lm_head.weight = self.wte.weight
        for module in self.modules():
            if isinstance(module, (Linear, Embedding)):
                normal_(module.weight, 0.0, 0.02)
            if isinstance(module, Linear) and module.bias is not None:
                zeros_(module.bias)
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                normal_(param, 0.0, 0.02 / math.sqrt(2 * c.n_layer))

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
        x = self.drop(self.wte(idx) + self.wpe(arange(start, start + t)))
        for i, block in enumerate(self.blocks):
            x = block(x, kv_cache, i)
        logits = self.lm_head(self.ln_f(x).reshape(batch * t, self.config.n_embd))
        loss = None
        if targets is not None:  # module 16's fused softmax + cross-entropy when it is on
            loss = accelerated("softmax_cross_entropy", logits, targets.reshape(batch * t), -1)
            if loss is NotImplemented:
                loss = cross_entropy(logits, targets.reshape(batch * t), ignore_index=-1)
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
                for _ in range(max_new_tokens):
                    context = tokens[:, -self.config.block_size:]
                    logits, _ = self(Tensor(context))
                    nxt = sample_next(logits.data[:, -1, :], temperature, top_k, rng)
                    tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
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
