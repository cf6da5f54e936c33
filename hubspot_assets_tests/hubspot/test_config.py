import pytest

from hubspot_assets.hubspot import ClientConfig, RateBudget
from hubspot_assets.hubspot.paging import ListingLimits


def test_repr_hides_token():
    config = ClientConfig(token="pat-na1-very-secret", limiter_backend="memory")
    assert "very-secret" not in repr(config)
    assert "very-secret" not in str(config)


def test_from_plain_values_with_tier():
    config = ClientConfig.from_values({
        "token": "t", "base_url": "http://x/", "redis_url": "redis://127.0.0.1:6379/0",
        "budget": {"tier": "enterprise", "safety_margin": 0.1}, "max_in_flight": 4,
        "limiter_dir": None})
    assert config.base_url == "http://x"
    assert config.resolved_backend == "redis"
    assert config.budget.daily == 1_000_000
    assert config.budget.usable_ten_second == 171


def test_defaults_are_professional_and_sqlite():
    config = ClientConfig(token="t")
    assert (config.budget.ten_second, config.budget.daily, config.budget.search_per_second) == (
        190, 625_000, 5)
    assert config.resolved_backend == "sqlite"
    assert config.max_url_length == 8000


@pytest.mark.parametrize("bad", [{"token": ""}, {"token": "t", "association_batch_size": 1001},
                                 {"token": "t", "limiter_backend": "redis"},
                                 {"token": "t", "unknown_key": 1},
                                 {"token": "t", "request_deadline": 0},
                                 {"token": "t", "max_listing_pages": 0},
                                 {"token": "t", "max_stalled_pages": 0}])
def test_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        ClientConfig.from_values(bad)


def test_budget_validation():
    with pytest.raises(ValueError):
        RateBudget(safety_margin=1.0)
    with pytest.raises(ValueError):
        RateBudget.for_tier("platinum")


def test_a_bad_setting_never_echoes_the_token():
    secret = "pat-na1-never-in-errors-0123456789"
    for bad in ({"limiter_backend": "redis"}, {"max_in_flight": 0}, {"nonsense": 1},
                {"limiter_backend": "disk"}):
        with pytest.raises(ValueError) as info:
            ClientConfig(token=secret, **bad)
        assert secret not in str(info.value) and secret not in repr(info.value)


def test_listing_limits_default_to_the_settings():
    config = ClientConfig(token="t")
    assert (config.request_deadline, config.max_listing_pages, config.max_stalled_pages) == (
        120.0, 1_000_000, 10)
    assert ListingLimits() == ListingLimits.of(config)
