"""Voice service: utterance audio -> voice emotion (prosody rule in lite, HuBERT in full)."""
