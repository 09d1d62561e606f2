"""tinytorch.text: the language-model part of the course (modules 10-13). Re-exports only.

Each submodule is generated from its module: text.tokenization (10), text.embeddings (11),
text.attention (12), text.transformers (13).
"""

from tinytorch.text.attention import (  # noqa: F401
    CausalSelfAttention,
    MultiheadAttention,
    causal_mask,
    scaled_dot_product_attention,
)
from tinytorch.text.embeddings import (  # noqa: F401
    Embedding,
    PositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    embedding,
    sinusoidal_table,
)
from tinytorch.text.tokenization import (  # noqa: F401
    BPETokenizer,
    CharTokenizer,
    batch_blocks,
    load_shakespeare,
    load_tinypy,
    load_tinytalks,
    render_tinypy,
    render_tinytalks,
    tinytalks_prompt,
)
from tinytorch.text.transformers import (  # noqa: F401
    GPT,
    MLP,
    GPTConfig,
    LayerNorm,
    TransformerBlock,
    layer_norm,
    sample_next,
)
