"""Test support shipped with geninv: the differential tester's instances and oracles.

:mod:`geninv.testing.exactref` (an independent exact evaluator and l_p comparison),
:mod:`geninv.testing.oracles` (rational brute force, one-latent breakpoint analysis,
certified bounds) and :mod:`geninv.testing.differential` (the runner) need only geninv's
own dependencies; :mod:`geninv.testing.strategies` needs Hypothesis (the ``dev`` extra).
Used by ``tests/test_fuzz.py`` and ``bench/fuzz.py``.
"""
