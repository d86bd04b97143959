from mrrrme.runtime import run_main
from services.fusion.service import FusionService
from services.fusion.settings import FusionSettings

run_main(FusionSettings, FusionService)
