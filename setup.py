"""Build of the optional C kernels (geninv._ckernels); the metadata is in pyproject.toml.

``optional=True``: without a C compiler (or Python headers) the install still
succeeds and geninv uses its numpy code (``geninv.kernels``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "geninv._ckernels",
            sources=["src/geninv/_ckernels.c"],
            optional=True,
        )
    ]
)
