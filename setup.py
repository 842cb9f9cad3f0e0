"""Only maps the top-level templates/ folder into the wheel as the package `qujat_templates`.

Everything else is in pyproject.toml; setuptools' `packages.find` cannot express a package whose
folder has another name, so the mapping is added here."""
from setuptools import setup
from setuptools.discovery import PackageFinder

PACKAGES = PackageFinder.find(include=["kazakhstan*", "docgen*", "signing*", "store*", "qujat*"])
setup(packages=[*PACKAGES, "qujat_templates"], package_dir={"qujat_templates": "templates"})
