"""Shared pytest setup for the generator tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ray: needs Ray installed (CI installs polyocr[ray]); fails, never skips, without it")


# --- fonts (polyocr.synth.fonts) ---------------------------------------------------------------

@pytest.fixture(scope="session")
def font_cache(tmp_path_factory: pytest.TempPathFactory):
    """A private cmap cache, so the tests neither read nor write ~/.cache."""
    return tmp_path_factory.mktemp("fonts") / "fonts-v1.json"


@pytest.fixture(scope="session")
def font_library(font_cache):
    """One cold scan of the installed fonts (~15 s on 2 cores), shared by every font test."""
    from polyocr.synth.fonts import FontLibrary

    return FontLibrary.scan(cache=font_cache)
