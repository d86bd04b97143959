from mrrrme.runtime import run_main
from services.face.service import FaceService
from services.face.settings import FaceSettings

run_main(FaceSettings, FaceService)
