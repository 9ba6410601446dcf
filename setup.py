"""The native part of tpfs: the extension modules setuptools builds.

Everything else about the package is in pyproject.toml. ``_render`` links
libtraceevent (Debian's libtraceevent-dev: headers in /usr/include/traceevent);
``_pages`` and ``_commit`` (reading and writing ring-buffer pages) are pure
computation for the kernel model and link nothing, and so is ``_fire`` (the
``fire`` file's parse and encode).
"""

from setuptools import Extension, setup

FLAGS = ["-O2", "-Wall", "-Wextra"]

setup(ext_modules=[
    Extension("tpfs.kernel._pages", ["tpfs/kernel/_pages.c"], extra_compile_args=FLAGS),
    Extension("tpfs.kernel._commit", ["tpfs/kernel/_commit.c"], extra_compile_args=FLAGS),
    Extension("tpfs.tracefs._fire", ["tpfs/tracefs/_fire.c"], extra_compile_args=FLAGS),
    Extension("tpfs.tracefs.trace._render", ["tpfs/tracefs/trace/_render.c"],
              include_dirs=["/usr/include/traceevent"], libraries=["traceevent"],
              extra_compile_args=FLAGS),
])
