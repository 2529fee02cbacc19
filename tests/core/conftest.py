import pytest

from tests.realdata import skip_realdata_without_data


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_realdata_without_data(items)
