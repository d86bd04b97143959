"""ASR service: utterance audio -> transcript (pocketsphinx in lite, faster-whisper in full)."""
