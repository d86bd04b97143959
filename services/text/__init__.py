"""Text service: transcript -> text emotion (lexicon + embedding head in lite, DistilRoBERTa in full), plus rules."""
