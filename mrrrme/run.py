"""Entry point of `make run`: python -m mrrrme.run"""

import sys

from mrrrme.stack.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
