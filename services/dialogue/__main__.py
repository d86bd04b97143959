from mrrrme.runtime import run_main
from services.dialogue.service import DialogueService
from services.dialogue.settings import DialogueSettings

run_main(DialogueSettings, DialogueService)
