"""The source registry: valid entries load, invalid ones are reported without harming others."""

import pytest

from hubspot_assets.registry import RegistryError, UnknownSourceError, load_registry


def write(tmp_path, text):
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_valid_entry_with_tier_overrides_and_filters(tmp_path):
    registry = load_registry(write(tmp_path, """
sources:
  - id: acme
    token_env: HUBSPOT_TOKEN_ACME
    base_url: http://127.0.0.1:9999/
    tier: enterprise
    limits: {ten_second: 50, window_seconds: 1.5}
    include: [contacts, p123_cars]
"""))
    source = registry.get("acme")
    assert source.base_url == "http://127.0.0.1:9999"
    assert (source.budget.ten_second, source.budget.daily) == (50, 1_000_000)
    assert source.budget.window_seconds == 1.5
    assert source.wants("contacts") and source.wants("cars_any", "2-77", "p123_cars")
    assert not source.wants("companies")
    assert registry.run_new_sources is True


def test_invalid_entries_do_not_disturb_valid_ones(tmp_path):
    registry = load_registry(write(tmp_path, """
run_new_sources: false
sources:
  - id: good
    token_env: TOKEN_GOOD
  - id: ../x
    token_env: TOKEN_X
  - id: badtier
    token_env: TOKEN_B
    tier: platinum
  - id: leaked
    token_env: pat-na1-0000
  - id: dup
    token_env: A
  - id: dup
    token_env: B
  - just a string
"""))
    assert set(registry.sources) == {"good"}
    assert registry.run_new_sources is False
    assert "not a valid source id" in registry.problems["../x"]
    assert "platinum" in registry.problems["badtier"]
    assert "environment variable" in registry.problems["leaked"]
    assert "more than once" in registry.problems["dup"]
    assert "#7" in registry.problems
    with pytest.raises(RegistryError, match="badtier.*invalid"):
        registry.get("badtier")


@pytest.mark.parametrize("bad_id", ["", "$x", "a.b", "a b", "x" * 65, "é", "-lead"])
def test_source_ids_that_cannot_name_a_collection_are_rejected(tmp_path, bad_id):
    registry = load_registry(write(tmp_path, f'sources:\n  - {{id: "{bad_id}", token_env: T}}\n'))
    assert not registry.sources
    assert "valid source id" in next(iter(registry.problems.values()))


def test_unknown_source_names_the_known_ones_and_the_fix(tmp_path):
    registry = load_registry(write(tmp_path, "sources:\n  - {id: a, token_env: T}\n"))
    with pytest.raises(UnknownSourceError, match=r"unknown source id 'zz'.*declares a.*Add it"):
        registry.get("zz")


def test_malformed_yaml_and_missing_file_are_clear(tmp_path):
    with pytest.raises(RegistryError, match="not valid YAML at line"):
        load_registry(write(tmp_path, "sources:\n  - id: [unclosed\n"))
    with pytest.raises(RegistryError, match="does not exist.*HUBSPOT_SOURCES_FILE"):
        load_registry(tmp_path / "nope.yaml")
    with pytest.raises(RegistryError, match="'sources:' list"):
        load_registry(write(tmp_path, "just: text\n"))


def test_missing_token_variable_names_it_without_a_value(tmp_path, monkeypatch):
    registry = load_registry(write(tmp_path, "sources:\n  - {id: a, token_env: HS_TOKEN_A}\n"))
    monkeypatch.delenv("HS_TOKEN_A", raising=False)
    with pytest.raises(RegistryError, match="HS_TOKEN_A is not set"):
        registry.get("a").token()
    monkeypatch.setenv("HS_TOKEN_A", "sandbox-token-xyz")
    assert registry.get("a").token() == "sandbox-token-xyz"


@pytest.mark.parametrize("field, value, named", [
    ("base_url", "https://api.hubapi.com/crm", "no credentials, path or query"),
    ("base_url", "https://user:pw@api.hubapi.com", "(hidden)"),
    ("base_url", "api.hubapi.com", "http(s) URL"),
    ("include", "[' contacts']", "whitespace around them"),
    ("exclude", "quotes", "exclude must be a list"),
])
def test_bad_fields_are_named_with_the_fix(tmp_path, field, value, named):
    registry = load_registry(write(tmp_path, f"""
sources:
  - id: acme
    token_env: HUBSPOT_TOKEN_ACME
    {field}: {value if value.startswith("[") else repr(value)}
"""))
    assert field in registry.problems["acme"] and named in registry.problems["acme"]
    assert "pw@" not in registry.problems["acme"]


def test_include_and_exclude_together_are_rejected(tmp_path):
    registry = load_registry(write(tmp_path, """
sources:
  - id: acme
    token_env: HUBSPOT_TOKEN_ACME
    include: [contacts]
    exclude: [quotes]
"""))
    assert "include and exclude are both set" in registry.problems["acme"]


@pytest.mark.parametrize("value", ["tok\n", " tok", "to k"])
def test_a_token_with_whitespace_is_refused_naming_the_variable(tmp_path, monkeypatch, value):
    source = load_registry(write(tmp_path, "sources:\n  - id: acme\n    token_env: T_ACME\n")
                           ).get("acme")
    monkeypatch.setenv("T_ACME", value)
    with pytest.raises(RegistryError, match="T_ACME.*whitespace or a newline"):
        source.token()


def test_property_history_is_opt_in_per_type_all_or_a_list(tmp_path):
    registry = load_registry(write(tmp_path, """
sources:
  - id: plain
    token_env: T_PLAIN
  - id: history
    token_env: T_HISTORY
    property_history: {contacts: all, deals: [dealstage, amount]}
  - id: bad
    token_env: T_BAD
    property_history: {contacts: [" email"]}
  - id: worse
    token_env: T_WORSE
    property_history: [contacts]
"""))
    assert registry.get("plain").property_history == ()
    assert registry.get("history").property_history == (
        ("contacts", "all"), ("deals", ("dealstage", "amount")))
    for bad in ("bad", "worse"):
        assert "property_history must map object types" in registry.problems[bad]


def test_events_lookback_per_source_with_a_file_wide_default(tmp_path):
    registry = load_registry(write(tmp_path, """
events_lookback_hours: 6
sources:
  - id: plain
    token_env: T1
  - id: slow_sender
    token_env: T2
    events_lookback_hours: 72
  - id: broken
    token_env: T3
    events_lookback_hours: -1
"""))
    assert registry.get("plain").events_lookback_hours == 6
    assert registry.get("slow_sender").events_lookback_hours == 72
    assert "events_lookback_hours must be a number of hours" in registry.problems["broken"]
    default = load_registry(write(tmp_path, "sources:\n  - id: a\n    token_env: T\n"))
    assert default.get("a").events_lookback_hours == 24
    with pytest.raises(RegistryError, match="events_lookback_hours"):
        load_registry(write(tmp_path, "events_lookback_hours: yes\nsources: []\n"))
def test_schedules_come_from_the_registry_defaults_and_each_entry(tmp_path):
    registry = load_registry(write(tmp_path, """
schedule: {timezone: Europe/Berlin, sync: "*/30 * * * *", full_resync: "0 2 * * 6"}
sources:
  - id: inherits
    token_env: TOKEN_A
  - id: own
    token_env: TOKEN_B
    schedule: {sync: "0 6 * * *", full_resync: off, max_lag: 1d}
"""))
    inherits, own = registry.get("inherits").schedule, registry.get("own").schedule
    assert (inherits.sync.cron, inherits.sync.timezone) == ("*/30 * * * *", "Europe/Berlin")
    assert inherits.full_resync.cron == "0 2 * * 6"
    assert (own.sync.cron, own.sync.timezone, own.full_resync) == ("0 6 * * *", "Europe/Berlin",
                                                                  None)
    assert own.allowed_lag().days == 1


def test_a_bad_cron_in_an_entry_names_the_source_the_field_and_the_fix(tmp_path):
    registry = load_registry(write(tmp_path, """
sources:
  - id: good
    token_env: TOKEN_GOOD
  - id: bad
    token_env: TOKEN_BAD
    schedule: {sync: "0 25 * * *"}
"""))
    assert set(registry.sources) == {"good"}
    with pytest.raises(RegistryError) as caught:
        registry.get("bad")
    message = str(caught.value)
    for part in ("source 'bad'", "schedule.sync", "'0 25 * * *'", "five fields", "false"):
        assert part in message, message


def test_a_bad_registry_wide_schedule_is_fatal_and_named(tmp_path):
    path = write(tmp_path, """
schedule: {sync: "every hour"}
sources:
  - id: good
    token_env: TOKEN_GOOD
""")
    with pytest.raises(RegistryError, match=r"sources.yaml: schedule.sync: 'every hour'"):
        load_registry(path)
