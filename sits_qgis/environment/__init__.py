"""The engine environment: a virtual environment of its own, made from inside QGIS.

Imported in QGIS's process, so the standard library only. ``layout`` says where an
environment lives and how its lock is identified, ``probe`` checks an environment
(made here or pointed at by the user) in a subprocess, ``build`` makes one with pip
from the shipped, hash-pinned lock, online or from a wheelhouse, atomically.
"""
