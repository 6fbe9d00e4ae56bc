import ponder
import ponder.errors as errors


def test_every_error_derives_from_ponder_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.PonderError)


def test_errors_all_is_complete() -> None:
    defined = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    assert defined == set(errors.__all__)


def test_package_all_names_exist() -> None:
    for name in ponder.__all__:
        assert hasattr(ponder, name), name


def test_exit_codes_distinguish_misuse_from_unavailability() -> None:
    assert errors.UnknownModelError("x").exit_code == 2
    assert errors.MissingWeightsError("x").exit_code == 3
    assert errors.BackendError("x").exit_code == 4
