"""Resources: client settings declared once, set from Dagster config or the environment."""

import pytest

from hubspot_assets.defs.resources import (
    CLIENT_ENVIRONMENT,
    HubSpotResource,
    HubSpotSettings,
    settings_from_environment,
)
from hubspot_assets.hubspot.config import ClientSettings

SECRET = "pat-na1-resource-test-0000-secret"


def test_every_client_setting_is_a_resource_setting_with_its_description():
    resource_fields = HubSpotSettings.model_fields
    for name, field in ClientSettings.model_fields.items():
        assert name in resource_fields and field.description
        assert resource_fields[name].default == field.default
    assert set(CLIENT_ENVIRONMENT) <= set(resource_fields)


def test_the_environment_sets_knobs_and_a_bad_value_names_its_variable():
    settings = settings_from_environment({"HUBSPOT_MAX_IN_FLIGHT": " 3 ", "HUBSPOT_LIMITER_DIR": ""})
    assert settings.max_in_flight == 3 and settings.limiter_dir is None
    assert settings.progress_seconds == 10.0
    assert settings_from_environment({"HUBSPOT_PROGRESS_SECONDS": "0.5"}).progress_seconds == 0.5
    with pytest.raises(ValueError, match="HUBSPOT_PROGRESS_SECONDS='0'"):
        settings_from_environment({"HUBSPOT_PROGRESS_SECONDS": "0"})
    for value in ("0", "-1", "abc"):
        with pytest.raises(ValueError, match=f"HUBSPOT_MAX_IN_FLIGHT='{value}'.*unset it"):
            settings_from_environment({"HUBSPOT_MAX_IN_FLIGHT": value})
    with pytest.raises(ValueError, match="HUBSPOT_LIMITER_BACKEND='disk'"):
        settings_from_environment({"HUBSPOT_LIMITER_BACKEND": "disk"})


def test_the_client_gets_the_settings_the_source_and_the_margin(tmp_path, monkeypatch):
    registry = tmp_path / "sources.yaml"
    registry.write_text("sources:\n  - id: acme\n    token_env: HUBSPOT_TOKEN_ACME\n"
                        "    base_url: http://127.0.0.1:9\n    tier: enterprise\n")
    monkeypatch.setenv("HUBSPOT_TOKEN_ACME", SECRET)
    resource = HubSpotResource(sources_file=str(registry), settings=HubSpotSettings(
        limiter_backend="memory", max_in_flight=5, read_timeout=7.5, safety_margin=0.1))
    client = resource.open_client(resource.source("acme"))
    try:
        config = client.config
        assert (config.max_in_flight, config.read_timeout, config.resolved_backend) == (
            5, 7.5, "memory")
        assert config.base_url == "http://127.0.0.1:9" and config.source_label == "acme"
        assert config.budget.daily == 1_000_000 and config.budget.usable_ten_second == 171
        assert config.token_source == "$HUBSPOT_TOKEN_ACME"
        assert SECRET not in repr(config) and SECRET not in repr(resource)
    finally:
        client.close()
