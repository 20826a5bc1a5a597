"""Builds the Cython kernels. setuptools compiles the .pyx itself when Cython is installed (it is a
build requirement in pyproject.toml); `optional=True` lets an install without a C compiler succeed,
and then zhnlp runs on the pure-Python twin in zhnlp/_native/pure.py."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "zhnlp._native._kernels",
            ["zhnlp/_native/_kernels.pyx"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
