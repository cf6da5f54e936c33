"""Shared fixtures: each area's fixtures live in hubspot_assets_tests/fixtures/."""

pytest_plugins = [
    "hubspot_assets_tests.fixtures.sandbox",
    "hubspot_assets_tests.fixtures.mongo",
    "hubspot_assets_tests.fixtures.services",
    "hubspot_assets_tests.fixtures.pipeline",
]
