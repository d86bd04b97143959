from mrrrme.runtime import run_main
from services.memory.service import MemoryService
from services.memory.settings import MemorySettings

run_main(MemorySettings, MemoryService)
