"""jobhub backend for the GA4GH Workflow Execution Service (WES) API.

WES is the standard API in front of Cromwell, Toil, Nextflow, Arvados and the reference
`wes-service`. This plugin uses only jobhub's public plugin API, as a third party's would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobhub import hookimpl


@hookimpl
def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
    from jobhub_wes.adapter import WesAdapter

    register(WesAdapter)


@hookimpl
def jobhub_register_emulators(register: Callable[[Any], None]) -> None:
    from jobhub_wes.emulator import WesEmulator

    register(WesEmulator)
