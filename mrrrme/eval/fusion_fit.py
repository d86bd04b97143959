"""`python -m mrrrme.eval fit-fusion`: learned fusion weights from a multimodal run's predictions.

The fitting sits beside the rules it fits, in `services/fusion/fit.py` (its docstring says how it
works); mrrrme/ never imports a service module, so this entry point finds it through the registry.
"""

from __future__ import annotations

from collections.abc import Sequence

from mrrrme import registry


def fit_fusion_command(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (the words after `fit-fusion`), fit, write the weights file and the report; the exit code."""
    command = registry.load_object("services.fusion.fit:fit_fusion_command")
    return int(command(None if argv is None else list(argv)))


main = fit_fusion_command
"""The name `python -m mrrrme.eval` looks for."""
