"""Dialogue service: a fused turn -> an empathetic reply, streamed sentence by sentence."""
