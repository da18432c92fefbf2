"""Assembling the final image in the Dockerfile's build stage; not part of the action at run time."""
