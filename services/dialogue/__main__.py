from services.dialogue.service import main

main()
