"""Can I turn text into tokens and back without losing a character?"""

REQUIRES = ["10_tokenization"]

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer"


def test_character_and_bpe_tokenizers_round_trip():
    from tinytorch.text import BPETokenizer, CharTokenizer

    chars = CharTokenizer.from_text(TEXT)
    assert chars.decode(chars.encode(TEXT)) == TEXT, "CharTokenizer: decode(encode(text)) must give the text back"
    bpe = BPETokenizer().train(TEXT * 4, vocab_size=300)
    ids = bpe.encode(TEXT, special=False)
    assert len(ids) < len(TEXT.encode("utf-8")), "BPE merges should make fewer tokens than bytes"
    assert bpe.decode(ids) == TEXT, "BPETokenizer: decode(encode(text)) must give the text back"
