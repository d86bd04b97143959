from mrrrme.runtime import run_main
from services.text.service import TextService
from services.text.settings import TextSettings

run_main(TextSettings, TextService)
