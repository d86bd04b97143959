from mrrrme.runtime import run_main
from services.voice.service import VoiceService
from services.voice.settings import VoiceSettings

run_main(VoiceSettings, VoiceService)
