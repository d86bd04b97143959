from mrrrme.runtime import run_main
from services.asr.service import AsrService
from services.asr.settings import AsrSettings

run_main(AsrSettings, AsrService)
