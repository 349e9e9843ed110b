"""Building the controller image (`make image`) without a Docker engine.

Why a package: the same code builds the image for people (`python -m image build`)
and for the tests that run it (tests/image/), so what CI runs is what a user gets.
buildah (vfs storage, chroot isolation) builds the repository's Dockerfile; the
base is a parameter: an official `python:3.11-slim` by default in the Dockerfile,
or a base made here from Debian's packages with mmdebstrap (`base.py`), which is
the only base these machines can reach and the one the tests use.
"""
