"""Can I train a tiny GPT that learns to continue a sentence?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd", "06_optimizers", "10_tokenization",
            "11_embeddings", "12_attention", "13_transformers"]  # fmt: skip

TEXT = "the cat sat on the mat. "


def test_a_tiny_gpt_memorizes_and_greedily_generates_a_sentence():
    import tinytorch
    import tinytorch.optim as optim
    from tinytorch.core.tensor import Tensor
    from tinytorch.text import GPT, CharTokenizer, GPTConfig

    tinytorch.manual_seed(0)
    tokens = CharTokenizer.from_text(TEXT)
    ids = np.array(tokens.encode(TEXT * 3))
    block = 16
    starts = np.arange(0, len(ids) - block - 1, 2)
    x, y = np.stack([ids[s : s + block] for s in starts]), np.stack([ids[s + 1 : s + block + 1] for s in starts])
    config = GPTConfig(block_size=block, vocab_size=len(tokens.vocab), n_layer=1, n_head=2, n_embd=32)
    model = GPT(config)
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    for _ in range(80):
        optimizer.zero_grad()
        _, loss = model(Tensor(x), Tensor(y))
        loss.backward()
        optimizer.step()
    assert float(loss.data) < 0.2, f"a 1-layer GPT should memorize a 24-character sentence, loss {float(loss.data):.3f}"
    logits, _ = model(Tensor(x))
    accuracy = float((logits.data.argmax(-1) == y).mean())
    assert accuracy > 0.9, f"it should predict over 90% of the next characters it trained on, got {accuracy:.0%}"
    prompt = Tensor(np.array([tokens.encode("the cat ")]))
    text = tokens.decode(model.generate(prompt, 8, temperature=0).data[0].tolist())
    assert text.startswith("the cat sat on "), f"greedy generation should continue the sentence, got {text!r}"
