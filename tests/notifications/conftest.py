from tests.matching.test_matching import offer  # noqa: F401  (a fixture: published offerings)
