"""`python -m diffusion.push`: publish a checkpoint or the app to the Hugging Face Hub
(see `diffusion.hub.publish` for the flags)."""
import sys

from .hub.publish import main

if __name__ == "__main__":
    sys.exit(main())
