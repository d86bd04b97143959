"""TTS service: reply sentences -> speech plus an Oculus viseme track (piper in lite, XTTS v2 in full)."""
