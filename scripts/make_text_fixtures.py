"""Write tests/fixtures/torch_text.npz: PyTorch's values and gradients for modules 11 and 12.

Run it with a Python that has torch 2.13 (the tests never import torch; CI only reads the .npz):

    /work/torchvenv/bin/python scripts/make_text_fixtures.py

Everything is float64 and small. Keys are `<case>/<what>`, arrays only (no pickle):

emb_*:   weight, ids, padding_idx (-100 = None), out, gout, grad_weight        F.embedding
sdpa_*:  query, key, value, attn_mask (absent = None; bool or float), is_causal, enable_gqa, scale (nan = None),
         out, gout, grad_query, grad_key, grad_value, grad_attn_mask (float masks only)
mha_*:   state/<name> for every state_dict entry (flattened as state.<name>), query, key, value
         (key/value absent = self-attention on query), key_padding_mask, attn_mask, batch_first, bias,
         num_heads, need_weights, average, out, weights (absent when need_weights=False), gout,
         grad_query (self-attention) or grad_query/grad_key/grad_value, grad.<param> for every parameter
csa_*:   nanoGPT's CausalSelfAttention written with torch ops: c_attn.weight/bias, c_proj.weight/bias, x,
         n_head, out, gout, grad_x, grad.<param>
tests/11_embeddings/test_embeddings_torch_parity.py and tests/12_attention/test_attention_torch_parity.py
read them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_text.npz"
rng = np.random.default_rng(20241111)
torch.manual_seed(1111)
arrays: dict[str, np.ndarray] = {}


def t(a, grad: bool = True) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def save(case: str, **values) -> None:
    for key, value in values.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        arrays[f"{case}/{key}"] = np.asarray(value)


def randn(*shape):
    return rng.standard_normal(shape)


# ----- embeddings --------------------------------------------------------------------------------
NO_PADDING = -100  # the saved padding_idx when there is none (-1 is a real value: the last row)
EMB = {
    "emb_repeats": dict(vocab=7, dim=4, ids=[[1, 3, 1, 1], [6, 0, 3, 1]], padding_idx=None),
    "emb_padding": dict(vocab=6, dim=3, ids=[[0, 2, 2, 5], [2, 1, 0, 0]], padding_idx=2),
    "emb_padding_negative": dict(vocab=5, dim=2, ids=[4, 4, 1, 0, 3], padding_idx=-1),
    "emb_3d_ids": dict(vocab=9, dim=3, ids=rng.integers(0, 9, (2, 3, 4)).tolist(), padding_idx=None),
    "emb_large_vocab": dict(vocab=600, dim=3, ids=rng.integers(0, 40, (3, 50)).tolist(), padding_idx=7),
}
for name, spec in EMB.items():
    weight = t(randn(spec["vocab"], spec["dim"]))
    ids = torch.tensor(spec["ids"], dtype=torch.long)
    out = F.embedding(ids, weight, padding_idx=spec["padding_idx"])
    gout = randn(*out.shape)
    out.backward(torch.tensor(gout))
    padding_idx = NO_PADDING if spec["padding_idx"] is None else spec["padding_idx"]
    save(name, weight=weight, ids=ids.numpy(), padding_idx=padding_idx, out=out, gout=gout, grad_weight=weight.grad)
layer = torch.nn.Embedding(10, 3, padding_idx=4)
save("emb_module_init", padding_row=layer.weight[4])

# ----- scaled dot-product attention ------------------------------------------------------------------
causal = np.tril(np.ones((4, 6), dtype=bool))
blocked = np.ones((5, 5), dtype=bool)
blocked[2] = False
minus_inf_row = np.zeros((4, 4))
minus_inf_row[1] = -np.inf
SDPA = {
    "sdpa_plain": dict(q=(2, 3, 4, 5), k=(2, 3, 6, 5), v=(2, 3, 6, 3)),
    "sdpa_3d": dict(q=(2, 4, 3), k=(2, 5, 3), v=(2, 5, 2)),
    "sdpa_2d": dict(q=(4, 3), k=(6, 3), v=(6, 3)),
    "sdpa_scale": dict(q=(2, 2, 4, 3), k=(2, 2, 4, 3), v=(2, 2, 4, 3), scale=0.37),
    "sdpa_causal_square": dict(q=(2, 2, 5, 4), k=(2, 2, 5, 4), v=(2, 2, 5, 4), is_causal=True),
    "sdpa_causal_wide": dict(q=(1, 2, 3, 4), k=(1, 2, 6, 4), v=(1, 2, 6, 2), is_causal=True),
    "sdpa_causal_tall": dict(q=(1, 2, 6, 4), k=(1, 2, 3, 4), v=(1, 2, 3, 2), is_causal=True),
    "sdpa_causal_scale": dict(q=(2, 1, 5, 3), k=(2, 1, 5, 3), v=(2, 1, 5, 3), is_causal=True, scale=1.5),
    "sdpa_bool": dict(q=(2, 2, 4, 3), k=(2, 2, 6, 3), v=(2, 2, 6, 3), mask=rng.random((4, 6)) > 0.4),
    "sdpa_bool_tril": dict(q=(1, 3, 4, 3), k=(1, 3, 6, 3), v=(1, 3, 6, 3), mask=causal),
    "sdpa_bool_broadcast_batch": dict(q=(2, 3, 4, 3), k=(2, 3, 5, 3), v=(2, 3, 5, 2),
                                      mask=rng.random((2, 1, 4, 5)) > 0.3),
    "sdpa_bool_keys_only": dict(q=(2, 2, 4, 3), k=(2, 2, 5, 3), v=(2, 2, 5, 3), mask=rng.random((2, 1, 1, 5)) > 0.3),
    "sdpa_bool_fully_masked_row": dict(q=(2, 2, 5, 3), k=(2, 2, 5, 3), v=(2, 2, 5, 3), mask=blocked),
    "sdpa_float": dict(q=(2, 2, 4, 3), k=(2, 2, 6, 3), v=(2, 2, 6, 3), mask=randn(4, 6), mask_grad=True),
    "sdpa_float_broadcast_heads": dict(q=(2, 3, 4, 3), k=(2, 3, 4, 3), v=(2, 3, 4, 3), mask=randn(1, 3, 1, 4),
                                       mask_grad=True),
    "sdpa_float_minus_inf_row": dict(q=(1, 2, 4, 3), k=(1, 2, 4, 3), v=(1, 2, 4, 3), mask=minus_inf_row),
    "sdpa_float_scale": dict(q=(2, 4, 3), k=(2, 5, 3), v=(2, 5, 4), mask=randn(2, 4, 5), scale=0.8, mask_grad=True),
    "sdpa_gqa": dict(q=(2, 6, 4, 3), k=(2, 2, 5, 3), v=(2, 2, 5, 2), gqa=True),
    "sdpa_gqa_causal": dict(q=(1, 4, 5, 3), k=(1, 2, 5, 3), v=(1, 2, 5, 3), gqa=True, is_causal=True),
    "sdpa_gqa_head_mask": dict(q=(2, 6, 4, 3), k=(2, 3, 5, 3), v=(2, 3, 5, 2), gqa=True, mask=randn(6, 4, 5),
                               mask_grad=True),
    "sdpa_gqa_batch_bool_mask": dict(q=(2, 4, 4, 3), k=(2, 1, 6, 3), v=(2, 1, 6, 3), gqa=True,
                                     mask=rng.random((2, 1, 4, 6)) > 0.3),
    "sdpa_gqa_3d": dict(q=(6, 4, 3), k=(2, 5, 3), v=(2, 5, 2), gqa=True),
}
for name, spec in SDPA.items():
    q, k, v = t(randn(*spec["q"])), t(randn(*spec["k"])), t(randn(*spec["v"]))
    mask = spec.get("mask")
    mask_t = None
    if mask is not None:
        mask_t = torch.tensor(mask) if mask.dtype == bool else t(mask, grad=spec.get("mask_grad", False))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_t, is_causal=spec.get("is_causal", False),
                                         scale=spec.get("scale"), enable_gqa=spec.get("gqa", False))
    gout = randn(*out.shape)
    out.backward(torch.tensor(gout))
    extra = {}
    if mask is not None:
        extra["attn_mask"] = mask
        if mask_t.requires_grad:
            extra["grad_attn_mask"] = mask_t.grad
    save(name, query=q, key=k, value=v, is_causal=spec.get("is_causal", False), enable_gqa=spec.get("gqa", False),
         scale=np.nan if spec.get("scale") is None else spec["scale"], out=out, gout=gout, grad_query=q.grad,
         grad_key=k.grad, grad_value=v.grad, **extra)

# ----- nn.MultiheadAttention ---------------------------------------------------------------------------
MHA = {
    "mha_self_seq_first": dict(E=8, H=2, L=5, S=5, N=3, batch_first=False, self_attention=True),
    "mha_self_batch_first": dict(E=8, H=4, L=4, S=4, N=2, batch_first=True, self_attention=True),
    "mha_cross_batch_first": dict(E=6, H=3, L=3, S=5, N=2, batch_first=True),
    "mha_no_bias": dict(E=8, H=2, L=4, S=4, N=2, batch_first=False, bias=False, self_attention=True),
    "mha_per_head_weights": dict(E=8, H=2, L=4, S=6, N=2, batch_first=True, average=False),
    "mha_no_weights": dict(E=8, H=2, L=4, S=4, N=2, batch_first=False, need_weights=False, self_attention=True),
    "mha_causal_bool_mask": dict(E=8, H=2, L=5, S=5, N=2, batch_first=True, self_attention=True,
                                 attn_mask=~np.tril(np.ones((5, 5), dtype=bool))),
    "mha_key_padding": dict(E=6, H=2, L=4, S=5, N=2, batch_first=False,
                            key_padding_mask=np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]], dtype=bool)),
    "mha_float_masks_3d": dict(E=6, H=2, L=3, S=4, N=2, batch_first=True, attn_mask=randn(4, 3, 4),
                               key_padding_mask=randn(2, 4)),
    "mha_unbatched": dict(E=6, H=3, L=4, S=4, N=None, batch_first=False, self_attention=True),
    # a sequence whose every key is padding: PyTorch gives nan with need_weights, zero attention without
    "mha_fully_padded_weights": dict(E=4, H=2, L=3, S=3, N=2, batch_first=True, self_attention=True,
                                     key_padding_mask=np.array([[1, 1, 1], [0, 0, 1]], dtype=bool)),
    "mha_fully_padded_no_weights": dict(E=4, H=2, L=3, S=3, N=2, batch_first=True, self_attention=True,
                                        need_weights=False,
                                        key_padding_mask=np.array([[1, 1, 1], [0, 0, 1]], dtype=bool)),
}
for name, spec in MHA.items():
    E, H, L, S, N = spec["E"], spec["H"], spec["L"], spec["S"], spec["N"]
    bias = spec.get("bias", True)
    mha = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=spec["batch_first"], dtype=torch.float64)
    with torch.no_grad():  # make the biases non-zero so that their layout is tested too
        for param_name, param in mha.named_parameters():
            if "bias" in param_name:
                param.copy_(torch.tensor(randn(*param.shape)))
    mha.eval()

    def shape(length):
        if N is None:
            return (length, E)
        return (N, length, E) if spec["batch_first"] else (length, N, E)
    query = t(randn(*shape(L)))
    if spec.get("self_attention"):
        key = value = query
    else:
        key, value = t(randn(*shape(S))), t(randn(*shape(S)))
    kpm = spec.get("key_padding_mask")
    am = spec.get("attn_mask")
    to_t = (lambda m: None if m is None else torch.tensor(m) if m.dtype == bool else t(m, grad=False))
    need_weights = spec.get("need_weights", True)
    out, weights = mha(query, key, value, key_padding_mask=to_t(kpm), need_weights=need_weights,
                       attn_mask=to_t(am), average_attn_weights=spec.get("average", True))
    gout = randn(*out.shape)
    out.backward(torch.tensor(gout))
    values = {f"state.{k}": v for k, v in mha.state_dict().items()}
    values.update({f"grad.{k}": p.grad for k, p in mha.named_parameters()})
    values.update(query=query, num_heads=H, batch_first=spec["batch_first"], bias=bias, need_weights=need_weights,
                  average=spec.get("average", True), out=out, gout=gout, grad_query=query.grad)
    if not spec.get("self_attention"):
        values.update(key=key, value=value, grad_key=key.grad, grad_value=value.grad)
    if weights is not None:
        values["weights"] = weights
    if kpm is not None:
        values["key_padding_mask"] = kpm
    if am is not None:
        values["attn_mask"] = am
    save(name, **values)

# ----- nanoGPT's CausalSelfAttention, with torch ops ---------------------------------------------------
for name, (B, T, E, H, bias) in {"csa_small": (2, 5, 8, 2, True), "csa_no_bias": (2, 4, 6, 3, False),
                                 "csa_one_head": (1, 6, 4, 1, True)}.items():
    c_attn, c_proj = torch.nn.Linear(E, 3 * E, bias=bias).double(), torch.nn.Linear(E, E, bias=bias).double()
    x = t(randn(B, T, E))
    q, k, v = c_attn(x).split(E, dim=2)
    q, k, v = (z.view(B, T, H, E // H).transpose(1, 2) for z in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out = c_proj(y.transpose(1, 2).contiguous().view(B, T, E))
    gout = randn(B, T, E)
    out.backward(torch.tensor(gout))
    values = {f"state.c_attn.{k}": v for k, v in c_attn.state_dict().items()}
    values.update({f"state.c_proj.{k}": v for k, v in c_proj.state_dict().items()})
    values.update({f"grad.c_attn.{k}": p.grad for k, p in c_attn.named_parameters()})
    values.update({f"grad.c_proj.{k}": p.grad for k, p in c_proj.named_parameters()})
    save(name, x=x, n_head=H, bias=bias, out=out, gout=gout, grad_x=x.grad, **values)

# sanity: the scale default is 1/sqrt(E)
eye = t(np.eye(2), grad=False)
assert math.isclose(float(F.scaled_dot_product_attention(eye, eye, eye)[0, 0]),
                    math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1))

OUT.parent.mkdir(parents=True, exist_ok=True)
tmp = OUT.with_name(OUT.name + ".tmp.npz")
np.savez_compressed(tmp, **arrays)
tmp.replace(OUT)
print(f"wrote {OUT} ({len(arrays)} arrays, torch {torch.__version__})")
