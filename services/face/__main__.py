from services.face.service import main

main()
