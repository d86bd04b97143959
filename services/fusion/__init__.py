"""Fusion service: joins each utterance's transcript, voice, text and face emotions, fuses them, and hands
the turn to dialogue; between turns, a rate-limited live estimate from the face alone."""
