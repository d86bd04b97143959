from services.voice.service import main

main()
