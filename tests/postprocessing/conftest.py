"""One PostProcessor (and one set of NeMo grammars, cached on disk) for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import theo_rtc.postprocessing as postprocessing
from theo_rtc.postprocessing import NemoITN, PostProcessor, nemo_installed

REPO = Path(__file__).resolve().parents[2]
# Same place as the other tests' model store: gitignored, survives between runs, built once per machine.
ITN_CACHE = Path(os.environ.get("THEO_ITN_CACHE_DIR", REPO / ".cache" / "theo-test-home" / "cache" / "itn"))

requires_nemo = pytest.mark.skipif(
    not nemo_installed(), reason="ITN extra not installed (pip install '.[itn]')"
)


@pytest.fixture(scope="session")
def processor() -> PostProcessor:
    proc = PostProcessor(itn=NemoITN(ITN_CACHE))
    proc.warm_up()
    return proc


@pytest.fixture
def shared_processor(processor: PostProcessor) -> Iterator[PostProcessor]:
    """Make ``get_postprocessor()`` (used by the CLI and the HTTP route) return the session's instance."""
    previous = postprocessing._default
    postprocessing._default = processor
    yield processor
    postprocessing._default = previous


@pytest.fixture
def no_nemo_processor(tmp_path: Path) -> PostProcessor:
    """A pipeline whose ITN stage behaves as if the extra were not installed."""
    itn = NemoITN(tmp_path)
    itn._installed = False
    return PostProcessor(itn=itn)
