import sys

from qujat.cli import main

sys.exit(main())
