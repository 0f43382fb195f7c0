"""Proof-producing branch and bound for box and clamped real latents (backend ``bab``).

Stages: :mod:`.relax` (the node LP), :mod:`.search` (the tree search),
:mod:`.certificate` (the proof and its JSON), :mod:`.backend` (the backend).
Every *no* is checked by the independent :mod:`geninv.proofcheck` before it is
returned.
"""
