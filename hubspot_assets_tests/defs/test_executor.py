"""The run executor the code location declares: step processes under one shared limiter."""

import pytest

from hubspot_assets.defs.definitions import STEP_PRELOAD, executor_config, run_executor
from hubspot_assets.defs.resources import HubSpotSettings


def test_a_shared_limiter_runs_steps_in_forked_processes():
    assert run_executor(HubSpotSettings(limiter_backend="sqlite"), {}).name == "hubspot_executor"
    config = executor_config(HubSpotSettings(limiter_backend="sqlite"), {})
    assert config["max_concurrent"] == 4
    assert config["start_method"] == {"forkserver": {"preload_modules": list(STEP_PRELOAD)}}
    assert "hubspot_assets.defs" in STEP_PRELOAD
    redis = executor_config(HubSpotSettings(redis_url="redis://127.0.0.1:6379/0"),
                            {"HUBSPOT_STEP_PROCESSES": "6"})
    assert redis["max_concurrent"] == 6


def test_a_per_process_limiter_keeps_every_step_in_one_process():
    # Step processes would each get a budget of their own: 429s.
    executor = run_executor(HubSpotSettings(limiter_backend="memory"), {})
    assert executor.name == "in_process"


@pytest.mark.parametrize("value", ["0", "many", "-2", "1.5"])
def test_a_bad_step_process_count_names_the_variable_and_the_fix(value):
    with pytest.raises(ValueError, match="HUBSPOT_STEP_PROCESSES") as raised:
        run_executor(HubSpotSettings(), {"HUBSPOT_STEP_PROCESSES": value})
    assert "unset it" in str(raised.value)
