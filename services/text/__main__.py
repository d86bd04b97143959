from services.text.service import main

main()
