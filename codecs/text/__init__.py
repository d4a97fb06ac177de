"""Bytes/text codec: a causal byte Transformer mixed with adaptive context statistics."""
