"""Can I generate text with a cached transformer?"""

import numpy as np

REQUIRES = ["01_tensor", "03_layers", "10_tokenization", "11_embeddings", "12_attention", "13_transformers",
            "15_memoization"]  # fmt: skip


def test_cached_greedy_decoding_writes_the_same_text_as_recomputing_everything():
    import tinytorch
    from tinytorch.core.tensor import Tensor
    from tinytorch.systems.memoization import KVCache, next_token_logits
    from tinytorch.text import GPT, CharTokenizer, GPTConfig

    tinytorch.manual_seed(0)
    tokens = CharTokenizer.from_text("abcdefghij klmnop")
    model = GPT(GPTConfig(block_size=32, vocab_size=len(tokens.vocab), n_layer=2, n_head=2, n_embd=16))
    prompt = np.array([tokens.encode("abc ")])
    slow = tokens.decode(model.generate(Tensor(prompt), 12, temperature=0).data[0].tolist())
    cache, ids = KVCache.for_model(model, batch_size=1), prompt
    with tinytorch.no_grad():  # a cache is for inference: no graph through stored keys
        for _ in range(12):
            ids = np.concatenate([ids, next_token_logits(model, ids, cache).argmax(-1)[:, None]], axis=1)
    fast = tokens.decode(ids[0].tolist())
    assert fast == slow, f"with the cache the model wrote {fast!r}, recomputing everything gave {slow!r}"
    assert cache.length == ids.shape[1] - 1, "the cache should hold every position but the newest token"
