import sys

from qwen_lsp.cli import main

sys.exit(main())
