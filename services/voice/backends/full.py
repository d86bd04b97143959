"""Full voice emotion: a HuBERT (or wav2vec2) audio classifier by Hugging Face id or local path.

superb/hubert-large-superb-er predicts IEMOCAP's neu/hap/ang/sad; any audio-classification checkpoint
whose labels `mrrrme.emotions.to_four` knows works the same way. A batch is padded to its longest clip
(the feature extractor returns the attention mask when the model wants one).
"""

from __future__ import annotations

import numpy as np

from mrrrme.hub import HubClassifier
from services.voice.settings import VoiceSettings


class HubertBackend(HubClassifier):
    def __init__(self, settings: VoiceSettings) -> None:
        super().__init__(
            settings.model,
            settings.device,
            "voice",
            model_class="AutoModelForAudioClassification",
            processor_class="AutoFeatureExtractor",
        )

    def classify(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        if not clips:
            return []
        return self.probabilities(
            self.processor(clips, sampling_rate=16000, padding=True, return_tensors="pt", return_attention_mask=True)
        )
