"""tinytorch.text: the language-model part of the course (modules 10-13). Re-exports only.

Each submodule is generated from its module: text.tokenization (10), text.embeddings (11),
text.attention (12), text.transformers (13).
"""

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
