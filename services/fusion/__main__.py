from services.fusion.service import main

main()
