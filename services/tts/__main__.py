from mrrrme.runtime import run_main
from services.tts.service import TtsService
from services.tts.settings import TtsSettings

run_main(TtsSettings, TtsService)
