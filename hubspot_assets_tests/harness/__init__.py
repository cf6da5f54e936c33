"""Developer tooling: run the whole stack (sandbox, MongoDB stand-in, Dagster) locally.

Used by the demo (`python -m hubspot_assets_tests.harness.demo`) and by the end-to-end tests;
nothing in the code location imports it.
"""
