"""The native part of tpfs: the extension modules setuptools builds.

Everything else about the package is in pyproject.toml. The extension links
libtraceevent (Debian's libtraceevent-dev: headers in /usr/include/traceevent).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("tpfs.tracefs.trace._render", ["tpfs/tracefs/trace/_render.c"],
              include_dirs=["/usr/include/traceevent"], libraries=["traceevent"],
              extra_compile_args=["-O2", "-Wall", "-Wextra"]),
])
